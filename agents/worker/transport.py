"""Faust's aiokafka transport with four changes, three of them confined to the consumer:

1. **True end offsets.** Table recovery reads each changelog partition up to the end offset the
   broker reports (ListOffsets). The embedded broker (Tansu) reports the first offset of the last
   record batch plus one, so when that batch holds several records, recovery used to stop short
   and a restarted worker lost the newest table records while the input offsets behind them were
   already committed. The end offset is now the larger of ListOffsets and the high-water mark of
   a fetch at that offset, which is exact on any broker (on Apache Kafka the two agree).

2. **Fetches held at most 100 ms** (Faust: 1.5 s), so that an event that arrives while the
   consumer waits is not held back by the broker.

3. **A batch path for the input topics.** Faust hands every message to the streams one at a time
   (conductor, channel queue, stream iterator, an ack each); that machinery costs about 80 % of
   the worker's CPU. `register_batch_path(app, topics, handler)` makes the consumer give each
   fetched batch of those topics to `handler` in one call, then acknowledge the batch's offsets
   in one step, through Faust's own commit bookkeeping: the consumer group, rebalances, table
   changelogs, recovery and the offset commits stay Faust's. Messages of any other topic (the
   changelogs during recovery) take Faust's usual path. The agent on those topics still exists
   and is what Faust's test context drives.

4. **Aligned reading** (batch path): after each batch the input partitions read more than
   `ALIGN_SPAN_MS` of event time ahead of the least-read one not at its end are left out of the
   next fetches, and taken back once it has caught up: in a catch-up a sparse topic (a fetch of
   complaints covers days) or a partition fetched first does not run days ahead of the others
   (Kafka Streams' choice by stream time, Flink's watermark alignment). The least-read
   partition is always fetched, at full speed (no drift budget per interval: FLINK-37399), a
   partition held back is not at its end so it still holds the watermarks of its warehouses
   (FLIP-471), and a turn that finds nothing to read takes every partition back.

5. **Changelog sends that fail do not stop the worker** (`guard_buffer`): Faust's producer buffer
   sends in a service task that a raising send ends, and the worker with it; each send is now
   retried a bounded number of times, then given up with one log line and a metric.

Built against faust-streaming 0.15.3 (pinned): `_drain_messages`, `_wait_next_records`,
`_read_offset`, `_acked`, `_acked_index`, `_committed_offset` and `_add_gap` are internals of
that version, and tests/integration exercise this module against a real broker.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from functools import partial
from typing import Any, cast

import aiokafka
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP
from faust.types.tuples import ack_lock

from ordermon.agents.worker.delivery import deliver

log = logging.getLogger(__name__)

# records -> whether the records they changed are written (their offsets may be committed)
BatchHandler = Callable[[Sequence[Any]], Awaitable[bool]]
# (topic, partition) -> the newest event time read from it (None: nothing read yet)
EventTime = Callable[[str, int], "int | None"]
ALIGN_SPAN_MS = 60 * 60_000  # how far (event time) an input partition may run ahead
END_OFFSET_TIMEOUT_S = 10.0
FETCH_MAX_WAIT_MS = 20  # how long the broker may hold a fetch that finds nothing new
# ... or less than this much new (Kafka's fetch.min.bytes): under load the worker takes fewer,
# larger batches (less per-batch work), and when the stream is slow a fetch waits at most the
# 20 ms above
FETCH_MIN_BYTES = 64 * 1024


def register_batch_path(
    app: Any, topics: Iterable[str], handler: BatchHandler, event_time: EventTime | None = None
) -> None:
    """Give each fetched batch of `topics` to `handler` (aiokafka ConsumerRecords: .topic,
    .partition, .offset, .key, .value) instead of Faust's per-message streams. The handler
    returns True once the table records changed by every batch so far are written; until then
    their offsets are held back. While offsets are held it is also called with an empty batch,
    at least every second, so that it can write them when the stream goes quiet.

    `event_time`: how far each partition of `topics` has been read in event time; with it the
    partitions are read aligned (see the module docstring)."""
    app.batch_path = (frozenset(topics), handler)
    app.event_time = event_time


def batch_path(app: Any) -> tuple[frozenset[str], BatchHandler] | None:
    return cast("tuple[frozenset[str], BatchHandler] | None", getattr(app, "batch_path", None))


def held_back(
    times: Mapping[TP, int | None], at_end: Iterable[TP], span_ms: int = ALIGN_SPAN_MS
) -> set[TP]:
    """The partitions to leave out of the next fetches: read more than `span_ms` of event time
    ahead of the least-read partition not at its end. A partition not read yet (None) holds
    nobody back: it is fetched anyway, and the engine's watermarks wait for it."""
    done = set(at_end)
    behind = [t for tp, t in times.items() if t is not None and tp not in done]
    if not behind:
        return set()
    limit = min(behind) + span_ms
    return {tp for tp, t in times.items() if t is not None and t > limit and tp not in done}


