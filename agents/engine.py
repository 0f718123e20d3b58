"""The one engine: a batch of input records -> counts, dead letters, alert transitions and the
records to persist.

Everyone drives this loop: the worker (agents.worker, with the processing clock and the Faust
tables as its store), the tests, the benchmark and offline back-tests (no clock, an in-memory
store: `Engine.offline`). No Faust, no Kafka, no Prometheus, no clock here: time comes in as
`now_ms`, storage through a `Store`.

Per batch: decode and validate each record (a rejection becomes a dead letter), count it into its
warehouse's `WarehouseState`, note how far each input source (topic, partition) has been read in
event time; then close, for every warehouse, the minutes its partition's watermark passed and
evaluate each one (the detector); then evaluate the network (cascade, silent warehouses) at every
minute end every partition's watermark passed, from each warehouse's state as of that minute.
Which minutes are evaluated, with what data, depends on the events alone, not on batching, on
the order the partitions were read in, or on a restart (tests/unit/agents/test_arrival.py).

Network episodes are records of their own (`NETWORK`), so they keep their ids across a restart or
a rebalance. With several workers, a `warehouse_silent` episode belongs to the worker that holds
its warehouse's partition, and the network's `cascade` to the worker that holds partition 0 (it is
judged over that worker's warehouses). `assign`/`revoke` tell the engine which partitions it
holds: a warehouse of another partition is not this engine's (not in `known`, `state`, `firing`),
and its alerts are neither resolved nor repeated here; its new owner carries them on.

Every alert carries `live` (`is_live`): evaluated with a processing clock, its partition read to the
end, its event time within `live_max_age_ms` of the clock. Offline (no clock) nothing is live."""

from __future__ import annotations

import sys
from collections import Counter, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import takewhile
from typing import NamedTuple, Protocol

from orjson import Fragment

from ordermon.agents.logic.alerts import FIRING
from ordermon.agents.logic.detector import (
    SILENT,
    AsOf,
    DetectorState,
    NetworkState,
    evaluate_minute,
    evaluate_network,
    firing,
    in_backpressure,
)
from ordermon.agents.logic.flow import (
    Bucket,
    FlowConfig,
    Snapshot,
    WarehouseState,
    applied_items,
    apply,
    close_minutes,
    expire,
    freeze_cold,
    retention_floor,
    snapshot,
    source_of,
    thaw,
)
from ordermon.agents.logic.idle import is_stale, release_messages
from ordermon.agents.logic.persist import (
    RHYTHM_BLOCK_HOURS,
    bucket_fragment,
    detector_json,
    episode_from_bytes,
    episode_to_bytes,
    head_from_bytes,
    head_to_bytes,
    held_minutes,
    hour_from_bytes,
    hour_key,
    hour_of,
    hour_to_bytes,
    join_rhythm,
    network_key,
    rhythm_block_to_bytes,
    rhythm_key,
)
from ordermon.agents.logic.policy import Policy
from ordermon.agents.logic.rhythm import Rhythm
from ordermon.agents.logic.windows import HOUR_MS, MINUTE_MS, minute_start
from ordermon.streams.codec import decode, encode_event, loads
from ordermon.streams.errors import RejectReason
from ordermon.streams.events import Event
from ordermon.streams.flows import INPUT_TOPICS
from ordermon.streams.outputs import NETWORK_KEY, Alert, DeadLetter
from ordermon.streams.timefmt import MAX_MS, MIN_MS
from ordermon.streams.topics import TopicNames
from ordermon.streams.validation import Rejection

HEADS = "heads"
MINUTES = "minutes"
NETWORK = "network"
LIVE_MAX_AGE_MS = 3_600_000


class Message(NamedTuple):
    topic: str  # the full topic name, prefix included
    partition: int
    offset: int | None
    key: bytes | None
    value: bytes | None


class Record(Protocol):
    """What process() reads of a message: a `Message`, or aiokafka's ConsumerRecord as the
    worker's batch path hands it over."""

    @property
    def topic(self) -> str: ...

    @property
    def partition(self) -> int: ...

    @property
    def offset(self) -> int | None: ...

    @property
    def key(self) -> bytes | None: ...

    @property
    def value(self) -> bytes | None: ...


class Write(NamedTuple):
    table: str  # HEADS, MINUTES or NETWORK
    partition: int
    key: bytes
    value: bytes | None  # None deletes


class Store(Protocol):
    """Durable storage of the records (the Faust tables in the worker, `MemoryStore` offline)."""

    def get(self, table: str, key: bytes) -> bytes | None: ...

    def keys(self, table: str) -> Iterable[bytes]: ...

    def write(self, write: Write) -> None: ...


