"""One batch of input messages -> counts, dead letters, alerts and the records to persist.

No Faust here: the agent (agents.ingest) hands messages in and carries the outcome to Kafka, the
tables, the metrics and the sinks. State is cached in memory and loaded lazily from a `Backend`
(the Faust tables in the worker, dicts in tests)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from agents.logic.flow import (
    FlowConfig,
    Snapshot,
    WarehouseState,
    apply,
    close_minutes,
    expire,
    retention_floor,
    snapshot,
    source_of,
    watermark,
)
from agents.logic.idle import is_stale, release_messages
from agents.logic.persist import (
    bucket_from_bytes,
    bucket_to_bytes,
    head_from_bytes,
    head_to_bytes,
    minute_key,
)
from agents.logic.windows import MINUTE_MS, minute_start
from streams.codec import decode
from streams.errors import RejectReason
from streams.outputs import Alert, DeadLetter
from streams.timefmt import MIN_MS
from streams.topics import TopicNames
from streams.validation import Rejection

HEADS = "heads"
MINUTES = "minutes"


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
    table: str  # HEADS or MINUTES
    partition: int
    key: bytes
    value: bytes | None  # None deletes


class Backend(Protocol):
    """Durable storage of the records (Faust tables backed by changelog topics)."""

    def get(self, table: str, key: bytes) -> bytes | None: ...

    def keys(self, table: str) -> Iterable[bytes]: ...


class Evaluator(Protocol):
    """The detector, as the pipeline sees it (agents.detection adapts agents.logic.detector)."""

    def load(self, raw: dict[str, Any] | None) -> Any: ...

    def dump(self, detector: Any) -> dict[str, Any] | None: ...

    def minute(self, detector: Any, state: WarehouseState, at_ms: int) -> list[Alert]: ...

    def firing(self, detector: Any) -> list[Alert]: ...

    def network(self, members: Mapping[str, tuple[Any, int | None]], at_ms: int) -> list[Alert]: ...

    def network_firing(self) -> list[Alert]: ...


class NoDetection:
    """Counting only: no alerts."""

    def load(self, raw: dict[str, Any] | None) -> Any:
        return None

    def dump(self, detector: Any) -> dict[str, Any] | None:
        return None

    def minute(self, detector: Any, state: WarehouseState, at_ms: int) -> list[Alert]:
        return []

    def firing(self, detector: Any) -> list[Alert]:
        return []

    def network(self, members: Mapping[str, tuple[Any, int | None]], at_ms: int) -> list[Alert]:
        return []

    def network_firing(self) -> list[Alert]:
        return []


@dataclass
class Outcome:
    counted: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # (topic, status, wh)
    deadletters: list[DeadLetter] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    writes: list[Write] = field(default_factory=list)
    late: Counter[str] = field(
        default_factory=Counter
    )  # topic -> valid events older than retention
    duplicates: Counter[str] = field(default_factory=Counter)  # topic -> replayed offsets skipped
    duplicate_ids: Counter[str] = field(default_factory=Counter)  # topic -> repeated event_ids
    released: list[str] = field(default_factory=list)  # warehouses that gave their slot back


class Pipeline:
    def __init__(
        self,
        config: FlowConfig,
        names: TopicNames,
        backend: Backend,
        *,
        evaluator: Evaluator | None = None,
        max_warehouses: int = 1000,
        max_future_ms: int | None = 300_000,
        release_after_ms: int | None = None,
    ) -> None:
        self.config = config
        self.names = names
        self.backend = backend
        self.evaluator: Evaluator = evaluator or NoDetection()
        self.max_warehouses = max_warehouses
        self.max_future_ms = max_future_ms
        # a warehouse quiet for longer than this (event time) gives its slot back; None: the
        # retention (agents.logic.idle)
        self.release_after_ms = release_after_ms or config.retention_ms
        self.states: dict[str, WarehouseState] = {}
        self.detectors: dict[str, Any] = {}
        self.partition_of: dict[str, int] = {}
        self.newest_event_ms: dict[str, int] = {}  # contract topic -> newest occurred_at seen
        self._bases: dict[str, str] = {}  # full topic name -> the contract's name
        self._sources: dict[tuple[str, int], str] = {}  # (topic, partition) -> source_of()
        self._unwritten: dict[str, set[int]] = {}  # warehouse -> minutes changed since flush()
        self._expired: dict[str, list[int]] = {}  # warehouse -> minutes expired since flush()
        self._network_at: int | None = None  # the newest mark network alerts were evaluated at
        self._known: set[str] | None = None
        self._deletes: list[Write] = []  # records of released warehouses, deleted at flush()
        self._idle_at: int | None = None  # the mark at which _idle_list was found
        self._idle_list: list[str] = []  # idle warehouses to release at the limit, most idle first

    # ---- state ---------------------------------------------------------------------------
    def forget(self) -> None:
        """Drop the cache (after a rebalance the tables are the truth)."""
        self.states.clear()
        self.detectors.clear()
        self.partition_of.clear()
        self._unwritten.clear()
        self._expired.clear()
        self._known = None

    def known(self) -> set[str]:
        if self._known is None:
            self._known = {k.decode() for k in self.backend.keys(HEADS)} | set(self.states)
        return self._known

    def state(self, warehouse: str) -> WarehouseState | None:
        """The cached state, loaded from the backend on first use; None if never seen."""
        state = self.states.get(warehouse)
        if state is not None:
            return state
        raw = self.backend.get(HEADS, warehouse.encode())
        if raw is None:
            return None
        state, det = head_from_bytes(warehouse, raw)
        if state.partition is not None:
            self.partition_of.setdefault(warehouse, state.partition)
        newest = state.newest_ms
        if newest is not None:
            first = retention_floor(state, self.config)
            for start in range(first, minute_start(newest) + MINUTE_MS, MINUTE_MS):
                bucket = self.backend.get(MINUTES, minute_key(warehouse, start))
                if bucket is not None:
                    state.minutes[start] = bucket_from_bytes(bucket)
        self.states[warehouse] = state
        self.detectors[warehouse] = self.evaluator.load(det)
        return state

    def snapshots(self) -> list[Snapshot]:
        out = []
        for warehouse in sorted(self.known()):
            state = self.state(warehouse)
            if state is not None:
                out.append(snapshot(state, self.config))
        return out

    def firing(self, warehouse: str | None = None) -> list[Alert]:
        """Firing alerts of one warehouse (network-wide ones included), or of all."""
        alerts: list[Alert] = []
        for wh in [warehouse] if warehouse else sorted(self.known()):
            if self.state(wh) is not None:
                alerts.extend(self.evaluator.firing(self.detectors.get(wh)))
        network = self.evaluator.network_firing()
        alerts.extend(a for a in network if warehouse is None or a.warehouse == warehouse)
        return alerts

    # ---- the batch -----------------------------------------------------------------------
    def process(
        self,
        messages: Sequence[Record],
        now_ms: int,
        caught_up: set[int] | None = None,
        *,
        flush: bool = True,
    ) -> Outcome:
        """Count a batch. `caught_up`: the partitions whose every input topic has been read to
        its end (None: all). Only their warehouses take part in the network-wide evaluation, so
        a warehouse in a partition that is still being read (a replay, a restart) is not called
        silent just because its events have not been reached yet.

        `flush`: the outcome's `writes` hold every record changed since the last flush (see
        `flush`); False leaves them for a later call, so that a record changed by many batches is
        written once (the caller must not commit these messages' offsets before then)."""
        out = Outcome()
        dirty: dict[str, set[int]] = {}
        config = self.config
        states = self.states
        counted = out.counted
        bases = self._bases
        sources = self._sources
        max_future_ms = self.max_future_ms
        # Events older than the retention behind the newest event time of any warehouse here are
        # late wherever they come from (agents.logic.flow.apply): a made-up warehouse dated 1970
        # costs what any event costs and evaluates nothing.
        newest_any = max(self.newest_event_ms.values(), default=None)
        floor_ms = None if newest_any is None else newest_any - config.retention_ms
        for msg in messages:
            topic = bases.get(msg.topic)
            if topic is None:
                topic = bases[msg.topic] = self.names.base(msg.topic)
            result = decode(topic, msg.key, msg.value, now_ms=now_ms, max_future_ms=max_future_ms)
            if isinstance(result, Rejection):
                out.deadletters.append(self._dead(msg, topic, result, now_ms))
                continue
            warehouse = result.warehouse
            state = states.get(warehouse) or self.state(warehouse)
            if state is None:
                known = self.known()
                if len(known) >= self.max_warehouses:
                    self._release_at_limit(out, caught_up, keep=dirty)
                if len(known) >= self.max_warehouses:
                    out.deadletters.append(
                        self._dead(
                            msg,
                            topic,
                            Rejection(
                                RejectReason.WAREHOUSE_LIMIT,
                                f"warehouse '{warehouse}' would be number {len(known) + 1}; "
                                f"this worker tracks at most {self.max_warehouses} "
                                "(ORDERMON_MAX_WAREHOUSES): raise it and replay",
                            ),
                            now_ms,
                        )
                    )
                    continue
                state = self.states[warehouse] = WarehouseState(warehouse)
                self.detectors[warehouse] = self.evaluator.load(None)
                known.add(warehouse)
            late_before, ids_before = state.late, state.duplicate_ids
            partition = msg.partition
            source = sources.get((topic, partition))
            if source is None:
                source = sources[topic, partition] = source_of(topic, partition)
            fresh = apply(
                state,
                result,
                config,
                source=source,
                offset=msg.offset,
                seen_at_ms=now_ms,
                floor_ms=floor_ms,
            )
            self.partition_of[warehouse] = state.partition = partition
            at = result.occurred_at_ms
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
            if at > self.newest_event_ms.get(topic, at - 1):
                self.newest_event_ms[topic] = at
        self._evaluate(dirty, now_ms, out, caught_up)
        if flush:
            out.writes = self.flush()
        return out

    def tick(self, now_ms: int, caught_up: set[int] | None = None) -> Outcome:
        """Evaluate the warehouses whose watermark moved without new events: a quiet topic was
        released by the processing clock (`idle_after_ms`). Called on a timer by the worker."""
        dirty: dict[str, set[int]] = {}
        for warehouse, state in self.states.items():
            mark = watermark(state, self.config, now_ms)
            if mark is None:
                continue
            closed = state.closed_through_ms
            if closed is None or minute_start(mark) > closed:
                dirty[warehouse] = set()
        out = Outcome()
        if dirty:
            self._evaluate(dirty, now_ms, out, caught_up)
        out.writes = self.flush()
        return out

    def _evaluate(
        self,
        dirty: dict[str, set[int]],
        now_ms: int,
        out: Outcome,
        caught_up: set[int] | None = None,
    ) -> None:
        newest_mark: int | None = None
        for warehouse, minutes in dirty.items():
            state = self.states[warehouse]
            detector = self.detectors.get(warehouse)
            for end in close_minutes(state, self.config, now_ms):
                out.alerts.extend(self.evaluator.minute(detector, state, end))
            if state.closed_through_ms is not None:
                mark = state.closed_through_ms
                newest_mark = mark if newest_mark is None else max(newest_mark, mark)
            gone = expire(state, self.config)
            self._unwritten.setdefault(warehouse, set()).update(minutes)
            if gone:
                self._expired.setdefault(warehouse, []).extend(gone)
        # Network-wide alerts change with the detectors (at minute closes) and with time: they
        # are evaluated when the newest closed minute moves on, not on every batch.
        if newest_mark is not None and (self._network_at is None or newest_mark > self._network_at):
            self._network_at = newest_mark
            self._release_empty(newest_mark, out, caught_up)
            # A warehouse with nothing within the retention takes no part (it cannot be called
            # silent on the strength of an event from 1970), unless it was already silent.
            silent = {a.warehouse for a in self.evaluator.network_firing()}
            members = {
                wh: (self.detectors.get(wh), st.newest_ms)
                for wh, st in self.states.items()
                if (caught_up is None or self.partition_of.get(wh) in caught_up)
                and (
                    wh in silent
                    or not is_stale(st.newest_ms, newest_mark, self.config.retention_ms)
                )
            }
            out.alerts.extend(self.evaluator.network(members, newest_mark))

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
        been read), except those in `keep` (counted in the batch under way)."""
        found: list[tuple[int, str]] = []
        for warehouse in candidates:
            if keep is not None and warehouse in keep:
                continue
            state = self.state(warehouse)
            if state is None or not is_stale(state.newest_ms, at_ms, self.release_after_ms):
                continue
            partition = self.partition_of.get(warehouse, state.partition)
            if partition is None or (caught_up is not None and partition not in caught_up):
                continue
            newest = state.newest_ms
            found.append((MIN_MS if newest is None else newest, warehouse))
        return [warehouse for _newest, warehouse in sorted(found)]

    def _release(self, warehouse: str, at_ms: int, out: Outcome) -> None:
        """Forget a warehouse: its firing alerts resolved (with the reason), its records deleted
        at the next flush, its slot free."""
        state = self.states[warehouse]
        partition = self.partition_of.get(warehouse, state.partition)
        assert partition is not None  # _idle() only returns warehouses whose partition is known
        out.alerts.extend(release_messages(self.firing(warehouse), at_ms, self.release_after_ms))
        del self.states[warehouse]
        self.detectors.pop(warehouse, None)
        self.partition_of.pop(warehouse, None)
        self.known().discard(warehouse)
        self._unwritten.pop(warehouse, None)
        minutes = set(state.minutes) | set(self._expired.pop(warehouse, ()))
        self._deletes.append(Write(HEADS, partition, warehouse.encode(), None))
        self._deletes.extend(
            Write(MINUTES, partition, minute_key(warehouse, m), None) for m in sorted(minutes)
        )
        out.released.append(warehouse)

    def _release_empty(self, at_ms: int, out: Outcome, caught_up: set[int] | None) -> None:
        """Warehouses with nothing within the retention (every event of theirs was late, e.g. a
        made-up warehouse dated 1970) are released as soon as they are idle: they hold totals
        only, and nothing of theirs is ever evaluated."""
        empty = [wh for wh, st in self.states.items() if st.newest_ms is None]
        for warehouse in self._idle(empty, at_ms, caught_up):
            self._release(warehouse, at_ms, out)

    def _release_at_limit(
        self, out: Outcome, caught_up: set[int] | None, keep: Mapping[str, object]
    ) -> None:
        """At the warehouse limit, before a new warehouse is refused: release the longest idle
        warehouse, if any (looked for among all the known ones once per network mark).

        Only then: a real site closed for a day or two keeps its backlog and its learned
        rhythm while there is room, and a flood of made-up ids releases its own kind first
        (they are the longest idle)."""
        at = self._network_at
        if at is None:
            return
        if self._idle_at != at:
            self._idle_at = at
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
        head, every minute bucket touched, and a deletion for every minute expired. A record
        changed by several batches in between is written once."""
        writes: list[Write] = self._deletes
        self._deletes = []
        for warehouse, minutes in self._unwritten.items():
            state = self.states.get(warehouse)
            if state is None:
                continue
            partition = self.partition_of[warehouse]
            detector = self.detectors.get(warehouse)
            writes.append(
                Write(
                    HEADS,
                    partition,
                    warehouse.encode(),
                    head_to_bytes(state, self.evaluator.dump(detector)),
                )
            )
            for start in sorted(minutes):
                bucket = state.minutes.get(start)
                if bucket is not None:
                    writes.append(
                        Write(
                            MINUTES,
                            partition,
                            minute_key(warehouse, start),
                            bucket_to_bytes(bucket),
                        )
                    )
            for start in self._expired.pop(warehouse, ()):
                writes.append(Write(MINUTES, partition, minute_key(warehouse, start), None))
        self._unwritten.clear()
        self._expired.clear()
        return writes

    def _dead(self, msg: Record, topic: str, rejection: Rejection, now_ms: int) -> DeadLetter:
        return DeadLetter(
            source_topic=msg.topic,
            partition=msg.partition,
            offset=-1 if msg.offset is None else msg.offset,
            error=rejection.message,
            reason=str(rejection.reason),
            received_at_ms=now_ms,
            payload=msg.value,
        )