def fetch_state(consumer: Any, tp: TP) -> str:
    """How the consumer stands towards one partition, for the log line of a worker that stopped
    counting (agents.worker.ingest): in Faust's active and paused sets, held back for
    alignment, Faust's read offset, and aiokafka's own view (position, paused, records
    fetched but not handed out)."""
    parts = []
    for name, attr in (("active", "_active_partitions"), ("paused", "_paused_partitions")):
        held = getattr(consumer, attr, None)
        parts.append(f"{name}={held is not None and tp in held}")
    parts.append(f"held_back={tp in getattr(consumer, '_aligned_out', ())}")
    parts.append(f"read_offset={getattr(consumer, '_read_offset', {}).get(tp)}")
    try:
        client = consumer._thread._consumer
        state = client._subscription.subscription.assignment.state_value(tp)
        buffered = tp in getattr(client._fetcher, "_records", {})
        parts.append(
            f"aiokafka position={state.position if state.has_valid_position else None} "
            f"paused={state.paused} buffered={buffered}"
        )
    except Exception as exc:  # a diagnosis: never in the way
        parts.append(f"aiokafka state unknown ({type(exc).__name__})")
    return " ".join(parts)


async def true_end_offsets(
    make_consumer: Callable[[], aiokafka.AIOKafkaConsumer],
    reported: Mapping[TP, int | None],
    timeout_s: float = END_OFFSET_TIMEOUT_S,
) -> dict[TP, int | None]:
    """`reported` (ListOffsets) raised to the high-water mark a fetch returns. A partition whose
    fetch does not answer within `timeout_s` keeps its reported offset."""
    ends: dict[TP, int | None] = dict(reported)
    probe: dict[TP, int] = {tp: end for tp, end in reported.items() if end}
    if not probe:
        return ends
    consumer = make_consumer()
    await consumer.start()
    try:
        wanted = {aiokafka.TopicPartition(tp.topic, tp.partition): tp for tp in probe}
        consumer.assign(list(wanted))
        for atp, tp in wanted.items():
            consumer.seek(atp, probe[tp] - 1)
        deadline = time.monotonic() + timeout_s
        pending = set(wanted)
        while pending and time.monotonic() < deadline:
            await consumer.getmany(*pending, timeout_ms=200, max_records=1)
            for atp in list(pending):
                highwater = consumer.highwater(atp)
                if highwater is not None:
                    tp = wanted[atp]
                    ends[tp] = max(probe[tp], highwater)
                    pending.discard(atp)
        if pending:
            log.warning(
                "end offsets not confirmed by a fetch within %.0f s for %s; using the reported "
                "ones",
                timeout_s,
                ", ".join(f"{a.topic}[{a.partition}]" for a in sorted(pending)),
            )
    finally:
        await consumer.stop()
    return ends


