"""Issue 2's acceptance: 10,000 events of realistic traffic (every flow, topics up to a minute
apart in arrival order) through the publisher give exactly the published counts and backlogs in
/warehouses of a real worker."""

from __future__ import annotations

import asyncio

import pytest

from ordermon.streams.flows import QUEUES, STATUSES
from ordermon.streams.publisher import Publisher
from tests.integration.faults_lib import create_topics, generate
from tests.integration.live import Deployment, wait_for

pytestmark = pytest.mark.integration

WAREHOUSES = ["BJ-01", "SH-02", "GZ-03", "CD-04", "WH-05", "XA-06", "SZ-07"]


@pytest.mark.parametrize("path", ["batch", "stream"])
def test_ten_thousand_events_give_exact_counts_and_backlogs(
    deployment: Deployment, path: str
) -> None:
    """Both consumer paths: the batch path (the default) and Faust's per-message stream."""
    events, truth = generate(10_000, seed=7, warehouses=WAREHOUSES)
    assert {flow for _wh, flow in truth} == {f"{t}_{s}" for t, ss in STATUSES.items() for s in ss}
    create_topics(deployment.bootstrap, deployment.prefix)
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
