"""One warehouse's flows in event time: per-minute counts, totals, backlogs and rates.

`WarehouseState` is mutated in place by `apply` (the hot path); everything is a function of the
events and of the times passed in. Idempotence: every record (the totals, and each minute bucket)
remembers the last source offset applied to it per topic partition, so a message replayed after a
crash changes nothing, whichever of the records had reached the changelog.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final, TypeAlias

import orjson

from ordermon.agents.logic.sliding import PACKS, Sliding, counts_of
from ordermon.agents.logic.windows import MINUTE_MS, minute_start
from ordermon.streams.events import Event
from ordermon.streams.flows import FLOWS, INPUT_TOPICS, QUEUES, STATUSES, Queue, flow_name

FLOW_INDEX: Final = {name: i for i, name in enumerate(FLOWS)}
# (topic, status) -> index in FLOWS: the hot path's lookup, without building the flow's name
_INDEX_OF: Final = {(t, s): FLOW_INDEX[flow_name(t, s)] for t, ss in STATUSES.items() for s in ss}
N_FLOWS: Final = len(FLOWS)
# One character per input topic before an event_id in a bucket's `ids`: publishers' event ids are
# unique within a topic only (an order and its dispatch may share one), so de-duplication is per
# (topic, event_id).
_ID_TAG: Final = {topic: chr(ord("a") + i) for i, topic in enumerate(INPUT_TOPICS)}


def zero_counts() -> list[int]:
    return [0] * N_FLOWS


@dataclass(slots=True)
class Bucket:
    """Counts of one minute, indexed like FLOWS, and the offsets already applied to them."""

    counts: list[int] = field(default_factory=zero_counts)
    # the offsets applied, flat: [source, offset, source, offset, ...] (a list of two items takes
    # 72 bytes where a dict of one entry takes 184; a day of 1,000 warehouses holds 1.44 M
    # buckets, most of them with one source or two)
    applied: list[str | int] = field(default_factory=list)
    # topic tag + event_id -> "source:offset" that carried it (see _ID_TAG); None: none kept (a
    # day of 1,000 warehouses holds 1.44 M buckets, almost all beyond the dedup horizon)
    ids: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class FlowConfig:
    """Event-time settings of the counting stage (milliseconds)."""

    retention_ms: int = 24 * 60 * MINUTE_MS  # how long per-minute counts are kept
    lateness_ms: int = 2 * MINUTE_MS  # watermark = what is complete - lateness
    horizon_ms: int = 15 * MINUTE_MS  # rates are averaged over this many minutes
    # processing time an input partition read to its end must stay quiet before it stops
    # holding the watermarks of its warehouses (agents.engine)
    idle_after_ms: int = 60_000
    # a repeated event_id is ignored when its minute is within this much of the newest event
    dedup_ms: int = 10 * MINUTE_MS


# A minute more than `HOT_MS` behind the last closed one is kept frozen (`freeze`): its counts
# packed (`sliding.PACKS`: 16-bit integers but for a minute of 65,536 events of a kind), then
# its offsets applied as JSON, in one bytes object of about 70 bytes that the garbage collector
# does not track, where a `Bucket` with its two lists and its offset took about 300. A day of
# 1,000 warehouses holds 1.44 M minutes; the detector reads an old minute's counts only as it
# leaves a window (`counts_of`), and a late event that lands in one thaws it (`apply`). Two
# hours: every window the detector slides (`WINDOWS_MS`) up to two hours reads hot minutes, and
# the current hour's record, rewritten at every flush, holds hot minutes only.
HOT_MS: Final = 2 * 60 * MINUTE_MS
_SMALL: Final = 1 << 16  # counts below this are packed in 16 bits, the rest in 32
_FREEZABLE: Final = 1 << 32  # a count this high stays a Bucket

Minute: TypeAlias = "Bucket | bytes"  # a minute's bucket, or frozen


def freeze(bucket: Bucket) -> bytes:
    """A bucket without event ids, packed (see `HOT_MS`); `thaw` gives it back."""
    kind = 0 if max(bucket.counts) < _SMALL else 1
    return bytes((kind,)) + PACKS[kind].pack(*bucket.counts) + orjson.dumps(bucket.applied)


def thaw(minute: Minute) -> Bucket:
    """The bucket of a minute, frozen or not (a frozen one as a new Bucket)."""
    if isinstance(minute, Bucket):
        return minute
    pack = PACKS[minute[0]]
    applied: list[str | int] = orjson.loads(memoryview(minute)[1 + pack.size :])
    return Bucket(counts=list(pack.unpack_from(minute, 1)), applied=applied)


@dataclass(slots=True)
class WarehouseState:
    warehouse: str
    totals: list[int] = field(default_factory=zero_counts)
    applied: dict[str, int] = field(default_factory=dict)
    minutes: dict[int, Minute] = field(default_factory=dict)
    newest_by_topic: dict[str, int] = field(default_factory=dict)
    late: int = 0  # valid events older than the retention: in the backlog, in no minute
    duplicates: int = 0  # messages skipped because their offset was already applied
    duplicate_ids: int = 0  # messages skipped because their event_id was already counted
    ids_floor_ms: int | None = None  # buckets before this minute no longer keep event ids
    frozen_floor_ms: int | None = None  # minutes before this one are frozen; not persisted
    expired_floor_ms: int | None = None  # retention floor of the last expiry; not persisted
    sliding: Sliding | None = None  # the detector's window sums; derived, not persisted
    closed_through_ms: int | None = None  # end of the last minute handed to evaluation
    # the newest minute with data before `closed_through_ms` (NO_DATA: none); derived, not
    # persisted (None: not known, close_minutes scans once)
    data_below_ms: int | None = None
    partition: int | None = None  # the input partition its events come from (its records' too)

    @property
    def newest_ms(self) -> int | None:
        return max(self.newest_by_topic.values()) if self.newest_by_topic else None


NO_DATA: Final = -(1 << 62)  # `data_below_ms` when no minute before the closed ones has data


def source_of(topic: str, partition: int) -> str:
    return f"{topic}/{partition}"


def apply(
    state: WarehouseState,
    event: Event,
    config: FlowConfig,
    *,
    source: str | None = None,
    offset: int | None = None,
    floor_ms: int | None = None,
) -> bool:
    """Count one event. Returns False when it changes nothing: its (source, offset) was applied
    before (a replay after a crash: `state.duplicates`), or another message already carried its
    `event_id` within the dedup horizon (a publisher's redelivery: `state.duplicate_ids`).

    An event older than the retention, counted back from the warehouse's watermark (the end of
    its last closed minute: never from the newest event of one of its topics, which may have
    been read far ahead of the others) or older than `floor_ms` (the caller's network-wide
    bound), is *late*: it counts in the totals (the backlog) and in `state.late`, but in no
    minute, and it does not move the warehouse's event time. So its cost does not depend on its
    date, and it cannot make the warehouse evaluate, or look silent, on its own.

    The steps: find the event's minute bucket (none when it is late); skip a repeated event_id;
    claim the offset on the head and on the bucket (each record remembers what it holds); count
    where it is new; keep the detector's window sums in step; note the topic's newest event
    time."""
    topic = event.topic
    index = _INDEX_OF[topic, event.status]
    at = event.occurred_at_ms
    tracked = source is not None and offset is not None
    by_topic = state.newest_by_topic
    bucket: Bucket | None = None
    id_key = _ID_TAG[topic] + event.event_id
    closed = state.closed_through_ms
    if (closed is None or at >= closed - config.retention_ms) and (
        floor_ms is None or at >= floor_ms
    ):
        start = at - at % MINUTE_MS
        minutes = state.minutes
        found = minutes.get(start)
        if found is None:
            bucket = minutes[start] = Bucket()
            below = state.data_below_ms
            if below is not None and closed is not None and below < start < closed:
                state.data_below_ms = start  # a new minute with data among the closed ones
        elif isinstance(found, Bucket):
            bucket = found
        else:
            bucket = minutes[start] = thaw(found)  # a late event in a frozen minute
        seen = bucket.ids.get(id_key) if bucket.ids else None
        if seen is not None and (not tracked or seen != f"{source}:{offset}"):
            state.duplicate_ids += 1  # another message carried this event_id in already
            return False
    head_fresh = not tracked or _claim(state.applied, source, offset)
    bucket_fresh = bucket is not None and (not tracked or _claim_in(bucket, source, offset))
    if head_fresh:
        state.totals[index] += 1
        if bucket is None:
            state.late += 1
    if state.sliding is not None:
        _keep_sliding(state, at, index, head_fresh, bucket_fresh, bucket is None)
    if bucket_fresh:
        assert bucket is not None
        bucket.counts[index] += 1
        if closed is None or at >= closed - config.dedup_ms:
            if bucket.ids is None:
                bucket.ids = {}
            bucket.ids[id_key] = f"{source}:{offset}" if tracked else ""
    if not (head_fresh or bucket_fresh):
        state.duplicates += 1
        return False
    if bucket is None:
        return True  # late: in the totals only, event time unchanged
    if at > by_topic.get(topic, at - 1):
        by_topic[topic] = at
    return True


def _claim(applied: dict[str, int], source: str | None, offset: int | None) -> bool:
    """Mark `offset` of `source` applied to a record; False when it (or a later one) was."""
    assert source is not None and offset is not None
    if applied.get(source, -1) >= offset:
        return False
    applied[source] = offset
    return True


def _claim_in(bucket: Bucket, source: str | None, offset: int | None) -> bool:
    """`_claim` on a bucket's flat list of offsets applied."""
    assert source is not None and offset is not None
    applied = bucket.applied
    for i in range(0, len(applied), 2):
        if applied[i] == source:
            if applied[i + 1] >= offset:  # type: ignore[operator]
                return False
            applied[i + 1] = offset
            return True
    bucket.applied = applied + [source, offset]  # noqa: RUF005 (exact length: 72 bytes, not 88)
    return True


