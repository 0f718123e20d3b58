"""The one ingest agent: all four input topics (co-partitioned, keyed by warehouse) in batches.

Thin: decode/apply/evaluate happen in agents.engine; this module carries the outcome to the
dead-letter topic, the tables (changelogs), the metrics and the alert sinks."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from ordermon.agents.engine import Message, Outcome, Record
from ordermon.agents.logic.flow import source_of
from ordermon.agents.worker.delivery import deliver
from ordermon.agents.worker.deps import Deps
from ordermon.agents.worker.tables import TableStore
from ordermon.agents.worker.topics import Topics
from ordermon.agents.worker.transport import fetch_state, register_batch_path
from ordermon.streams.codec import encode_deadletter

MAX_UNSENT_RECORDS = 5_000
EBB_POLL_S = 0.002  # how often `ebb` looks at the producer buffer while it is over the limit
STALLED_AFTER_S = 60.0  # no batch handled for this long while records wait: say where it waits

LOOP_STEPS = ("_drain_messages", "_next_batch", "handle", "carry", "ebb")

log = logging.getLogger(__name__)


def await_chain(task: asyncio.Task[Any]) -> list[str]:
    """Where a task waits: each coroutine it awaits, outermost first ("name@file:line")."""
    chain: list[str] = []
    coro: Any = task.get_coro()
    while coro is not None and len(chain) < 40:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None:
            name = frame.f_code.co_filename.rsplit("/", 1)[-1]
            chain.append(f"{frame.f_code.co_name}@{name}:{frame.f_lineno}")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return chain


class Ingest:
    """The worker's loop around the engine: one per app."""

    def __init__(self, app: Any, deps: Deps, topics: Topics, store: TableStore) -> None:
        self.app = app
        self.deps = deps
        self.engine = deps.engine
        self.topics = topics
        self.store = store
        self.read_to: dict[tuple[str, int], int] = {}  # (topic, partition) -> last offset done
        self.flushed_at = time.monotonic()
        self.handled_at = time.monotonic()  # the end of the last batch handled (or the start)
        self._stall_said_at = 0.0
        self._confirming: asyncio.Future[None] | None = None  # `confirm_soon`
        # the flushes whose records a `carry` holds and has not handed to the tables yet
        self._carrying: set[int] = set()

    def reading(self) -> list[tuple[Any, int | None, int]] | None:
        """Each assigned input partition: (its TP, its fetched high-water mark or None when not
        fetched yet, the next offset to read); None when the consumer cannot tell (no consumer
        running: Faust's test context)."""
        try:
            consumer = self.app.consumer
            assignment = consumer.assignment()
        except Exception:
            return None
        inputs = self.topics.names.inputs
        # where reading started after the last rebalance (agents.worker.transport)
        starts = getattr(consumer, "start_offsets", {})
        out: list[tuple[Any, int | None, int]] = []
        for tp in assignment:
            if tp.topic not in inputs:
                continue
            try:
                end = consumer.highwater(tp)
            except Exception:  # not fetched yet: unknown, so not at its end
                end = None
            out.append((tp, end, self.next_offset(tp, starts)))
        return out

    def waiting(self) -> dict[Any, int | None]:
        """Records not read yet, per assigned input partition that has any (fetched high-water
        mark less the next offset to read), or None for one never fetched (its high-water mark
        unknown); empty when the consumer cannot tell."""
        return {
            tp: None if end is None else end - next_
            for tp, end, next_ in self.reading() or ()
            if end is None or end > next_
        }

    def stalled(self, now: float) -> str | None:
        """One WARNING line (at most one a minute) when no batch was handled for
        STALLED_AFTER_S while records wait to be read, or while a partition was never fetched:
        how many, where, and where the consumer's loop waits (its task's stack), so that a
        worker that stops counting (or never starts) says why."""
        idle = now - self.handled_at
        if idle < STALLED_AFTER_S or now - self._stall_said_at < STALLED_AFTER_S:
            return None
        waiting = self.waiting()
        if not waiting:
            return None
        self._stall_said_at = now
        try:
            tasks = asyncio.all_tasks()
        except RuntimeError:  # no event loop running: nothing to say of its tasks
            tasks = set()
        where = [
            " -> ".join(chain)
            for chain in (await_chain(task) for task in tasks)
            if any(step.startswith(LOOP_STEPS) for step in chain)
        ]
        counts = ", ".join(
            f"{tp.topic}[{tp.partition}] {'never fetched' if n is None else n}: "
            f"{fetch_state(self.app.consumer, tp)}"
            for tp, n in sorted(waiting.items())
        )
        known = sum(n for n in waiting.values() if n is not None)
        line = (
            f"no batch handled for {idle:.0f} s while {known} records wait, "
            f"{sum(n is None for n in waiting.values())} partitions never fetched "
            f"({counts}); rebalancing="
            f"{bool(getattr(self.app, 'rebalancing', False))}; waiting at: "
            + ("; ".join(where) or "no consumer task found")
        )
        log.warning(line)
        return line

    def positions(self) -> tuple[dict[str, bool] | None, set[int] | None]:
        """Where reading stands: each assigned input source (`source_of(contract topic,
        partition)`) and whether it has been read to its high-water mark, and the partitions
        whose every input source has; (None, None) when the consumer cannot tell (no consumer
        running: Faust's test context). A partition paused to keep reading aligned is not at
        its end: it holds its warehouses' watermarks where it stands (FLIP-471)."""
        reading = self.reading()
        if reading is None:
            return None, None
        names = self.topics.names
        ends: dict[str, bool] = {}
        seen: set[int] = set()
        behind: set[int] = set()
        for tp, end, next_ in reading:
            seen.add(tp.partition)
            done = end is not None and next_ >= end
            ends[source_of(names.base(tp.topic), tp.partition)] = done
            if not done:
                behind.add(tp.partition)
        return ends, seen - behind

    def next_offset(self, tp: Any, starts: Mapping[Any, int | None]) -> int:
        """The next offset of an input partition to read: after the last one handled, or, when
        none was since the last rebalance, where reading starts (its committed offset: a
        partition another worker read to its end and committed sends nothing more, and would
        otherwise hold its warehouses' minutes open for ever). 0 when unknown."""
        done = self.read_to.get((tp.topic, tp.partition))
        if done is not None:
            return done + 1
        return starts.get(tp) or 0

    def event_time(self, topic: str, partition: int) -> int | None:
        """The newest event time read from an input partition (full topic name), if any: what
        the consumer aligns its partitions by (agents.worker.transport)."""
        return self.engine.read_ms.get(source_of(self.topics.names.base(topic), partition))

    async def handle(self, records: Sequence[Record], *, flush: bool | None = None) -> bool:
        """Count one batch and carry its outcome on; both consumer paths end here.

        The changed records go to the tables (and their changelogs) when `flush` is True, or,
        when it is None, once ORDERMON_FLUSH_SECONDS have passed since the last time: a
        warehouse's head and busy minutes are then written once per interval, not once per
        batch. Returns whether they were written: only then may the offsets of the batches
        handled so far be committed."""
        started = time.perf_counter()
        self.read_to.update(
            {(r.topic, r.partition): r.offset for r in records if r.offset is not None}
        )
        now = time.monotonic()
        if flush is None:
            flush = now - self.flushed_at >= self.deps.config.flush_seconds
        if flush:
            self.flushed_at = now
        ends, caught_up = self.positions()
        outcome = self.engine.process(
            records, now_ms=int(time.time() * 1000), caught_up=caught_up, flush=flush, ends=ends
        )
        await self.carry(outcome, time.perf_counter() - started)
        self.handled_at = time.monotonic()
        return flush

    async def stream(self, stream: Any) -> None:
        """Faust's per-message path over the input topics: what Faust's test context drives,
        and what a worker with ORDERMON_CONSUMER_PATH=stream uses."""
        config = self.deps.config
        async for events in stream.take_events(config.batch_size, within=config.batch_seconds):
            records = [
                Message(m.topic, m.partition, m.offset, m.key, m.value)
                for m in (e.message for e in events)
            ]
            # Faust acknowledges these events when the next batch is taken
            await self.handle(records, flush=True)

    async def carry(self, outcome: Outcome, seconds: float) -> None:
        """Hand a batch's outcome on: alerts, dead letters, table records (changelogs), metrics.

        Alerts first, each acknowledged by the broker (ordermon.sinks.kafka) before any table
        record of the batch is sent: the warehouse's head says the transition happened, and a
        worker killed after that record reached its changelog but before the alert reached its
        topic would never send it (the replayed messages change nothing). Killed before the
        records, the batch is read again and the transition repeated: at least once."""
        flushed = outcome.flushed
        if flushed is not None:
            self._carrying.add(flushed)  # before the first await: `confirm_soon` sees it
        if outcome.alerts:
            await self.deps.alerts.publish_all(outcome.alerts)
        deadletter = self.topics.deadletter
        for dead in outcome.deadletters:
            await deliver(
                partial(
                    deadletter.send, key=dead.source_topic.encode(), value=encode_deadletter(dead)
                ),
                output="deadletter",
                what=f"the dead letter ({dead.reason}) of {dead.source_topic}[{dead.partition}]"
                f"@{dead.offset}, which stays at that offset,",
                on_failure=self.deps.output_failed,
            )
        for write in outcome.writes:
            self.store.write(write)
        if flushed is not None:
            self._carrying.discard(flushed)
        await self.ebb()
        self.deps.observe(outcome, seconds)

    async def ebb(self) -> None:
        """Backpressure: wait while more than MAX_UNSENT_RECORDS table records wait in Faust's
        producer buffer. A catch-up through hours of event time changes thousands of minute
        records a second, faster than they are sent; without this the buffer (and memory) grows
        without bound and the commit behind it waits. A broker that does not answer stalls
        counting here, as it must: nothing is committed that is not in the changelog."""
        buffer = self.app.producer.buffer
        while buffer.size > MAX_UNSENT_RECORDS:
            # Faust's buffer sends in a task of its own; its `flush_atmost` would wake (a
            # `wait_for`, a task and a timer) once per record sent. A short sleep between looks
            # costs nothing per record.
            await asyncio.sleep(EBB_POLL_S)

    async def tick(self) -> None:
        """Minutes that close without new events: a partition read to its end went quiet and the
        processing clock released it (ORDERMON_IDLE_AFTER_SECONDS).

        Not before the first assignment, nor during a rebalance (until the tables are recovered
        and the partitions sought to their committed offsets): the tables may hold only part of
        their records then, and where reading starts is not known yet."""
        if self.app.rebalancing or self.engine.assigned is None:
            return
        self.confirm_soon()
        started = time.perf_counter()
        ends, caught_up = self.positions()
        outcome = self.engine.tick(int(time.time() * 1000), caught_up=caught_up, ends=ends)
        if outcome.writes or outcome.alerts:
            await self.carry(outcome, time.perf_counter() - started)

    def confirm_soon(self) -> None:
        """In the background, one at a time: tell the engine which of its flushes are in the
        changelogs (the producer acknowledged every record sent before), so that the minute
        deletions they made unneeded follow (`Engine.flush`), never before the head that no
        longer needs the minutes. A broker that does not answer holds the deletions back, not
        the tick."""
        running = self._confirming
        if (running is not None and not running.done()) or not self.engine.deletes_waiting():
            return
        # a flush is confirmed only once its records were handed to the tables (a batch's
        # alerts are acknowledged first, and another batch or the tick may flush meanwhile)
        through = min(self._carrying) - 1 if self._carrying else self.engine.flushes
        self._confirming = task = asyncio.ensure_future(self._confirm(through))
        task.add_done_callback(_log_confirm_failure)

    async def _confirm(self, through: int) -> None:
        await self.app.producer.sent_so_far()
        self.engine.durable(through)

    def revoke(self) -> None:
        """The tables are the truth after a rebalance; the cache is rebuilt from them."""
        self.engine.revoke()
        self.read_to.clear()

    def assign(self, partitions: set[int]) -> None:
        self.engine.assign(partitions)


