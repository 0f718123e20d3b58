"""A worker that stops counting says so, and where it waits (agents.worker.ingest.Ingest.stalled):
no batch handled for a minute while records wait to be read gives one WARNING line a minute,
with the records waiting and the await chain of the consumer's loop."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from faust.types import TP

from ordermon.agents.worker.ingest import STALLED_AFTER_S, Ingest

ORDERS = TP("orders", 0)


def ingest(highwater: int | None) -> Ingest:
    consumer = SimpleNamespace(
        assignment=lambda: {ORDERS},
        start_offsets={ORDERS: 10},
        highwater=lambda tp: highwater,
        _active_partitions={ORDERS},
        _paused_partitions=set(),
        _aligned_out={ORDERS},
    )
    app = SimpleNamespace(consumer=consumer, rebalancing=False)
    deps = SimpleNamespace(engine=None)
    topics = SimpleNamespace(names=SimpleNamespace(inputs=frozenset({"orders"})))
    return Ingest(app, deps, topics, store=None)  # type: ignore[arg-type]


async def _next_batch(stuck: asyncio.Future[Any]) -> None:
    await stuck  # a send that is never acknowledged, say


def test_a_minute_without_a_batch_while_records_wait_is_said_with_where_the_loop_waits() -> None:
    async def scenario() -> list[str | None]:
        worker = ingest(highwater=25)
        stuck: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        loop_task = asyncio.ensure_future(_next_batch(stuck))
        await asyncio.sleep(0)
        start = worker.handled_at
        said = [
            worker.stalled(start + STALLED_AFTER_S - 1),  # not yet
            worker.stalled(start + STALLED_AFTER_S + 1),
            worker.stalled(start + STALLED_AFTER_S + 2),  # once a minute
        ]
        loop_task.cancel()
        return said

    early, line, again = asyncio.run(scenario())
    assert early is None and again is None
    assert line is not None
    # what the consumer says of the partition: in Faust's sets, held back, and aiokafka's view
    assert "15 records wait, 0 partitions never fetched (orders[0] 15: active=True" in line
    assert "paused=False held_back=True" in line
    assert "aiokafka state unknown" in line  # no aiokafka consumer in this test
    assert "_next_batch@test_stalled.py" in line


def test_nothing_is_said_while_nothing_waits() -> None:
    worker = ingest(highwater=10)
    assert worker.stalled(worker.handled_at + 10 * STALLED_AFTER_S) is None


def test_a_partition_never_fetched_is_said_too() -> None:
    """A worker ready that never fetched a thing (the high-water marks stay unknown)."""
    worker = ingest(highwater=None)
    line = worker.stalled(worker.handled_at + STALLED_AFTER_S + 1)
    assert line is not None and "1 partitions never fetched (orders[0] never fetched" in line
