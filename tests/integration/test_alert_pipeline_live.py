"""Issue 3 end to end: a dispatch stall published to a real worker fires
`dispatch_backpressure` on `ordermon.alerts`, in /alerts, in the `ordermon_alert_active` gauge and
through a real Alertmanager to a webhook; the recovery resolves it everywhere."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from ordermon.config import Settings
from ordermon.kafka import ensure_topics
from ordermon.streams.events import DispatchEvent, Event, OrderEvent
from ordermon.streams.publisher import Publisher
from tests.integration.live import Deployment, get_json
from tests.integration.test_alertmanager_live import (  # noqa: F401 - fixtures
    LiveAlertmanager,
    Webhook,
    alertmanager,
    until,
    webhook,
)

pytestmark = pytest.mark.integration
WH = "WH-STALL"
# Settings under which the stall story fires within minutes of event time and resolves.
STALL_POLICY = {
    "ORDERMON_HORIZON_MINUTES": "5",
    "ORDERMON_LATENESS_SECONDS": "30",
    "ORDERMON_POLICY_FOR_MS": "3m",
    "ORDERMON_POLICY_CLEAR_HOLD_MS": "2m",
    "ORDERMON_POLICY_DISPATCH_MIN_BACKLOG": "20",
    "ORDERMON_POLICY_DISPATCH_DRAINED_BACKLOG": "5",
}
MINUTE = 60_000


def stall_story(now_ms: int) -> list[Event]:
    """An hour ending a minute ago: 10 orders a minute; the warehouse dispatches 12 a minute,
    stalls completely for minutes 10-30, then dispatches 30 a minute until the queue is empty.
    Every parcel is delivered two minutes after it leaves.

    The story's minutes are calendar minutes: a minute's orders and the dispatch at its 50th
    second fall in the same minute bucket, whatever the clock says when the test runs. (Shifted
    by some seconds, every minute would end with its last orders waiting: a standing queue of
    about 10, above the drained threshold of 5, and the episode would not resolve.)"""
    t0 = (now_ms // MINUTE - 61) * MINUTE
    events: list[Event] = []
    queue: list[str] = []
    n = 0
    for minute in range(60):
        base = t0 + minute * MINUTE
        for k in range(10):
            n += 1
            oid = f"o{n}"
            queue.append(oid)
            events.append(
                OrderEvent(
                    event_id=f"p{n}",
                    status="placed",
                    order_id=oid,
                    warehouse=WH,
                    occurred_at_ms=base + k * 5_000,
                )
            )
        capacity = 0 if 10 <= minute < 30 else (12 if minute < 10 else 30)
        for k in range(min(capacity, len(queue))):
            oid = queue.pop(0)
            at = base + 50_000 + k * 100
            for status, delay in (("dispatched", 0), ("delivered", 2 * MINUTE)):
                events.append(
                    DispatchEvent(
                        event_id=f"{status}-{oid}",
                        status=status,  # type: ignore[arg-type]
                        order_id=oid,
                        warehouse=WH,
                        occurred_at_ms=at + delay,
                    )
                )
    events = [e for e in events if e.occurred_at_ms < now_ms]
    events.sort(key=lambda e: e.occurred_at_ms)
    return events


def metric(url: str, name: str, labels: dict[str, str]) -> float | None:
    with urllib.request.urlopen(url + "/metrics", timeout=3) as answer:
        text = answer.read().decode()
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(name + "{"):
            got = ",".join(sorted(line[len(name) + 1 : line.index("}")].split(",")))
            if got == want:
                return float(line.rsplit(" ", 1)[1])
    return None


async def test_a_stall_fires_and_resolves_through_every_sink(
    deployment: Deployment, alertmanager: LiveAlertmanager, webhook: Webhook
) -> None:
    settings = Settings.from_env(
        {"ORDERMON_KAFKA": deployment.bootstrap, "ORDERMON_TOPIC_PREFIX": deployment.prefix}
    )
    await ensure_topics(settings)
    worker = deployment.worker(
        ORDERMON_ALERTMANAGER_URL=alertmanager.url,
        **STALL_POLICY,
    )
    await asyncio.to_thread(worker.wait_ready)

    consumer = AIOKafkaConsumer(
        f"{deployment.prefix}ordermon.alerts",
        bootstrap_servers=deployment.bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()
    try:
        async with Publisher(deployment.bootstrap, prefix=deployment.prefix) as pub:
            await pub.send_many(stall_story(int(time.time() * 1000)))

        messages: list[dict[str, Any]] = []

        async def collect_until_resolved() -> None:
            while not any(
                m["kind"] == "dispatch_backpressure" and m["state"] == "resolved" for m in messages
            ):
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    messages.extend(orjson.loads(r.value) for r in records)

        await asyncio.wait_for(collect_until_resolved(), 120)
    finally:
        await consumer.stop()

    dispatch = [m for m in messages if m["kind"] == "dispatch_backpressure"]
    assert dispatch[0]["state"] == "firing" and dispatch[-1]["state"] == "resolved"
    assert len({m["alert_id"] for m in dispatch}) == 1  # one episode
    fired = dispatch[0]
    assert fired["warehouse"] == WH and fired["signals"]["backlog"] >= 20
    assert "ended_at" in dispatch[-1]
    # the gauge and /alerts agree that nothing is firing any more
    assert get_json(worker.url + "/alerts") == []
    assert not metric(
        worker.url,
        "ordermon_alert_active",
        {"warehouse": WH, "kind": "dispatch_backpressure", "severity": fired["severity"]},
    )
    # Alertmanager notified the webhook of the firing alert and of its resolve
    await until(
        lambda: any(
            a["labels"]["alertname"] == "dispatch_backpressure" and a["status"] == "resolved"
            for n in webhook.notifications
            for a in n["alerts"]
        ),
        "the resolve to reach the webhook through Alertmanager",
        alertmanager.log,
    )
    statuses = [a["status"] for n in webhook.notifications for a in n["alerts"]]
    assert statuses[0] == "firing"
    assert webhook.notifications[0]["alerts"][0]["labels"]["warehouse"] == WH