def applied_items(minute: Minute) -> dict[str, int]:
    """A minute's offsets applied, source -> offset."""
    applied = thaw(minute).applied
    return {str(applied[i]): int(applied[i + 1]) for i in range(0, len(applied), 2)}


def _keep_sliding(
    state: WarehouseState, at: int, index: int, head_fresh: bool, bucket_fresh: bool, late: bool
) -> None:
    """Keep the detector's window sums in step; drop them when the head and the bucket disagree
    (a record behind the other after a crash): they are recomputed from the minutes."""
    assert state.sliding is not None
    if head_fresh and (bucket_fresh or late):
        state.sliding.on_event(minute_start(at), index)
    elif head_fresh or bucket_fresh:
        state.sliding = None


def watermark(
    state: WarehouseState, config: FlowConfig, complete_ms: int | None = None
) -> int | None:
    """Event time up to which this warehouse's data is taken as complete: its newest event, or
    `complete_ms` when that is older (the caller's bound: how far every input partition of the
    warehouse has been read, see agents.engine), less the allowed lateness. None: no event yet."""
    newest = state.newest_ms
    if newest is None:
        return None
    base = newest if complete_ms is None else min(newest, complete_ms)
    return base - config.lateness_ms


def close_minutes(state: WarehouseState, config: FlowConfig, mark: int | None) -> list[int]:
    """Ends of the minutes the watermark `mark` has newly passed, oldest first, and mark them
    closed: every one of them, however long the jump, except the minutes whose every window
    is empty (more than the retention after the warehouse's last minute with data before them:
    a warehouse closed for longer than that, or an event dated decades after the one before).
    Which minutes are evaluated is then a function of the events alone, not of how they were
    batched or how far the watermark jumped at once.

    The first call starts at the oldest minute holding data, so which events happened to come in
    the first batch does not matter."""
    if mark is None:
        return []
    through = minute_start(mark)
    previous = state.closed_through_ms
    if previous is None:
        # Nothing closed yet: start at the oldest minute with data once the mark has passed it
        # (not before: an older event of a topic not read yet may still come).
        first = min(state.minutes, default=None)
        if first is None or through <= first:
            return []
        previous = first
    if through <= previous:
        return []
    retention = config.retention_ms
    minutes = state.minutes
    last = state.data_below_ms
    if last is None or (through - previous) // MINUTE_MS > len(minutes):
        # a long jump (or nothing known of the minutes below): a scan of the buckets, so an
        # event dated decades after the one before never walks every minute in between
        ends = _ends_by_scan(minutes, previous, through, retention)
        state.closed_through_ms = through
        state.data_below_ms = max((m for m in minutes if m < through), default=NO_DATA)
        return ends
    # minute by minute: `last` is the newest minute with data before the minute that ends at
    # `end`; one lookup per minute closed, whatever the retention
    ends = []
    for end in range(previous + MINUTE_MS, through + MINUTE_MS, MINUTE_MS):
        if end - MINUTE_MS in minutes:
            last = end - MINUTE_MS
        if end - last <= retention:
            ends.append(end)
    state.closed_through_ms = through
    state.data_below_ms = last
    return ends