def _log_commit_failure(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("offset commit failed (retried at the next one): %r", task.exception())


class ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):  # type: ignore[misc]
    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer: aiokafka.AIOKafkaConsumer = super()._create_worker_consumer(transport)
        # Faust asks the broker to hold a fetch up to 1.5 s when there is nothing new. A broker
        # that answers only when that time is up (the embedded one does) then delays every event
        # that arrives meanwhile by up to 1.5 s: alert latency. aiokafka reads this at start().
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        consumer._fetch_min_bytes = FETCH_MIN_BYTES
        return consumer

    def _end_offset_consumer(self) -> aiokafka.AIOKafkaConsumer:
        conf = self.app.conf
        transport = cast(faust_aiokafka.Transport, self.transport)
        return aiokafka.AIOKafkaConsumer(
            bootstrap_servers=faust_aiokafka.server_list(transport.url, transport.default_port),
            client_id=f"{conf.broker_client_id}-end-offsets",
            enable_auto_commit=False,
            request_timeout_ms=int(conf.broker_request_timeout * 1000.0),
            **faust_aiokafka.credentials_to_aiokafka_auth(
                conf.broker_credentials, conf.ssl_context
            ),
        )

    async def _highwaters(self, partitions: list[TP]) -> Mapping[TP, int | None]:
        reported: Mapping[TP, int | None] = await super()._highwaters(partitions)
        if self.consumer.in_transaction:
            return reported
        ends = await true_end_offsets(self._end_offset_consumer, reported)
        raised = {tp: (reported[tp], end) for tp, end in ends.items() if end != reported[tp]}
        if raised:
            log.info(
                "end offsets raised to the fetched high-water marks: %s",
                ", ".join(f"{tp.topic}[{tp.partition}] {a}->{b}" for tp, (a, b) in raised.items()),
            )
        return ends


