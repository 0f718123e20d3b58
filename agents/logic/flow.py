"""One warehouse's flows in event time: per-minute counts, totals, backlogs and rates.

`WarehouseState` is mutated in place by `apply` (the hot path); everything is a function of the
events and of the times passed in. Idempotence: every record (the totals, and each minute bucket)
remembers the last source offset applied to it per topic partition, so a message replayed after a
crash changes nothing, whichever of the records had reached the changelog.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from ordermon.agents.logic.sliding import Sliding
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
    applied: dict[str, int] = field(default_factory=dict)
    # topic tag + event_id -> "source:offset" that carried it (see _ID_TAG)
    ids: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FlowConfig:
    """Event-time settings of the counting stage (milliseconds)."""

    retention_ms: int = 24 * 60 * MINUTE_MS  # how long per-minute counts are kept
    lateness_ms: int = 2 * MINUTE_MS  # watermark = newest event time - lateness
    horizon_ms: int = 15 * MINUTE_MS  # rates are averaged over this many minutes
    # processing time after which a quiet topic no longer holds the watermark
    idle_after_ms: int = 60_000
    # a repeated event_id is ignored when its minute is within this much of the newest event
    dedup_ms: int = 10 * MINUTE_MS
    # event time, replays without a clock: a topic whose newest lags the newest by more than
    # this stops holding the watermark (refunds that come now and then must not stall evaluation for
    # ever). Long, because in a fast replay one topic may be read hours of event time ahead
    # of another; live, the processing-time rule (idle_after_ms) releases a quiet topic first.
    quiet_after_ms: int = 6 * 60 * MINUTE_MS


@dataclass(slots=True)
class WarehouseState:
    warehouse: str
    totals: list[int] = field(default_factory=zero_counts)
    applied: dict[str, int] = field(default_factory=dict)
    minutes: dict[int, Bucket] = field(default_factory=dict)
    newest_by_topic: dict[str, int] = field(default_factory=dict)
    # processing clock of the last event per topic, and of the warehouse's first; not persisted
    seen_at_by_topic: dict[str, int] = field(default_factory=dict)
    first_seen_at_ms: int | None = None
    late: int = 0  # valid events older than the retention: in the backlog, in no minute
    duplicates: int = 0  # messages skipped because their offset was already applied
    duplicate_ids: int = 0  # messages skipped because their event_id was already counted
    ids_floor_ms: int | None = None  # buckets before this minute no longer keep event ids
    expired_floor_ms: int | None = None  # retention floor of the last expiry; not persisted
    sliding: Sliding | None = None  # the detector's window sums; derived, not persisted
    closed_through_ms: int | None = None  # end of the last minute handed to evaluation
    partition: int | None = None  # the input partition its events come from (its records' too)

    @property
    def newest_ms(self) -> int | None:
        return max(self.newest_by_topic.values()) if self.newest_by_topic else None


def source_of(topic: str, partition: int) -> str:
    return f"{topic}/{partition}"


def apply(
    state: WarehouseState,
    event: Event,
    config: FlowConfig,
    *,
    source: str | None = None,
    offset: int | None = None,
    seen_at_ms: int = 0,
    floor_ms: int | None = None,
) -> bool:
    """Count one event. Returns False when it changes nothing: its (source, offset) was applied
    before (a replay after a crash: `state.duplicates`), or another message already carried its
    `event_id` within the dedup horizon (a publisher's redelivery: `state.duplicate_ids`).

    An event older than the retention, counted back from the warehouse's newest event or from
    `floor_ms` (the caller's network-wide bound, e.g. the newest event time of every warehouse
    less the retention), is *late*: it counts in the totals (the backlog) and in `state.late`,
    but in no minute, and it does not move the warehouse's event time (its watermark). So its
    cost does not depend on its date, and it cannot make the warehouse evaluate, or look
    silent, on its own.

    The steps: find the event's minute bucket (none when it is late); skip a repeated event_id;
    claim the offset on the head and on the bucket (each record remembers what it holds); count
    where it is new; keep the detector's window sums in step; note the topic's newest event time
    and processing time."""
    topic = event.topic
    index = _INDEX_OF[topic, event.status]
    at = event.occurred_at_ms
    tracked = source is not None and offset is not None
    by_topic = state.newest_by_topic
    newest = max(by_topic.values()) if by_topic else at
    bucket: Bucket | None = None
    id_key = _ID_TAG[topic] + event.event_id
    if at >= newest - config.retention_ms and (floor_ms is None or at >= floor_ms):
        start = at - at % MINUTE_MS
        minutes = state.minutes
        bucket = minutes.get(start) or minutes.setdefault(start, Bucket())
        seen = bucket.ids.get(id_key) if bucket.ids else None
        if seen is not None and (not tracked or seen != f"{source}:{offset}"):
            state.duplicate_ids += 1  # another message carried this event_id in already
            return False
    head_fresh = not tracked or _claim(state.applied, source, offset)
    bucket_fresh = bucket is not None and (not tracked or _claim(bucket.applied, source, offset))
    if head_fresh:
        state.totals[index] += 1
        if bucket is None:
            state.late += 1
    if state.sliding is not None:
        _keep_sliding(state, at, index, head_fresh, bucket_fresh, bucket is None)
    if bucket_fresh:
        assert bucket is not None
        bucket.counts[index] += 1
        if at >= newest - config.dedup_ms:
            bucket.ids[id_key] = f"{source}:{offset}" if tracked else ""
    if not (head_fresh or bucket_fresh):
        state.duplicates += 1
        return False
    if bucket is None:
        return True  # late: in the totals only, event time unchanged
    if at > by_topic.get(topic, at - 1):
        by_topic[topic] = at
    if seen_at_ms:
        state.seen_at_by_topic[topic] = seen_at_ms
        if state.first_seen_at_ms is None:
            state.first_seen_at_ms = seen_at_ms
    return True


def _claim(applied: dict[str, int], source: str | None, offset: int | None) -> bool:
    """Mark `offset` of `source` applied to a record; False when it (or a later one) was."""
    assert source is not None and offset is not None
    if applied.get(source, -1) >= offset:
        return False
    applied[source] = offset
    return True


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


def watermark(state: WarehouseState, config: FlowConfig, now_ms: int | None = None) -> int | None:
    """Event time up to which this warehouse's data is taken as complete.

    The oldest of the topics' newest event times, less the allowed lateness, so that a topic read
    ahead of another (a replay) never closes a minute the slower one still has data for.

    With the processing clock `now_ms` (the worker): a topic stops holding it back once it has
    sent nothing for `idle_after_ms`, and a topic not seen at all holds it back for
    `idle_after_ms` after the warehouse's first event (Kafka may hand over one topic's backlog
    before another's). Without a clock (a replay in event-time order): a topic whose newest event
    lags the warehouse's newest by more than `quiet_after_ms` of event time stops holding it."""
    if not state.newest_by_topic:
        return None
    newest = max(state.newest_by_topic.values())
    if now_ms is not None:
        first = state.first_seen_at_ms
        unseen = len(state.newest_by_topic) < len(INPUT_TOPICS)
        if unseen and first is not None and now_ms - first < config.idle_after_ms:
            return None
        active = [
            t_newest
            for topic, t_newest in state.newest_by_topic.items()
            if now_ms - state.seen_at_by_topic.get(topic, now_ms) < config.idle_after_ms
        ]
    else:
        active = [t for t in state.newest_by_topic.values() if newest - t <= config.quiet_after_ms]
    base = min(active) if active else newest
    return base - config.lateness_ms


def close_minutes(
    state: WarehouseState, config: FlowConfig, now_ms: int | None = None, max_minutes: int = 1440
) -> list[int]:
    """Ends of the minutes the watermark has newly passed, oldest first, and mark them closed.

    The first call starts at the oldest minute holding data, so which events happened to come in
    the first batch does not matter; a jump longer than `max_minutes` evaluates only its last
    `max_minutes` minutes."""
    mark = watermark(state, config, now_ms)
    if mark is None:
        return []
    through = minute_start(mark)
    previous = state.closed_through_ms
    if previous is None:
        previous = min(state.minutes, default=through)
    if through <= previous:
        state.closed_through_ms = previous
        return []
    first = max(previous + MINUTE_MS, through - (max_minutes - 1) * MINUTE_MS)
    state.closed_through_ms = through
    return list(range(first, through + MINUTE_MS, MINUTE_MS))


def retention_floor(state: WarehouseState, config: FlowConfig) -> int:
    """The oldest minute kept: the retention back from the last closed minute (so the windows
    that end at it stay whole), or from the newest event before any minute closed."""
    newest = state.newest_ms or 0
    closed = state.closed_through_ms
    base = newest if closed is None else min(closed, newest)
    # Never more than twice the retention back from the newest event: a watermark held far back
    # (a topic whose newest event is years old) must not keep minutes, or make a load walk them.
    base = max(base, newest - config.retention_ms)
    return minute_start(base - config.retention_ms)


def expire(state: WarehouseState, config: FlowConfig) -> list[int]:
    """Drop minute buckets older than the retention (returns their starts), and the event ids of
    buckets older than the dedup horizon."""
    newest = state.newest_ms
    if newest is None:
        return []
    ids_floor = minute_start(newest - config.dedup_ms)
    previous = state.ids_floor_ms
    if previous is None or ids_floor > previous:
        lo = ids_floor - config.retention_ms if previous is None else previous
        # By minute when the span is short (the usual step of a minute or so), by a scan of the
        # buckets when it is long: an event far ahead of the last one costs O(buckets), never a
        # walk over every minute in between.
        for bucket in _minute_range(state, minute_start(lo), ids_floor):
            if bucket.ids:
                bucket.ids = {}
        state.ids_floor_ms = ids_floor
    floor = retention_floor(state, config)
    if state.expired_floor_ms is not None and floor <= state.expired_floor_ms:
        return []  # buckets are only created inside the retention: nothing new to drop
    state.expired_floor_ms = floor
    gone = [start for start in state.minutes if start < floor]
    sliding = state.sliding
    if gone and sliding is not None and max(gone) >= sliding.at_ms - max(sliding.windows):
        state.sliding = None  # its windows reached into the dropped minutes
    for start in gone:
        del state.minutes[start]
    return gone


# ---- reading the state ------------------------------------------------------------------------


def _minute_range(state: WarehouseState, start_ms: int, end_ms: int) -> list[Bucket]:
    """The buckets of the minutes starting in [start_ms, end_ms): by minute lookups when the
    span is short (the horizon), by a scan of the buckets when it is long."""
    first = start_ms + (-start_ms) % MINUTE_MS  # the first minute start >= start_ms
    span = (end_ms - first + MINUTE_MS - 1) // MINUTE_MS
    minutes = state.minutes
    if span <= len(minutes):
        found = (minutes.get(m) for m in range(first, end_ms, MINUTE_MS))
        return [b for b in found if b is not None]
    return [b for m, b in minutes.items() if start_ms <= m < end_ms]


def counts_between(state: WarehouseState, start_ms: int, end_ms: int) -> list[int]:
    """Sum of the per-minute counts of minutes starting in [start_ms, end_ms)."""
    out = zero_counts()
    for bucket in _minute_range(state, start_ms, end_ms):
        for i, c in enumerate(bucket.counts):
            out[i] += c
    return out


def totals_before(state: WarehouseState, at_ms: int) -> list[int]:
    """Counts of every event with occurred_at < at_ms (since the stream began).

    Totals less the minutes at or after `at_ms`: it does not depend on the order of arrival."""
    out = list(state.totals)
    newest = state.newest_ms
    if newest is None:
        return out
    for bucket in _minute_range(state, at_ms, minute_start(newest) + MINUTE_MS):
        for i, c in enumerate(bucket.counts):
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