def _ends_by_scan(
    minutes: dict[int, Minute], previous: int, through: int, retention: int
) -> list[int]:
    """The ends in (previous, through] of the minutes within the retention after a minute with
    data, from a scan of the buckets."""
    data = sorted(m for m in minutes if previous - retention < m < through)
    ends: list[int] = []
    low = previous  # the ends handed out so far are <= low
    for start in data:
        last = min(through, start + retention)
        if last > low:
            ends.extend(range(max(low, start) + MINUTE_MS, last + MINUTE_MS, MINUTE_MS))
            low = last
    return ends


def retention_floor(state: WarehouseState, config: FlowConfig) -> int | None:
    """The oldest minute kept: the retention back from the last closed minute (so the windows
    that end at it stay whole). None before any minute closed: nothing is dropped yet (a topic
    read ahead of the others must not push out what they have not been read up to)."""
    closed = state.closed_through_ms
    if closed is None:
        return None
    return minute_start(closed - config.retention_ms)


def expire(state: WarehouseState, config: FlowConfig) -> list[int]:
    """Drop minute buckets older than the retention (returns their starts), and the event ids of
    buckets older than the dedup horizon, both counted back from the last closed minute."""
    closed = state.closed_through_ms
    if closed is None:
        return []
    ids_floor = minute_start(closed - config.dedup_ms)
    previous = state.ids_floor_ms
    if previous is None or ids_floor > previous:
        lo = ids_floor - config.retention_ms if previous is None else previous
        # By minute when the span is short (the usual step of a minute or so), by a scan of the
        # buckets when it is long: an event far ahead of the last one costs O(buckets), never a
        # walk over every minute in between.
        for _, bucket in _minute_range(state, minute_start(lo), ids_floor):
            if isinstance(bucket, Bucket) and bucket.ids is not None:
                bucket.ids = None
        state.ids_floor_ms = ids_floor
    freeze_cold(state, config)
    floor = minute_start(closed - config.retention_ms)
    last_floor = state.expired_floor_ms
    if last_floor is not None and floor <= last_floor:
        return []  # buckets are only created inside the retention: nothing new to drop
    state.expired_floor_ms = floor
    minutes = state.minutes
    if last_floor is not None and (floor - last_floor) // MINUTE_MS <= len(minutes):
        # nothing is kept below the last floor (buckets are only created inside the
        # retention): only the minutes between the two floors can go, whatever the retention
        gone = [m for m in range(last_floor, floor, MINUTE_MS) if m in minutes]
    else:
        gone = [start for start in minutes if start < floor]
    sliding = state.sliding
    if gone and sliding is not None and max(gone) >= sliding.at_ms - max(sliding.windows):
        state.sliding = None  # its windows reached into the dropped minutes
    for start in gone:
        del state.minutes[start]
    return gone