class Consumer(faust_aiokafka.Consumer):  # type: ignore[misc]
    _n_acked: int
    _background_commit: asyncio.Future[Any] | None = None
    # offsets handled but not acknowledged yet (their records not written), and their generation
    _held: dict[TP, list[int]]
    _held_generation: int | None
    _aligned_out: set[TP]  # input partitions left out of the fetches: read ahead (held_back)
    # where reading of each partition starts again after the last rebalance: its committed
    # offset, the next one read (None: no commit yet, read from the beginning)
    start_offsets: Mapping[TP, int | None] = {}

    async def perform_seek(self) -> None:
        """Faust seeks every assigned partition to its committed offset after a rebalance (and at
        start); note where, so that a partition another worker read to its end counts as read to
        its end here too, though no record of it will ever come (agents.worker.ingest)."""
        await super().perform_seek()
        self.start_offsets = dict(self._read_offset)

    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover - live tests
        path = batch_path(self.app)
        if path is None:
            await super()._drain_messages(fetcher)
            return
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        self._held, self._held_generation = {}, None
        self._aligned_out = set()
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                self.diag.set_flag(CONSUMER_FETCHING)
                await self._next_batch(*path)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                return
            raise
        finally:
            self.diag.unset_flag(CONSUMER_FETCHING)

    async def _next_batch(self, topics: frozenset[str], handler: BatchHandler) -> None:
        """One turn of the batch path: fetch, hand the input records to `handler`, acknowledge
        their offsets once it says their records are written, commit now and then."""
        records, active = await self._fetch_aligned()
        await self.sleep(0)
        if records is None or self.should_stop or not self.flow_active:
            # Faust drops these too: after a rebalance the consumer seeks to the committed
            # offsets and they are fetched again.
            return
        generation = self.app.consumer_generation_id
        if self._held_generation != generation:
            # A rebalance: Faust seeks every partition back to its committed offset, and the
            # engine dropped its cache; what was held is read again.
            self._held = {}
            self._held_generation = generation
            self._aligned_out = set()
        batch = await self._split(records, active, topics)
        self._align(topics, found=bool(batch))
        if not (batch or self._held):
            return
        # The handler may keep the records it changed for a later write (it says whether it
        # wrote them): offsets are acknowledged, and so committed, only once written.
        written = await handler(batch)
        if self.app.consumer_generation_id != generation or not written:
            return  # rebalanced meanwhile (dropped at the next turn), or held for later
        self._ack_batch(self._held)
        self._held = {}
        commit_every = self._commit_every
        if commit_every is not None and self._n_acked >= commit_every:
            self._n_acked = 0
            self._commit_soon()
        self.diag.unset_flag(CONSUMER_FETCHING)

    async def _fetch_aligned(self) -> tuple[Any, Any]:
        """Faust's fetch, without the partitions held back for alignment. They are taken out of
        Faust's set of active partitions for the fetch only, and put back after it unless Faust
        paused them meanwhile (its table recovery does) or a rebalance happened."""
        active = self._get_active_partitions()
        out = self._aligned_out & active
        fetched: tuple[Any, Any]
        if not out:
            fetched = await self._wait_next_records(1.0)
            return fetched
        generation = self.app.consumer_generation_id
        active.difference_update(out)
        try:
            fetched = await self._wait_next_records(1.0)
            return fetched
        finally:
            if self.app.consumer_generation_id == generation:
                back = {tp for tp in out if tp not in self._paused_partitions}
                self._get_active_partitions().update(back)

    def _align(self, topics: frozenset[str], *, found: bool) -> None:
        """Choose the input partitions to hold back from the next fetches (`held_back`); a turn
        that found nothing to read while some were held takes them all back (what is left to
        read may be nothing but gaps: the least-read partition must not block the others)."""
        event_time = getattr(self.app, "event_time", None)
        if event_time is None or (not found and self._aligned_out):
            self._aligned_out = set()
            return
        times: dict[TP, int | None] = {}
        at_end: list[TP] = []
        for tp in self.assignment():
            if tp.topic not in topics:
                continue
            times[tp] = event_time(tp.topic, tp.partition)
            end = self.highwater(tp)
            read = self._read_offset.get(tp)
            if end is not None and read is not None and read + 1 >= end:
                at_end.append(tp)
        self._aligned_out = held_back(times, at_end)

    async def _split(
        self, records: Mapping[TP, Sequence[Any]], active: Any, topics: frozenset[str]
    ) -> list[Any]:
        """The records of the batch topics, not read yet, into one batch (their offsets held in
        `_held`); those of any other topic (changelogs) through Faust's own path."""
        batch: list[Any] = []
        taken = self._held
        for tp, recs in records.items():
            if not (active is None or tp in active or tp in self._buffered_partitions):
                continue
            self.app.monitor.track_tp_end_offset(tp, self.highwater(tp))
            if tp.topic in topics:
                offsets = await self._take(tp, recs, batch)
                if offsets:
                    taken.setdefault(tp, []).extend(offsets)
            else:
                await self._one_by_one(tp, recs)
        return batch

    def _commit_soon(self) -> None:
        """Commit in the background: Faust's commit waits for every pending changelog record to
        be acknowledged, and the next batch need not wait for that. One at a time; Faust's
        periodic commit (broker_commit_interval) runs besides, as always."""
        running = self._background_commit
        if running is not None and not running.done():
            return
        self._background_commit = task = asyncio.ensure_future(self.commit())
        task.add_done_callback(_log_commit_failure)

    async def _take(self, tp: TP, recs: Sequence[Any], batch: list[Any]) -> list[int]:
        """The records of `tp` not read yet go to `batch`; gaps in their offsets are noted so
        the commit can pass them (compacted or transaction-marker offsets)."""
        previous = self._read_offset[tp]
        if previous is not None:
            recs = [r for r in recs if r.offset >= previous]
        if not recs:
            return []
        offsets = [r.offset for r in recs]
        await self._note_gaps(tp, previous, offsets)
        batch.extend(recs)
        self._read_offset[tp] = offsets[-1]
        on_batch_in = getattr(self.app.monitor, "on_batch_in", None)
        if on_batch_in is not None:
            on_batch_in(tp, len(offsets), offsets[-1])
        return offsets

    async def _one_by_one(self, tp: TP, recs: Sequence[Any]) -> None:
        """Faust's own path, for topics outside the batch path."""
        for record in recs:
            previous = self._read_offset[tp]
            if previous is not None and record.offset < previous:
                continue
            await self._note_gaps(tp, previous, [record.offset])
            message = self._to_message(tp, record)
            await self.wait_first(self.callback(message), self.suspend_flow.wait())
            self._read_offset[tp] = record.offset

    async def _note_gaps(self, tp: TP, previous: int | None, offsets: Sequence[int]) -> None:
        """Offsets skipped between `previous` and `offsets` (compaction, transaction markers) are
        noted, as Faust does, so that the commit can pass them."""
        if not self.app.topics.acks_enabled_for(tp.topic):
            return
        first = offsets[0] if previous is None else previous
        if offsets[-1] - first == len(offsets) - (previous is None):
            return  # contiguous: the usual case, no walk
        before = previous
        for offset in offsets:
            if before is not None and offset - before > 1:
                await self._add_gap(tp, before + 1, offset - 1)
            before = offset

    def _ack_batch(self, taken: Mapping[TP, list[int]]) -> None:
        """What `Consumer.ack` does for each message, once per partition."""
        with ack_lock:
            for tp, offsets in taken.items():
                if not self.app.topics.acks_enabled_for(tp.topic):
                    continue
                committed = self._committed_offset[tp]
                index = self._acked_index[tp]
                fresh = [
                    o for o in offsets if (committed is None or o >= committed) and o not in index
                ]
                index.update(fresh)
                self._acked[tp].extend(fresh)
                self._n_acked += len(fresh)


