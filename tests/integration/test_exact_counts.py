"""Issue 2's acceptance: 10,000 events through the publisher, out of order within 2 minutes,
give exactly the published counts and backlogs in /warehouses of a real worker."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import pytest

from ordermon.config import Settings
from ordermon.devtools.bench import MIX
from ordermon.kafka import ensure_topics
from streams.events import ComplaintEvent, DispatchEvent, Event, OrderEvent, RefundEvent
from streams.flows import QUEUES
from streams.publisher import Publisher
from streams.timefmt import parse_rfc3339_ms
from tests.integration.live import Deployment, wait_for

pytestmark = pytest.mark.integration

T0 = parse_rfc3339_ms("2026-11-22T08:00:00Z") or 0
WAREHOUSES = ["BJ-01", "SH-02", "GZ-03", "CD-04", "WH-05", "XA-06", "SZ-07"]
STATUSES = MIX  # (topic, status, weight): the same mix as the benchmark


def make_event(n: int, topic: str, status: str, wh: str, at_ms: int) -> Event:
    common = {"event_id": f"ev-{n}", "order_id": f"o-{n}", "warehouse": wh, "occurred_at_ms": at_ms}
    if topic == "orders":
        return OrderEvent(status=status, amount=12.5, items=1, **common)  # type: ignore[arg-type]
    if topic == "dispatches":
        return DispatchEvent(status=status, carrier="SF", **common)  # type: ignore[arg-type]
    if topic == "complaints":
        return ComplaintEvent(status=status, complaint_id=f"c-{n}", **common)  # type: ignore[arg-type]
    return RefundEvent(status=status, refund_id=f"r-{n}", amount=9.0, **common)  # type: ignore[arg-type]


def generate(n_events: int, seed: int) -> tuple[list[Event], Counter[tuple[str, str]]]:
    """Events with times spread over 30 minutes, sent out of order by up to 2 minutes."""
    rnd = random.Random(seed)
    weights = [w for _t, _s, w in STATUSES]
    events: list[tuple[float, Event]] = []
    truth: Counter[tuple[str, str]] = Counter()
    for n in range(n_events):
        topic, status, _w = rnd.choices(STATUSES, weights)[0]
        wh = rnd.choice(WAREHOUSES)
        at = T0 + rnd.randrange(30 * 60_000)
        events.append((at + rnd.uniform(0, 120_000), make_event(n, topic, status, wh, at)))
        truth[(wh, f"{topic}_{status}")] += 1
    events.sort(key=lambda pair: pair[0])  # send order: event time plus up to 2 minutes of jitter
    return [e for _k, e in events], truth


@pytest.mark.parametrize("path", ["batch", "stream"])
def test_ten_thousand_events_give_exact_counts_and_backlogs(
    deployment: Deployment, path: str
) -> None:
    """Both consumer paths: the batch path (the default) and Faust's per-message stream."""
    events, truth = generate(10_000, seed=7)
    settings = Settings.from_env(
        {"ORDERMON_KAFKA": deployment.bootstrap, "ORDERMON_TOPIC_PREFIX": deployment.prefix}
    )
    asyncio.run(ensure_topics(settings))
    worker = deployment.worker(ORDERMON_CONSUMER_PATH=path)
    worker.wait_ready()

    async def publish() -> None:
        async with Publisher(deployment.bootstrap, prefix=deployment.prefix) as pub:
            await pub.send_many(events)

    asyncio.run(publish())

    def all_counted() -> list[dict[str, object]] | None:
        statuses = worker.warehouses()
        counted = sum(sum(s["totals"].values()) for s in statuses)  # type: ignore[attr-defined]
        return statuses if counted >= len(events) else None

    statuses = wait_for(all_counted, 120, "all 10,000 events to be counted")
    by_wh = {s["warehouse"]: s for s in statuses}
    assert sorted(by_wh) == sorted(WAREHOUSES)
    for wh in WAREHOUSES:
        totals = by_wh[wh]["totals"]
        expected = {flow: truth[(wh, flow)] for flow in totals}
        assert totals == expected, wh
        for q in QUEUES:
            inflow = sum(truth[(wh, f)] for f in q.inflow)
            outflow = sum(truth[(wh, f)] for f in q.outflow)
            assert by_wh[wh]["queues"][q.name]["backlog"] == max(0, inflow - outflow), (wh, q.name)
        assert by_wh[wh]["backlog"] == by_wh[wh]["queues"]["dispatch"]["backlog"]
        assert by_wh[wh]["service_backlog"] == by_wh[wh]["queues"]["service"]["backlog"]
    # nothing else was counted, and /warehouses/{id} answers with the per-minute series
    assert sum(sum(s["totals"].values()) for s in statuses) == len(events)