def freeze_cold(state: WarehouseState, config: FlowConfig) -> None:
    """Freeze the buckets that fell more than `HOT_MS` (and the dedup horizon) behind the last
    closed minute since the last call (all of them the first time: after a load)."""
    closed = state.closed_through_ms
    if closed is None:
        return
    floor = minute_start(closed - max(HOT_MS, config.dedup_ms))
    previous = state.frozen_floor_ms
    if previous is not None and floor <= previous:
        return
    lo = floor - config.retention_ms if previous is None else previous
    minutes = state.minutes
    for m, bucket in _minute_range(state, minute_start(lo), floor):
        if isinstance(bucket, Bucket) and bucket.ids is None and max(bucket.counts) < _FREEZABLE:
            minutes[m] = freeze(bucket)
    state.frozen_floor_ms = floor


# ---- reading the state ------------------------------------------------------------------------


def _minute_range(state: WarehouseState, start_ms: int, end_ms: int) -> list[tuple[int, Minute]]:
    """The minutes starting in [start_ms, end_ms) that hold data, with their starts: by minute
    lookups when the span is short (the horizon), by a scan of the buckets when it is long."""
    first = start_ms + (-start_ms) % MINUTE_MS  # the first minute start >= start_ms
    span = (end_ms - first + MINUTE_MS - 1) // MINUTE_MS
    minutes = state.minutes
    if span <= len(minutes):
        found = ((m, minutes.get(m)) for m in range(first, end_ms, MINUTE_MS))
        return [(m, b) for m, b in found if b is not None]
    return [(m, b) for m, b in minutes.items() if start_ms <= m < end_ms]


