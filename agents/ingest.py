"""The one ingest agent: all four input topics (co-partitioned, keyed by warehouse) in batches.

Thin: decode/apply/evaluate happen in agents.pipeline; this module carries the outcome to the
dead-letter topic, the tables (changelogs), the metrics and the alert sinks."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from functools import partial
from typing import Any

from agents.detection import Detection
from agents.pipeline import Message, Outcome, Pipeline, Record
from agents.tables import backend
from agents.topics import deadletter, inputs, names
from ordermon.app import app, settings
from ordermon.delivery import deliver
from ordermon.policy import load_policy
from ordermon.runtime import runtime
from ordermon.transport import register_batch_path
from streams.codec import encode_deadletter

log = logging.getLogger(__name__)

runtime.evaluator = Detection(settings.flow, load_policy(os.environ))
pipeline = Pipeline(
    settings.flow,
    names,
    backend,
    evaluator=runtime.evaluator,
    max_warehouses=settings.max_warehouses,
    max_future_ms=settings.max_future_seconds * 1000,
    release_after_ms=settings.warehouse_idle_ms,
)
runtime.pipeline = pipeline


_read_to: dict[tuple[str, int], int] = {}  # (topic, partition) -> last offset processed


def caught_up_partitions() -> set[int] | None:
    """Partitions whose every assigned input topic has been read to its high-water mark; None
    when the consumer cannot tell (no consumer running: Faust's test context)."""
    try:
        assignment = app.consumer.assignment()
    except Exception:
        return None
    consumer = app.consumer
    seen: set[int] = set()
    behind: set[int] = set()
    for tp in assignment:
        if tp.topic not in names.inputs:
            continue
        seen.add(tp.partition)
        try:
            end = consumer.highwater(tp)
        except Exception:  # not fetched yet: unknown, so not caught up
            end = None
        if end is None or _read_to.get((tp.topic, tp.partition), -1) + 1 < end:
            behind.add(tp.partition)
    return seen - behind


_flushed_at = time.monotonic()


async def handle(records: Sequence[Record], *, flush: bool | None = None) -> bool:
    """Count one batch and carry its outcome on; both consumer paths end here.

    The changed records go to the tables (and their changelogs) when `flush` is True, or, when
    it is None, once ORDERMON_FLUSH_SECONDS have passed since the last time: a warehouse's head
    and busy minutes are then written once per interval, not once per batch. Returns whether
    they were written: only then may the offsets of the batches handled so far be committed."""
    global _flushed_at
    started = time.perf_counter()
    _read_to.update({(r.topic, r.partition): r.offset for r in records if r.offset is not None})
    now = time.monotonic()
    if flush is None:
        flush = now - _flushed_at >= settings.flush_seconds
    if flush:
        _flushed_at = now
    outcome = pipeline.process(
        records, now_ms=int(time.time() * 1000), caught_up=caught_up_partitions(), flush=flush
    )
    await carry(outcome, time.perf_counter() - started)
    return flush


# The worker's path: each fetched batch of the input topics, straight from the consumer
# (ordermon.transport), which acknowledges the offsets handled once `handle` says their records
# are written.
if settings.consumer_path == "batch":
    register_batch_path(app, names.inputs, handle)


@app.agent(inputs, name="ordermon.ingest")
async def ingest(stream: Any) -> None:
    """Faust's per-message path over the same topics: what Faust's test context drives, and
    what a worker with ORDERMON_CONSUMER_PATH=stream uses."""
    async for events in stream.take_events(settings.batch_size, within=settings.batch_seconds):
        await handle(
            [
                Message(
                    e.message.topic,
                    e.message.partition,
                    e.message.offset,
                    e.message.key,
                    e.message.value,
                )
                for e in events
            ],
            flush=True,  # Faust acknowledges these events when the next batch is taken
        )


async def carry(outcome: Outcome, seconds: float) -> None:
    """Hand a batch's outcome on: dead letters, table records (changelogs), metrics, alerts."""
    for dead in outcome.deadletters:
        await deliver(
            partial(deadletter.send, key=dead.source_topic.encode(), value=encode_deadletter(dead)),
            output="deadletter",
            what=f"the dead letter ({dead.reason}) of {dead.source_topic}[{dead.partition}]"
            f"@{dead.offset}, which stays at that offset,",
            on_failure=runtime.output_failed,
        )
    for write in outcome.writes:
        backend.write(write)
    await ebb()
    runtime.record(outcome, seconds)
    for alert in outcome.alerts:
        await runtime.publish(alert)


MAX_UNSENT_RECORDS = 5_000


async def ebb() -> None:
    """Backpressure: wait while more than MAX_UNSENT_RECORDS table records wait in Faust's
    producer buffer. A catch-up through hours of event time changes thousands of minute records a
    second, faster than they are sent; without this the buffer (and memory) grows without bound
    and the commit behind it waits. A broker that does not answer stalls counting here, as it
    must: nothing is committed that is not in the changelog."""
    buffer = app.producer.buffer
    while buffer.size > MAX_UNSENT_RECORDS:
        await buffer.flush_atmost(buffer.size - MAX_UNSENT_RECORDS)


@app.timer(interval=5.0)
async def tick() -> None:
    """Minutes that close without new events: a topic went quiet and the processing clock
    released it (ORDERMON_IDLE_AFTER_SECONDS)."""
    started = time.perf_counter()
    outcome = pipeline.tick(int(time.time() * 1000), caught_up=caught_up_partitions())
    if outcome.writes or outcome.alerts:
        await carry(outcome, time.perf_counter() - started)


@app.on_partitions_revoked.connect
async def _on_revoked(sender: Any, revoked: Any, **kwargs: Any) -> None:
    # The tables are the truth after a rebalance; the cache is rebuilt from them on demand.
    pipeline.forget()
    _read_to.clear()