class MemoryStore:
    """Dicts of bytes: the store of offline runs and tests."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[bytes, bytes]] = {HEADS: {}, MINUTES: {}, NETWORK: {}}

    def get(self, table: str, key: bytes) -> bytes | None:
        return self.tables[table].get(key)

    def keys(self, table: str) -> Iterable[bytes]:
        return list(self.tables[table])

    def write(self, write: Write) -> None:
        if write.value is None:
            self.tables[write.table].pop(write.key, None)
        else:
            self.tables[write.table][write.key] = write.value


@dataclass
class Outcome:
    counted: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # (topic, status, wh)
    deadletters: list[DeadLetter] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    writes: list[Write] = field(default_factory=list)
    late: Counter[str] = field(default_factory=Counter)  # topic -> events older than retention
    duplicates: Counter[str] = field(default_factory=Counter)  # topic -> replayed offsets skipped
    duplicate_ids: Counter[str] = field(default_factory=Counter)  # topic -> repeated event_ids
    released: list[str] = field(default_factory=list)  # warehouses that gave their slot back
    flushed: int | None = None  # the number of the flush whose records `writes` holds


def is_live(
    at_ms: int, now_ms: int | None, caught_up: bool, max_age_ms: int = LIVE_MAX_AGE_MS
) -> bool:
    """The one rule of what pages: an evaluation with a processing clock (`now_ms`; None offline:
    never live), of a partition read to its end, at an event time within `max_age_ms` of it."""
    return now_ms is not None and caught_up and now_ms - at_ms <= max_age_ms


class NetworkInputs:
    """What the network-wide evaluation reads of each warehouse as of a minute end, so that it
    does not depend on how far each warehouse has been evaluated by then: whether one of its
    backpressure alerts was firing at that minute, and the start of its last minute with data
    before it (its newest event time at minute precision). Both are noted as each minute is
    evaluated, and kept until the network has passed them."""

    def __init__(self) -> None:
        self.flips: dict[str, list[tuple[int, bool]]] = {}  # (minute end, in backpressure)
        self.data: dict[str, deque[int]] = {}  # minutes with data evaluated, not yet passed
        self.last_data: dict[str, int | None] = {}  # the last minute with data passed
        self.first: dict[str, int] = {}  # the first minute end noted (or loaded at)

    def note(self, warehouse: str, end: int, detector: DetectorState, data: bool) -> None:
        self.first.setdefault(warehouse, end)
        pressed = in_backpressure(detector)
        log = self.flips.get(warehouse)
        if log is None:
            if pressed:
                self.flips[warehouse] = [(end, True)]
        elif log[-1][1] != pressed:
            log.append((end, pressed))
        if data:
            queue = self.data.get(warehouse)
            if queue is None:
                queue = self.data[warehouse] = deque()
            queue.append(end - MINUTE_MS)

    def load(self, warehouse: str, state: WarehouseState, detector: DetectorState) -> None:
        """A warehouse loaded from the store: what it was at its last evaluated minute."""
        self.forget(warehouse)
        closed = state.closed_through_ms
        if closed is not None:
            self.note(warehouse, closed, detector, False)
            self.last_data[warehouse] = max((m for m in state.minutes if m < closed), default=None)

    def forget(self, warehouse: str | None = None) -> None:
        for table in (self.flips, self.data, self.last_data, self.first):
            if warehouse is None:
                table.clear()
            else:
                table.pop(warehouse, None)

    def pressed_at(self, warehouse: str, end: int) -> bool:
        log = self.flips.get(warehouse)
        if not log:
            return False
        while len(log) > 1 and log[1][0] <= end:
            log.pop(0)  # `end` only moves forward
        return log[0][1] if log[0][0] <= end else False

    def next_data(self) -> int | None:
        """The oldest minute with data evaluated that the network has not passed yet."""
        return min((queue[0] for queue in self.data.values() if queue), default=None)

    def newest_at(self, warehouse: str, end: int) -> int | None:
        last = self.last_data.get(warehouse)
        queue = self.data.get(warehouse)
        while queue and queue[0] < end:
            last = queue.popleft()
        self.last_data[warehouse] = last
        return last

    def members(
        self,
        end: int,
        states: Mapping[str, WarehouseState],
        network: NetworkState,
        config: FlowConfig,
        detectors: Mapping[str, DetectorState],
    ) -> dict[str, tuple[DetectorState | AsOf, int | None]]:
        """The warehouses taking part at `end`: those with data within the retention before
        it (a warehouse cannot be called silent on the strength of an event from 1970), and
        those already called silent."""
        silent = {
            e.warehouse for e in network.episodes.values() if e.kind == SILENT and e.phase == FIRING
        }
        out: dict[str, tuple[DetectorState | AsOf, int | None]] = {}
        for warehouse in states:
            newest = self.newest_at(warehouse, end)
            if warehouse in silent or not is_stale(newest, end, config.retention_ms):
                detector = detectors.get(warehouse)
                rhythm = detector.rhythm if detector is not None else Rhythm()
                out[warehouse] = (AsOf(self.pressed_at(warehouse, end), rhythm), newest)
        return out


def message_of(event: Event, names: TopicNames | None = None, partition: int = 0) -> Message:
    """An event as the record a publisher would have sent (keyed by warehouse, no offset)."""
    topic = event.topic if names is None else names.full(event.topic)
    return Message(topic, partition, None, event.warehouse.encode(), encode_event(event))


class Engine:
    def __init__(
        self,
        config: FlowConfig,
        policy: Policy,
        store: Store,
        *,
        names: TopicNames | None = None,
        max_warehouses: int = 1000,
        max_future_ms: int | None = 300_000,
        release_after_ms: int | None = None,
        live_max_age_ms: int = LIVE_MAX_AGE_MS,
        confirmed_deletes: bool = False,
    ) -> None:
        self.config = config
        self.policy = policy
        self.store = store
        self.names = names or TopicNames()
        self.max_warehouses = max_warehouses
        self.max_future_ms = max_future_ms
        # a warehouse quiet for longer than this (event time) gives its slot back; None: the
        # retention (agents.logic.idle)
        self.release_after_ms = release_after_ms or config.retention_ms
        self.states: dict[str, WarehouseState] = {}
        self.detectors: dict[str, DetectorState] = {}
        self.live_max_age_ms = live_max_age_ms
        self.network = NetworkState()  # this worker's episodes, loaded from NETWORK on first use
        self._network_loaded = False
        self._network_written: dict[bytes, bytes] = {}  # NETWORK key -> the record last written
        self._all_loaded = False  # every warehouse held is in the cache (_load_held)
        self.assigned: set[int] | None = None  # the partitions this engine holds; None: all
        self._caught_up: set[int] | None = None  # as of the last batch or tick
        self.partition_of: dict[str, int] = {}
        self.newest_by_topic: dict[str, int] = {}  # contract topic -> newest occurred_at seen
        self._bases: dict[str, str] = {}  # full topic name -> the contract's name
        self._sources: dict[tuple[str, int], str] = {}  # (topic, partition) -> source_of()
        self._unwritten: dict[str, set[int]] = {}  # warehouse -> minutes changed since flush()
        # warehouse -> (its newest hour written, minute -> (bucket, had ids, its encoded part)):
        # the parts of the minutes of that hour unchanged since they were encoded (`_encoded`)
        self._parts: dict[str, tuple[int, dict[int, tuple[Bucket, bool, Fragment]]]] = {}
        self._expired: dict[str, list[int]] = {}  # warehouse -> minutes expired since flush()
        # warehouse -> hours whose minutes have begun to expire: their record is deleted once the
        # whole hour lies below the retention floor (no event can land in it any more)
        self._dying: dict[str, set[int]] = {}
        # the deletions of expired minutes, each with the number of the flush that wrote the
        # head which no longer needs it; written by a later flush once that head is in its
        # changelog (`flush`, `durable`)
        self._expiring: list[tuple[int, Write]] = []
        # warehouse -> block of its rhythm's hours (`persist.rhythm_key`) -> the number of the
        # flush that wrote its record (0: loaded, in the changelog already)
        self._blocks: dict[str, dict[int, int]] = {}
        # warehouse -> its first block whose record may not be in the changelog yet: the head
        # holds the rhythm's rows from there on
        self._lead: dict[str, int] = {}
        self._block_flush = 0  # the last flush that wrote a block
        self.flushes = 0  # flush() calls so far (never reset: `durable` tokens stay valid)
        # with confirmed_deletes the caller says which flushes reached the changelogs
        # (`durable`); without, a flush counts as written by the time of the next one
        self._confirmed_deletes = confirmed_deletes
        self._durable_through = 0
        self._network_at: int | None = None  # the minute end the network was last evaluated at
        self._history = NetworkInputs()  # what the network reads of each warehouse, by minute
        self._known: set[str] | None = None
        # bumped whenever what the engine holds may have changed (a batch, a tick, a forget):
        # the HTTP views reuse an answer while it stays the same
        self.changes = 0
        self._deletes: list[Write] = []  # records of released warehouses, deleted at flush()
        # the mark and the partitions read to their end with which _idle_list was found
        self._idle_at: tuple[int, frozenset[int] | None] | None = None
        self._idle_list: list[str] = []  # idle warehouses to release at the limit, most idle first
        # Input sources (source_of(contract topic, partition)): the newest event time read from
        # each, and the processing clock of its last record; in memory only (after a restart a
        # source not read again yet holds its warehouses at their own newest event of it).
        self.read_ms: dict[str, int] = {}
        self._read_at: dict[str, int] = {}
        # the newest offset read from each input source since the start or the last rebalance
        self._read_offsets: dict[str, int] = {}
        # warehouse -> source -> the newest offset its loaded records hold: until each source
        # is read again that far (or to its end), the warehouse may not be consistent with
        # itself (see `_resynced`) and none of its minutes closes
        self._resync: dict[str, dict[str, int]] = {}
        # the caller's input sources -> read to their end; None: every source is complete
        self._ends: Mapping[str, bool] | None = None
        # the newest event the warehouses loaded from the store hold (`_mark`)
        self._loaded_newest: int | None = None

    @classmethod
    def offline(
        cls,
        config: FlowConfig,
        policy: Policy,
        *,
        names: TopicNames | None = None,
        max_warehouses: int = sys.maxsize,
    ) -> Engine:
        """An engine for back-tests and tests: an in-memory store, no event too far in the
        future. Drive it with `process(records, None)` (no processing clock: the watermark
        follows event time alone), or with a clock of your own (e.g. the newest event time)."""
        return cls(
            config,
            policy,
            MemoryStore(),
            names=names,
            max_warehouses=max_warehouses,
            max_future_ms=None,
        )

    # ---- state ---------------------------------------------------------------------------
    def forget(self) -> None:
        """Drop the cache (after a rebalance the store is the truth)."""
        self.changes += 1
        self.states.clear()
        self.detectors.clear()
        self.partition_of.clear()
        self._unwritten.clear()
        self._parts.clear()
        self._expired.clear()
        self._dying.clear()
        self._expiring.clear()
        self._blocks.clear()
        self._lead.clear()
        self._known = None
        self.network = NetworkState()
        self._network_loaded = False
        self._network_written.clear()
        self._all_loaded = False
        self._history.forget()
        self._resync.clear()
        self._loaded_newest = None

    def assign(self, partitions: Iterable[int] | None) -> None:
        """The partitions this engine holds now (None: all). Its cache is rebuilt from the
        store, where the records of other partitions may still lie (left by a previous owner of
        theirs, or by this one): they are not this engine's."""
        self.forget()
        self.assigned = None if partitions is None else set(partitions)

    def revoke(self) -> None:
        """A rebalance took the partitions away (until `assign`): the warehouses held leave at
        once (`known`, metrics, `/warehouses`) and their alerts are neither resolved nor repeated
        here. Nothing is written: the records stay the truth for the next owner.

        What was read is forgotten too: the consumer reads every partition it gets again from
        its committed offset, which may lie behind what was read here (not committed yet) or
        ahead of it (read by another worker meanwhile), so the event times read before say
        nothing about where each source stands now (`_mark`, `_floor`)."""
        self.assign(())
        self.read_ms.clear()
        self._read_at.clear()
        self._read_offsets.clear()
        # nor where the network was evaluated: its floor for lateness (`_floor`) would otherwise
        # stand on minutes evaluated from partitions read past their committed offsets, and the
        # events read again from there would count late (as after a restart, the network goes on
        # from the minutes the warehouses loaded had evaluated: `_evaluate`)
        self._network_at = None

    def holds(self, partition: int | None) -> bool:
        return self.assigned is None or partition is None or partition in self.assigned

    def partition_for(self, warehouse: str) -> int | None:
        """The partition of a warehouse's records (``*``, the network's: 0)."""
        return 0 if warehouse == NETWORK_KEY else self.partition_of.get(warehouse)

    def known(self) -> set[str]:
        if self._known is None:
            keys = [k.decode() for k in self.store.keys(HEADS)]
            if self.assigned is not None:
                keys = [k for k in keys if k in self.states or self._stored_here(k)]
            self._known = set(keys) | set(self.states)
        return self._known

    def _stored_here(self, warehouse: str) -> bool:
        raw = self.store.get(HEADS, warehouse.encode())
        return raw is not None and self.holds(loads(raw).get("p"))

    def state(self, warehouse: str) -> WarehouseState | None:
        """The cached state, loaded from the store on first use; None if never seen."""
        state = self.states.get(warehouse)
        if state is not None:
            return state
        raw = self.store.get(HEADS, warehouse.encode())
        if raw is None:
            return None
        state, det = head_from_bytes(warehouse, raw)
        if not self.holds(state.partition):
            return None  # another worker's now (a rebalance); its record lies here until recovery
        if state.partition is not None:
            self.partition_of.setdefault(warehouse, state.partition)
        newest = state.newest_ms
        if newest is not None:
            if self._loaded_newest is None or newest > self._loaded_newest:
                self._loaded_newest = newest
            first = retention_floor(state, self.config)
            # nothing closed yet: the minutes the head names (a sparse topic may have been read
            # days ahead before a restart), else what a retention back from the newest holds
            held = held_minutes(raw) if first is None else None
            if first is None:
                first = minute_start(newest - self.config.retention_ms)
            self._load_minutes(warehouse, state, first, minute_start(newest), held)
            freeze_cold(state, self.config)  # not all of a day's buckets of every site at once
        need = dict(state.applied)
        for loaded in state.minutes.values():
            for source, offset in applied_items(loaded).items():
                if offset > need.get(source, -1):
                    need[source] = offset
        if need:
            self._resync[warehouse] = need
        self.states[warehouse] = state
        if det:
            found, split = join_rhythm(
                det, lambda b: self.store.get(MINUTES, rhythm_key(warehouse, b))
            )
            self._blocks[warehouse] = dict.fromkeys(found, 0)
            if split is not None:  # the blocks before it are in the changelog
                self._lead[warehouse] = split // RHYTHM_BLOCK_HOURS
        detector = self.detectors[warehouse] = (
            DetectorState.from_json(det) if det else DetectorState()
        )
        self._history.load(warehouse, state, detector)
        return state

    def _load_minutes(
        self, warehouse: str, state: WarehouseState, first: int, last: int, held: list[int] | None
    ) -> None:
        """The minute buckets from `first` to `last` (or the minutes `held` names), from the
        records of their hours. The first hour's record may still hold minutes below `first`
        (an hour's record goes once all of it is below the retention): they are left out, and
        the hour is marked to be deleted once it is."""
        wanted = None if held is None else set(held)
        hours = (
            range(hour_of(first), last + 1, HOUR_MS)
            if wanted is None
            else sorted({hour_of(m) for m in wanted})
        )
        for hour in hours:
            raw = self.store.get(MINUTES, hour_key(warehouse, hour))
            if raw is None:
                continue
            for start, bucket in hour_from_bytes(raw).items():
                if (first <= start <= last) if wanted is None else (start in wanted):
                    state.minutes[start] = bucket
            if wanted is None and hour < first:
                self._dying.setdefault(warehouse, set()).add(hour)

    def snapshots(self) -> list[Snapshot]:
        out = []
        for warehouse in sorted(self.known()):
            state = self.state(warehouse)
            if state is not None:
                out.append(snapshot(state, self.config))
        return out

    def firing(self, warehouse: str | None = None, now_ms: int | None = None) -> list[Alert]:
        """Firing alerts of one warehouse (network-wide ones included), or of all; `live` as of
        the processing clock `now_ms` (None: not live) and the partitions last caught up."""
        alerts: list[Alert] = []
        for wh in [warehouse] if warehouse else sorted(self.known()):
            if self.state(wh) is not None:
                alerts.extend(firing(self.detectors[wh]))
        network = firing(self._network())
        alerts.extend(a for a in network if warehouse is None or a.warehouse == warehouse)
        return self._marked(alerts, now_ms, self._caught_up)

    # the status collector's source (ordermon.metrics.MetricsSource)
    def firing_alerts(self, now_ms: int | None = None) -> list[Alert]:
        return self.firing(now_ms=now_ms)

    def _marked(
        self, alerts: list[Alert], now_ms: int | None, caught_up: set[int] | None
    ) -> list[Alert]:
        """`alerts` with `live` set (`is_live`). The network's `*` counts as caught up when every
        partition of this engine's warehouses is."""
        if not alerts:
            return alerts
        every = caught_up is None or set(self.partition_of.values()) <= caught_up
        out = []
        for alert in alerts:
            if alert.warehouse == NETWORK_KEY:
                read = every
            else:
                partition = self.partition_of.get(alert.warehouse)
                read = caught_up is None or partition in caught_up
            live = is_live(alert.updated_at_ms, now_ms, read, self.live_max_age_ms)
            out.append(alert if alert.live is live else replace(alert, live=live))
        return out

    def newest_event_ms(self) -> Mapping[str, int]:
        return dict(self.newest_by_topic)

    # ---- the batch -----------------------------------------------------------------------
    def process(
        self,
        records: Sequence[Record],
        now_ms: int | None,
        caught_up: set[int] | None = None,
        *,
        flush: bool = True,
        ends: Mapping[str, bool] | None = None,
    ) -> Outcome:
        """Count a batch. `now_ms`: the processing clock (None offline: no future-timestamp
        check). `caught_up`: the partitions whose every input topic has been read to its end
        (None: all). Only their warehouses take part in the network-wide evaluation, so a
        warehouse in a partition that is still being read (a replay, a restart) is not called
        silent just because its events have not been reached yet.

        `ends`: every input source the caller reads (`source_of(contract topic, partition)`)
        and whether it has been read to its end; None (offline, the events in the order they
        happened): every source counts as complete. A warehouse's minute closes only once each
        of its partition's sources has been read past it (see `_mark`), so a topic read ahead of
        another, a sparse topic or a partition not fetched yet never makes the other topics'
        events late, and nothing about it needs remembering across a restart.

        `flush`: the outcome's `writes` hold every record changed since the last flush (see
        `flush`); False leaves them for a later call, so that a record changed by many batches is
        written once (the caller must not commit these messages' offsets before then)."""
        out = Outcome()
        self.changes += 1
        self._caught_up = caught_up
        self._ends = ends
        dirty = self._count(records, now_ms, out, caught_up)
        self._evaluate(dirty, now_ms, out, caught_up)
        out.alerts = self._marked(out.alerts, now_ms, caught_up)
        if flush:
            out.writes = self.flush()
            out.flushed = self.flushes
        return out

    def _count(
        self,
        records: Sequence[Record],
        now_ms: int | None,
        out: Outcome,
        caught_up: set[int] | None,
    ) -> dict[str, set[int]]:
        """Decode and apply each record; returns the minutes touched per warehouse. The hot
        loop: everything it reads per record is a local."""
        dirty: dict[str, set[int]] = {}
        config = self.config
        states = self.states
        counted = out.counted
        bases = self._bases
        sources = self._sources
        partition_of = self.partition_of
        newest_by_topic = self.newest_by_topic
        max_future_ms = self.max_future_ms
        read_ms, read_at, read_offsets = self.read_ms, self._read_at, self._read_offsets
        seen_at = now_ms or 0
        # Events older than the retention behind what every input source has been read past are
        # late wherever they come from (agents.logic.flow.apply): a made-up warehouse dated 1970
        # costs what any event costs and evaluates nothing.
        floor_ms = self._floor()
        assigned = self.assigned
        for msg in records:
            if assigned is not None and msg.partition not in assigned:
                # fetched before a rebalance took its partition away: the new owner reads it
                # from the last committed offset (this worker can commit none of it any more)
                continue
            topic = bases.get(msg.topic)
            if topic is None:
                topic = bases[msg.topic] = self.names.base(msg.topic)
            result = decode(topic, msg.key, msg.value, now_ms=now_ms, max_future_ms=max_future_ms)
            if isinstance(result, Rejection):
                out.deadletters.append(self._dead(msg, result, now_ms))
                continue
            at = result.occurred_at_ms
            partition = msg.partition
            source = sources.get((topic, partition))
            if source is None:
                source = sources[topic, partition] = source_of(topic, partition)
            if at > read_ms.get(source, MIN_MS):
                read_ms[source] = at
            read_at[source] = seen_at
            offset = msg.offset
            if offset is not None and offset > read_offsets.get(source, -1):
                read_offsets[source] = offset
            warehouse = result.warehouse
            state = (
                states.get(warehouse)
                or self.state(warehouse)
                or self._admit(warehouse, out, caught_up, dirty)
            )
            if state is None:
                out.deadletters.append(self._dead(msg, self._over_limit(warehouse), now_ms))
                continue
            late_before, ids_before = state.late, state.duplicate_ids
            fresh = apply(state, result, config, source=source, offset=offset, floor_ms=floor_ms)
            partition_of[warehouse] = state.partition = partition
            # A replayed message (after a crash or a rebalance) also marks its records dirty:
            # they are written to the changelog again. The offsets were not committed, so the
            # changelog copy of what it changed may never have reached Kafka, while a local
            # on-disk store already holds the change and the replay itself changes nothing.
            minutes = dirty.get(warehouse)
            if minutes is None:
                minutes = dirty[warehouse] = set()
            minutes.add(at - at % MINUTE_MS)
            if not fresh:
                if state.duplicate_ids != ids_before:
                    out.duplicate_ids[topic] += 1
                else:
                    out.duplicates[topic] += 1
                continue
            key = (topic, result.status, warehouse)
            counted[key] = counted.get(key, 0) + 1
            if state.late != late_before:
                out.late[topic] += 1
            if at > newest_by_topic.get(topic, at - 1):
                newest_by_topic[topic] = at
        return dirty

    def _admit(
        self,
        warehouse: str,
        out: Outcome,
        caught_up: set[int] | None,
        dirty: dict[str, set[int]],
    ) -> WarehouseState | None:
        """A warehouse never seen: a new state, or None when the limit is reached and no idle
        warehouse could give its slot back."""
        known = self.known()
        if len(known) >= self.max_warehouses:
            self._release_at_limit(out, caught_up, keep=dirty)
        if len(known) >= self.max_warehouses:
            return None
        state = self.states[warehouse] = WarehouseState(warehouse)
        self.detectors[warehouse] = DetectorState()
        known.add(warehouse)
        return state

    def _over_limit(self, warehouse: str) -> Rejection:
        return Rejection(
            RejectReason.WAREHOUSE_LIMIT,
            f"warehouse '{warehouse}' would be number {len(self.known()) + 1}; "
            f"this worker tracks at most {self.max_warehouses} "
            "(ORDERMON_MAX_WAREHOUSES): raise it and replay",
        )

    def tick(
        self,
        now_ms: int,
        caught_up: set[int] | None = None,
        ends: Mapping[str, bool] | None = None,
    ) -> Outcome:
        """Close the minutes the watermarks passed without new events: a source read to its end
        went quiet for `idle_after_ms` of the processing clock and no longer holds them. Called
        on a timer by the worker (`ends` as for `process`)."""
        self.changes += 1
        self._caught_up = caught_up
        self._ends = ends
        out = Outcome()
        self._evaluate({}, now_ms, out, caught_up)
        out.alerts = self._marked(out.alerts, now_ms, caught_up)
        out.writes = self.flush()
        out.flushed = self.flushes
        return out

    def _evaluate(
        self,
        dirty: dict[str, set[int]],
        now_ms: int | None,
        out: Outcome,
        caught_up: set[int] | None = None,
    ) -> None:
        self._load_held()
        marks = self._close(dirty, now_ms, out)
        # Network-wide alerts: evaluated at every minute end, once the watermark of every
        # partition here has passed it, from each warehouse's state as of that minute, so that
        # they do not depend on how the events were batched or how far one partition was read
        # ahead of another.
        if not marks or None in marks.values():
            return
        through = minute_start(min(m for m in marks.values() if m is not None))
        at = self._network_at
        if through is None or (at is not None and through <= at):
            return
        # from the first minute any warehouse evaluated, whatever the first batch held
        first = min(self._history.first.values(), default=through) if at is None else at + MINUTE_MS
        if first > through:
            # after a start or a rebalance the warehouses loaded were evaluated up to `first`:
            # the network has nothing new, and must not go back to minutes they passed
            return
        end = first
        while end <= through:
            self._network_at = end
            self._release_empty(end, out, caught_up, keep=dirty)
            network = self._network()
            members = self._history.members(end, self.states, network, self.config, self.detectors)
            cascade = self.holds(0)  # the network's cascade is the holder of partition 0's
            out.alerts.extend(evaluate_network(network, members, end, self.policy, cascade=cascade))
            end = self._next_network_minute(end, through, bool(members or network.episodes))
        self._network_at = through

    def _next_network_minute(self, end: int, through: int, busy: bool) -> int:
        """The next minute end at which the network may change: the next one while a warehouse
        takes part or an episode is open; otherwise (nothing within the retention anywhere, e.g.
        after history from 2008 and before today's events) the end of the next minute with data
        already closed, or past `through`: a quiet stretch of years costs nothing, and what is
        skipped is decided by the events alone."""
        if busy:
            return end + MINUTE_MS
        pending = [q[0] for q in self._history.data.values() if q]
        if not pending:
            return through + MINUTE_MS
        return max(end + MINUTE_MS, min(pending) + MINUTE_MS)

    def _load_held(self) -> None:
        """Every warehouse this engine holds into the cache, once after a start or a rebalance:
        one that sends nothing (a silent one) must still close its minutes and take part in the
        network, or its episode would never go on."""
        if not self._all_loaded:
            self._all_loaded = True
            for warehouse in sorted(self.known()):
                self.state(warehouse)

    # ---- network episodes (records of their own) ---------------------------------------------
    def _network(self) -> NetworkState:
        """The network episodes, loaded from the store on first use (after a start or a
        rebalance): those of the warehouses this engine holds, and the cascade if it holds
        partition 0."""
        if not self._network_loaded:
            self._network_loaded = True
            for key in sorted(self.store.keys(NETWORK)):
                raw = self.store.get(NETWORK, key)
                if raw is None:
                    continue
                episode = episode_from_bytes(raw)
                wh = episode.warehouse
                if self.holds(0) if wh == NETWORK_KEY else wh in self.known():
                    self.network.episodes[f"{episode.kind}:{wh}"] = episode
                    self._network_written[key] = raw
        return self.network

    def _network_writes(self) -> list[Write]:
        """A record for every network episode that changed since it was last written, and a
        deletion for every one that ended (or was dropped with its warehouse)."""
        writes: list[Write] = []
        if not self._network_loaded:
            return writes
        current = {network_key(e.kind, e.warehouse): e for e in self.network.episodes.values()}
        for key in [k for k in self._network_written if k not in current]:
            del self._network_written[key]
            partition = self.partition_for(key.split(b"@", 1)[0].decode())
            if partition is not None:
                writes.append(Write(NETWORK, partition, key, None))
        for key, episode in sorted(current.items()):
            partition = self.partition_for(episode.warehouse)
            raw = episode_to_bytes(episode)
            if partition is None or self._network_written.get(key) == raw:
                continue
            self._network_written[key] = raw
            writes.append(Write(NETWORK, partition, key, raw))
        return writes

    def _close(
        self, dirty: dict[str, set[int]], now_ms: int | None, out: Outcome
    ) -> dict[int | None, int | None]:
        """Close and evaluate the minutes every warehouse's watermark passed (its partition's:
        a warehouse with no new events closes too), expire what fell out of the retention;
        returns the watermark of each partition."""
        config, policy = self.config, self.policy
        marks: dict[int | None, int | None] = {}
        history = self._history
        resyncing: set[int | None] = set()
        for warehouse, state in self.states.items():
            partition = state.partition
            if partition in marks:
                mark = marks[partition]
            else:
                mark = marks[partition] = self._mark(partition, now_ms)
            minutes = dirty.get(warehouse)
            if warehouse in self._resync and not self._resynced(warehouse):
                resyncing.add(partition)
                if minutes:
                    self._unwritten.setdefault(warehouse, set()).update(minutes)
                continue
            closed = state.closed_through_ms
            if minutes is None and (mark is None or (closed is not None and mark < closed)):
                continue
            detector = self.detectors[warehouse]
            ends = close_minutes(state, config, mark)
            for end in ends:
                out.alerts.extend(evaluate_minute(detector, state, config, end, policy))
                history.note(warehouse, end, detector, end - MINUTE_MS in state.minutes)
            if not ends and minutes is None:
                continue
            gone = expire(state, config)
            self._unwritten.setdefault(warehouse, set()).update(minutes or ())
            if gone:
                self._expired.setdefault(warehouse, []).extend(gone)
        # the network waits for every warehouse of a partition (`_evaluate`)
        marks.update(dict.fromkeys(resyncing))
        return marks

    def _resynced(self, warehouse: str) -> bool:
        """Whether a warehouse loaded from its records may close minutes: each source of its
        partition has been read again as far as those records hold (or to its end).

        A warehouse's head and its minutes are records of two tables, whose changelogs are
        separate topics: a worker killed while a flush is on its way may leave the head newer
        than some minutes, or older (the offsets were not committed, so those messages are read
        again). Until they are, its totals count events its minutes do not hold, or the reverse,
        and a minute judged from it would see a backlog that never was."""
        need = self._resync[warehouse]
        ends, read = self._ends, self._read_offsets
        if ends is not None:
            for source, offset in need.items():
                if read.get(source, -1) < offset and ends.get(source) is False:
                    return False
        del self._resync[warehouse]
        return True

    # ---- event time ------------------------------------------------------------------------
    def _mark(self, partition: int | None, now_ms: int | None) -> int | None:
        """The watermark of the warehouses of an input partition: the newest event read from
        any source, held back by each source of the partition that is not complete: one not
        read to its end is complete up to the newest event read from it (not read yet, e.g.
        since a restart: nothing closes); one read to its end holds at that time while it is
        fresh (a record read within `idle_after_ms` of the processing clock: a publisher's
        batches to several partitions need not become readable at once), then not at all.
        Offline (`ends` None) every source is complete. Nothing of this is remembered: it
        follows from what the caller reads.

        One thing comes from the warehouses' records: after a restart or a rebalance, what was
        read before is known only from them. A partition whose every source is read to its end
        (another worker, or this one before, read it all and committed) sends nothing more, so
        the newest event read from any source is also the newest event its records hold, here
        or in any partition loaded (or they would stay open for ever, or close less far than
        the same events read in one go: the newest one read may lie in a partition that was
        read to its end before the restart and not read again)."""
        read_ms = self.read_ms
        ends = self._ends
        bound = max(read_ms.values()) if read_ms else None
        if ends is None:
            return None if bound is None else bound - self.config.lateness_ms
        idle = self.config.idle_after_ms
        p = partition or 0
        complete = True  # every source of the partition read to its end and quiet
        for topic in INPUT_TOPICS:
            source = self._source(topic, p)
            done = ends.get(source)
            if done is None:
                complete = False
                continue  # not read here: not this worker's to wait for
            if done and (now_ms is None or now_ms - self._read_at.get(source, MIN_MS) >= idle):
                continue
            read = read_ms.get(source)
            if read is None:
                return None
            complete = False
            bound = read if bound is None else min(bound, read)
        if complete and now_ms is not None:
            loaded = self._loaded_newest
            if loaded is not None and (bound is None or loaded > bound):
                bound = loaded
        return None if bound is None else bound - self.config.lateness_ms

    def _source(self, topic: str, partition: int) -> str:
        source = self._sources.get((topic, partition))
        if source is None:
            source = self._sources[topic, partition] = source_of(topic, partition)
        return source

    def _floor(self) -> int | None:
        """Events before this are late for every warehouse: the retention back from the newest
        closed minute, or from the least any source not read to its end has been read past
        (None: some source not read yet, or nothing closed)."""
        at = self._network_at
        if at is None:
            return None
        ends = self._ends
        if ends is not None:
            for source, done in ends.items():
                if not done:
                    read = self.read_ms.get(source)
                    if read is None:
                        return None
                    at = min(at, read)
        return at - self.config.retention_ms

    # ---- idle warehouses (agents.logic.idle) ---------------------------------------------------
    def _idle(
        self,
        candidates: Iterable[str],
        at_ms: int,
        caught_up: set[int] | None,
        keep: Mapping[str, object] | None = None,
    ) -> list[str]:
        """The candidates quiet for longer than `release_after_ms` at `at_ms`, the longest quiet
        first, in partitions read to their end (in a catch-up their newer events may not have
        been read) or read past that quiet time (`_read_through`), except those in `keep` (counted
        in the batch under way)."""
        found: list[tuple[int, str]] = []
        read_through: dict[int, int | None] = {}  # partition -> `_read_through`, once a call
        for warehouse in candidates:
            if keep is not None and warehouse in keep:
                continue
            state = self.state(warehouse)
            if state is None or not is_stale(state.newest_ms, at_ms, self.release_after_ms):
                continue
            partition = self.partition_of.get(warehouse, state.partition)
            newest = state.newest_ms
            if partition is None:
                continue
            if caught_up is not None and partition not in caught_up:
                if partition not in read_through:
                    read_through[partition] = self._read_through(partition)
                through = read_through[partition]
                if newest is None or through is None or through < newest + self.release_after_ms:
                    continue
            found.append((MIN_MS if newest is None else newest, warehouse))
        return [warehouse for _newest, warehouse in sorted(found)]

    def _read_through(self, partition: int) -> int | None:
        """The event time `partition` has been read through: the oldest of the newest events
        read from its input sources not at their end (`MAX_MS` when all are); None when the
        caller names none. A warehouse of a partition still being read whose events stopped
        before it was quiet that long in its own stream, not only behind it. Under steady
        traffic a partition is seldom read to its end at the moment a batch is handled, and a
        new warehouse at the limit would be refused though idle ones could give their slot
        back."""
        ends = self._ends
        suffix = f"/{partition}"
        sources = [source for source in ends or () if source.endswith(suffix)]
        if not sources:
            return None
        assert ends is not None
        read_ms = self.read_ms
        return min(
            (read_ms.get(source, MIN_MS) for source in sources if not ends[source]),
            default=MAX_MS,
        )

    def _release(self, warehouse: str, at_ms: int, out: Outcome) -> None:
        """Forget a warehouse: its firing alerts resolved (with the reason), its records deleted
        at the next flush, its slot free."""
        state = self.states[warehouse]
        partition = self.partition_of.get(warehouse, state.partition)
        assert partition is not None  # _idle() only returns warehouses whose partition is known
        out.alerts.extend(release_messages(self.firing(warehouse), at_ms, self.release_after_ms))
        self._network().episodes.pop(f"{SILENT}:{warehouse}", None)
        key = network_key(SILENT, warehouse)
        if self._network_written.pop(key, None) is not None:
            self._deletes.append(Write(NETWORK, partition, key, None))
        del self.states[warehouse]
        self.detectors.pop(warehouse, None)
        self._history.forget(warehouse)
        self.partition_of.pop(warehouse, None)
        self.known().discard(warehouse)
        self._unwritten.pop(warehouse, None)
        self._parts.pop(warehouse, None)
        self._resync.pop(warehouse, None)
        minutes = set(state.minutes) | set(self._expired.pop(warehouse, ()))
        hours = {hour_of(m) for m in minutes} | self._dying.pop(warehouse, set())
        self._deletes.append(Write(HEADS, partition, warehouse.encode(), None))
        self._deletes.extend(
            Write(MINUTES, partition, hour_key(warehouse, h), None) for h in sorted(hours)
        )
        self._deletes.extend(
            Write(MINUTES, partition, rhythm_key(warehouse, b), None)
            for b in sorted(self._blocks.pop(warehouse, ()))
        )
        self._lead.pop(warehouse, None)
        out.released.append(warehouse)

    def _release_empty(
        self,
        at_ms: int,
        out: Outcome,
        caught_up: set[int] | None,
        keep: Mapping[str, object] | None = None,
    ) -> None:
        """Warehouses with nothing within the retention (every event of theirs was late, e.g. a
        made-up warehouse dated 1970) are released as soon as they are idle (not in the batch
        that counted them): they hold totals only, and nothing of theirs is ever evaluated."""
        empty = [wh for wh, st in self.states.items() if not st.newest_by_topic]  # newest_ms None
        for warehouse in self._idle(empty, at_ms, caught_up, keep):
            self._release(warehouse, at_ms, out)

    def _release_at_limit(
        self, out: Outcome, caught_up: set[int] | None, keep: Mapping[str, object]
    ) -> None:
        """At the warehouse limit, before a new warehouse is refused: release the longest idle
        warehouse, if any (looked for among all the known ones once per network mark and set
        of partitions read to their end: one read to its end since offers its idle ones too).

        Only then: a real site closed for a day or two keeps its backlog and its learned
        rhythm while there is room, and a flood of made-up ids releases its own kind first
        (they are the longest idle)."""
        at = self._network_at
        if at is None:
            return
        key = (at, None if caught_up is None else frozenset(caught_up))
        if self._idle_at != key:
            self._idle_at = key
            self._idle_list = self._idle(sorted(self.known()), at, caught_up, keep)
        while self._idle_list:
            warehouse = self._idle_list.pop(0)
            if warehouse in keep or warehouse not in self.known():
                continue
            state = self.state(warehouse)
            if state is None or not is_stale(state.newest_ms, at, self.release_after_ms):
                continue
            self._release(warehouse, at, out)
            return

    # ---- persistence -------------------------------------------------------------------------
    def flush(self) -> list[Write]:
        """The records changed since the last flush, from the current state: each warehouse's
        head, every hour whose minute buckets were touched, and a deletion for every hour that
        went wholly below the retention before a flush whose records are known to be written. A
        record changed by several batches in between is written once.

        An hour's deletion waits until the head that no longer needs its minutes is in its
        changelog. The heads and the minutes are two changelogs, and a producer sends each
        partition's records on its own: a worker killed in mid-flush could otherwise leave the
        minutes deleted and a head from before, which needs them (its rhythm would lose the
        hours they held; `_resynced` covers the other ways a flush can be half-written). With
        `confirmed_deletes` the caller says when that is (`durable`, after the producer
        acknowledged them); without, by the next flush (a caller that writes synchronously).
        Killed before the deletion is written, the hour stays in the changelog, below every
        retention floor, never loaded."""
        self.flushes += 1
        through = self._durable_through if self._confirmed_deletes else self.flushes - 1
        writes: list[Write] = self._deletes
        self._deletes = []
        if self._expiring and self._expiring[0][0] <= through:
            waiting: list[tuple[int, Write]] = []
            for n, delete in self._expiring:
                if n <= through:
                    writes.append(delete)
                else:
                    waiting.append((n, delete))
            self._expiring = waiting
        writes.extend(self._network_writes())
        for warehouse, minutes in self._unwritten.items():
            state = self.states.get(warehouse)
            if state is None:
                continue
            partition = self.partition_of[warehouse]
            detector = self.detectors[warehouse]
            split = self._rhythm_blocks(warehouse, partition, detector.rhythm, through, writes)
            head = head_to_bytes(state, detector_json(detector, split))
            writes.append(Write(HEADS, partition, warehouse.encode(), head))
            floor = retention_floor(state, self.config)
            for hour in sorted({hour_of(m) for m in minutes}):
                buckets = self._hour(warehouse, state, hour, floor)
                if buckets:
                    value = hour_to_bytes(buckets, self._encoded(warehouse, hour, buckets, minutes))
                    writes.append(Write(MINUTES, partition, hour_key(warehouse, hour), value))
            self._expire_hours(warehouse, partition, floor)
        # (a warehouse whose minutes expired is among the unwritten ones: `_close`)
        self._unwritten.clear()
        self._expired.clear()
        return writes

    def _rhythm_blocks(
        self, warehouse: str, partition: int, rhythm: Rhythm, through: int, writes: list[Write]
    ) -> int | None:
        """A record for each block of the rhythm's hours that has passed (`persist.rhythm_key`:
        its rows never change again), written once; a deletion, once the head written now is in
        its changelog, for each block wholly before the rhythm's first row (dropped, or the
        rhythm started over). Returns where the head's rows begin (the split): after the
        leading blocks whose record is in its changelog (written by a flush up to `through`;
        the head and these records are two changelogs, and a worker killed in mid-flush must
        not leave a head that needs rows no record holds). None: the head holds every row."""
        first = rhythm.first_hour
        if first is None:
            return None
        size = RHYTHM_BLOCK_HOURS
        blocks = self._blocks.setdefault(warehouse, {})  # ascending: written in hour order
        for block in list(takewhile(lambda b: (b + 1) * size <= first, blocks)):
            del blocks[block]
            delete = Write(MINUTES, partition, rhythm_key(warehouse, block), None)
            self._expiring.append((self.flushes, delete))
        running = first + len(rhythm.rows) - 1  # the last row may still change
        # the blocks before `lead` are in the changelog
        lead = max(first // size, self._lead.get(warehouse, first // size))
        for block in range(lead, running // size):
            written = blocks.get(block)
            if written is None:
                written = blocks[block] = self._block_flush = self.flushes
                value = rhythm_block_to_bytes(rhythm, block)
                writes.append(Write(MINUTES, partition, rhythm_key(warehouse, block), value))
            if written <= through and block == lead:
                lead += 1
        self._lead[warehouse] = lead
        return lead * size if lead > first // size else None

    def _hour(
        self, warehouse: str, state: WarehouseState, hour: int, floor: int | None
    ) -> dict[int, Bucket]:
        """The buckets of an hour's record: those held, and, for an hour whose first minutes
        fell below the retention floor, the ones its record still holds there. (The head
        written with it may never reach its changelog, if the worker dies in mid-flush: the
        head before, whose floor is lower, still needs them.)"""
        minutes = state.minutes
        buckets = {
            m: thaw(b)  # a frozen minute as a bucket of its own (it stays frozen)
            for m in range(hour, hour + HOUR_MS, MINUTE_MS)
            if (b := minutes.get(m)) is not None
        }
        if floor is not None and hour < floor:
            raw = self.store.get(MINUTES, hour_key(warehouse, hour))
            if raw is not None:
                for m, bucket in hour_from_bytes(raw).items():
                    if m < floor and m not in buckets:
                        buckets[m] = bucket
                buckets = dict(sorted(buckets.items()))
        return buckets

    def _encoded(
        self, warehouse: str, hour: int, buckets: Mapping[int, Bucket], changed: set[int]
    ) -> dict[int, Fragment] | None:
        """The encoded parts of the buckets of the warehouse's newest hour written (None for an
        older one, which a late event touched): each minute's part is encoded again only when
        the minute changed since (`changed`, the minutes counted in), its bucket is another
        object (loaded, or merged from below the retention floor) or it dropped its event ids
        (beyond the dedup horizon, which changes no minute counted in)."""
        cached = self._parts.get(warehouse)
        if cached is None or cached[0] < hour:
            cached = self._parts[warehouse] = (hour, {})
        elif cached[0] > hour:
            return None
        parts = cached[1]
        out: dict[int, Fragment] = {}
        for m, bucket in buckets.items():
            part = parts.get(m)
            has_ids = bucket.ids is not None
            if part is None or m in changed or part[0] is not bucket or part[1] != has_ids:
                part = parts[m] = (bucket, has_ids, bucket_fragment(bucket))
            out[m] = part[2]
        return out

    def _expire_hours(self, warehouse: str, partition: int, floor: int | None) -> None:
        """Queue the deletion of each hour record of the warehouse that lies wholly below the
        retention floor now; it is written once the head that no longer needs it is in its
        changelog (`flush`)."""
        gone = self._expired.get(warehouse)
        if gone:
            self._dying.setdefault(warehouse, set()).update(hour_of(m) for m in gone)
        dying = self._dying.get(warehouse)
        if not dying or floor is None:
            return
        for hour in sorted(h for h in dying if h + HOUR_MS <= floor):
            dying.discard(hour)
            delete = Write(MINUTES, partition, hour_key(warehouse, hour), None)
            self._expiring.append((self.flushes, delete))

    def deletes_waiting(self) -> bool:
        """Whether records wait for `durable` (with confirmed_deletes): deletions to write, or
        rhythm blocks written that the heads may leave out once they are in their changelog."""
        return bool(self._expiring) or self._block_flush > self._durable_through

    def durable(self, through: int | None = None) -> None:
        """Every record of the flushes up to number `through` (None: all so far, see
        `flushes`) is in its changelog: the deletions they made unneeded go with the next."""
        through = self.flushes if through is None else through
        self._durable_through = max(self._durable_through, through)

    def _dead(self, msg: Record, rejection: Rejection, now_ms: int | None) -> DeadLetter:
        return DeadLetter(
            source_topic=msg.topic,
            partition=msg.partition,
            offset=-1 if msg.offset is None else msg.offset,
            error=rejection.message,
            reason=str(rejection.reason),
            received_at_ms=now_ms or 0,
            payload=msg.value,
        )