def guard_buffer(buffer: Any, on_failure: Callable[[str], None] | None = None) -> None:
    """Faust's producer buffer sends the changelog records in a service task: a send that raises
    there stops the worker for good. With this, each send is retried a bounded number of times
    (agents.worker.delivery), then given up with one log line naming the record, the failure counted
    (`on_failure("changelog")`), the record's future failed, and the buffer goes on. A record
    given up is missing from the changelog until its key is written again (a warehouse's head
    is, at every flush it changes)."""
    original = buffer._send_pending

    async def send_pending(fut: Any) -> None:
        message = getattr(fut, "message", None)
        topic = getattr(getattr(message, "channel", None), "get_topic_name", lambda: "?")()
        key = getattr(message, "key", None)
        sent = await deliver(
            partial(original, fut),
            output="changelog",
            what=f"the record {str(key)[:80]} of {topic}",
            on_failure=on_failure,
        )
        if not sent and not fut.done():
            fut.set_exception(RuntimeError(f"changelog record of {topic} not sent"))

    buffer._send_pending = send_pending


class Producer(faust_aiokafka.Producer):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        app = self.transport.app
        # App.output_failed: set by agents.worker.register (the composition root's counter)
        guard_buffer(self.buffer, lambda output: app.output_failed(output))

    async def sent_so_far(self) -> None:
        """Return once every record handed to this producer before the call is acknowledged by
        the broker: those still in Faust's buffer (their futures, set on acknowledgement) and
        those aiokafka holds now (its `flush`, which waits for the batches of the moment).
        Raises if one of them failed. Bounded, unlike Faust's `flush`: that drains the buffer
        for as long as records keep coming and wakes once per record sent; under a steady
        stream it never returned, the deletions it confirms piled up, and the wake-ups took
        the stream's CPU (alert p99 10 s in `make bench`'s paced phase, 292 ms without)."""
        waiting: list[Any] = list(self.buffer.pending._queue)
        client = self._producer
        if client is not None:
            waiting.append(client.flush())
        if waiting:
            await asyncio.gather(*waiting)


class Transport(faust_aiokafka.Transport):  # type: ignore[misc]
    Consumer = Consumer
    Producer = Producer