def _log_confirm_failure(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error(
            "waiting for the changelogs failed (tried again at the next tick): %r", task.exception()
        )


def register_ingest(app: Any, deps: Deps, topics: Topics, store: TableStore) -> Any:
    """The agent, the batch path, the clock's timer and the rebalance hooks; returns the agent."""
    ingest = Ingest(app, deps, topics, store)
    if deps.config.consumer_path == "batch":
        # The worker's path: each fetched batch of the input topics, straight from the consumer
        # (agents.worker.transport), which acknowledges the offsets handled once `handle` says
        # their records are written.
        register_batch_path(app, topics.names.inputs, ingest.handle, ingest.event_time)
    app.partition_of = deps.engine.partition_for
    app.output_failed = deps.output_failed

    async def ingest_stream(stream: Any) -> None:
        await ingest.stream(stream)

    agent = app.agent(topics.inputs, name="ordermon.ingest")(ingest_stream)

    async def tick() -> None:
        await ingest.tick()

    app.timer(interval=deps.config.tick_seconds)(tick)

    async def watch() -> None:
        ingest.stalled(time.monotonic())

    app.timer(interval=deps.config.tick_seconds)(watch)

    async def on_revoked(sender: Any, revoked: Any, **kwargs: Any) -> None:
        # The partitions held leave at once: their warehouses drop out of /warehouses and
        # /metrics, and their alerts are neither resolved nor repeated here (the new owner
        # carries them on, from the tables).
        ingest.revoke()

    async def on_assigned(sender: Any, assigned: Any, **kwargs: Any) -> None:
        ingest.assign({tp.partition for tp in assigned if tp.topic in topics.names.inputs})

    async def on_rebalance_complete(sender: Any, **kwargs: Any) -> None:
        # The tables are complete only now that recovery is over. The engine's cache of known
        # warehouses may have been filled during the recovery (a /warehouses request or a
        # metrics scrape after the revoke): without this, the warehouses recovered after that
        # moment stay invisible to /warehouses and /metrics.
        deps.engine.forget()

    app.on_partitions_revoked.connect(on_revoked)
    app.on_partitions_assigned.connect(on_assigned)
    app.on_rebalance_complete.connect(on_rebalance_complete)
    return agent