def counts_between(state: WarehouseState, start_ms: int, end_ms: int) -> list[int]:
    """Sum of the per-minute counts of minutes starting in [start_ms, end_ms)."""
    out = zero_counts()
    for _, minute in _minute_range(state, start_ms, end_ms):
        for i, c in enumerate(counts_of(minute)):
            out[i] += c
    return out


def totals_before(state: WarehouseState, at_ms: int) -> list[int]:
    """Counts of every event with occurred_at < at_ms (since the stream began).

    Totals less the minutes at or after `at_ms`: it does not depend on the order of arrival."""
    out = list(state.totals)
    newest = state.newest_ms
    if newest is None:
        return out
    for _, minute in _minute_range(state, at_ms, minute_start(newest) + MINUTE_MS):
        for i, c in enumerate(counts_of(minute)):
            out[i] -= c
    return out


def _sum(counts: list[int], flows: Iterable[str]) -> int:
    return sum(counts[FLOW_INDEX[f]] for f in flows)


def _finite(value: float | None) -> float | None:
    """JSON has no infinity: an unbounded ratio is shown as null."""
    return None if value is None or value == float("inf") else round(value, 4)


@dataclass(frozen=True, slots=True)
class QueueStatus:
    queue: str
    inflow_rate: float  # events per minute over the horizon
    outflow_rate: float
    backlog: int
    pressure: float | None  # inflow / outflow; None when nothing flowed out (and in) at all
    hours_to_clear: float | None  # backlog / outflow per hour; None when nothing flows out

    def to_json(self) -> dict[str, Any]:
        return {
            "inflow_rate": round(self.inflow_rate, 4),
            "outflow_rate": round(self.outflow_rate, 4),
            "backlog": self.backlog,
            "pressure": _finite(self.pressure),
            "hours_to_clear": _finite(self.hours_to_clear),
        }


def queue_status(
    queue: Queue, window: list[int], before: list[int], horizon_min: float
) -> QueueStatus:
    inflow = _sum(window, queue.inflow) / horizon_min
    outflow = _sum(window, queue.outflow) / horizon_min
    backlog = max(0, _sum(before, queue.inflow) - _sum(before, queue.outflow))
    if outflow > 0:
        pressure: float | None = inflow / outflow
        hours: float | None = backlog / (outflow * 60)
    else:
        pressure = float("inf") if inflow > 0 else None
        hours = 0.0 if backlog == 0 else None
    return QueueStatus(queue.name, inflow, outflow, backlog, pressure, hours)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The signals of one warehouse at event time `at_ms` (the end of the last closed minute)."""

    warehouse: str
    at_ms: int | None
    rates: dict[str, float]  # flow -> events per minute over the horizon
    totals: dict[str, int]  # flow -> count since the stream began (all arrived, any event time)
    queues: dict[str, QueueStatus]
    late: int


def snapshot(
    state: WarehouseState, config: FlowConfig, at_ms: int | None = None, *, live: bool = True
) -> Snapshot:
    """Rates over the horizon ending at `at_ms` (default: the last closed minute).

    Backlogs: with `live`, from everything counted so far (the contract's `backlog`); otherwise
    from what happened before `at_ms` only, which is what the detector uses so that its input
    does not depend on how far ahead some topic has been read."""
    at = at_ms if at_ms is not None else state.closed_through_ms
    horizon_min = config.horizon_ms / MINUTE_MS
    window = zero_counts() if at is None else counts_between(state, at - config.horizon_ms, at)
    before = list(state.totals) if live or at is None else totals_before(state, at)
    return Snapshot(
        warehouse=state.warehouse,
        at_ms=at,
        rates={f: window[i] / horizon_min for i, f in enumerate(FLOWS)},
        totals={f: state.totals[i] for i, f in enumerate(FLOWS)},
        queues={q.name: queue_status(q, window, before, horizon_min) for q in QUEUES},
        late=state.late,
    )


def current_backlogs(state: WarehouseState) -> dict[str, int]:
    """Each queue's backlog from everything counted so far (arrival order does not matter)."""
    return {
        q.name: max(0, _sum(state.totals, q.inflow) - _sum(state.totals, q.outflow)) for q in QUEUES
    }
