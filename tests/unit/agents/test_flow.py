"""Counting in event time: minutes, totals, backlogs, watermark, idempotence (agents.logic.flow)."""

from __future__ import annotations

import random
import tracemalloc

from hypothesis import given, settings
from hypothesis import strategies as st

from ordermon.agents.logic.flow import (
    FlowConfig,
    WarehouseState,
    apply,
    close_minutes,
    counts_between,
    current_backlogs,
    expire,
    snapshot,
    watermark,
)
from ordermon.agents.logic.persist import (
    head_from_bytes,
    head_to_bytes,
    hour_from_bytes,
    hour_of,
    hour_to_bytes,
)
from ordermon.agents.logic.windows import MINUTE_MS, minute_start
from ordermon.streams.events import DispatchEvent, Event, OrderEvent
from ordermon.streams.flows import FLOWS
from ordermon.streams.timefmt import parse_rfc3339_ms

T0 = parse_rfc3339_ms("2026-11-22T08:00:00Z") or 0
CONFIG = FlowConfig(
    retention_ms=60 * MINUTE_MS, lateness_ms=2 * MINUTE_MS, horizon_ms=15 * MINUTE_MS
)
PLACED = FLOWS.index("orders_placed")
DISPATCHED = FLOWS.index("dispatches_dispatched")


def order(n: int, at_ms: int, status: str = "placed", wh: str = "W1") -> OrderEvent:
    return OrderEvent(
        event_id=f"o{n}",
        status=status,
        order_id=f"o{n}",
        warehouse=wh,
        occurred_at_ms=at_ms,  # type: ignore[arg-type]
    )


def dispatch(n: int, at_ms: int, status: str = "dispatched", wh: str = "W1") -> DispatchEvent:
    return DispatchEvent(
        event_id=f"d{n}",
        status=status,
        order_id=f"o{n}",
        warehouse=wh,
        occurred_at_ms=at_ms,  # type: ignore[arg-type]
    )


def test_minute_start_floors_also_before_1970() -> None:
    assert minute_start(T0 + 59_999) == T0
    assert minute_start(-1) == -MINUTE_MS


def test_events_land_in_their_minute_and_totals() -> None:
    state = WarehouseState("W1")
    # (event, minute it must land in)
    rows: list[tuple[Event, int]] = [
        (order(1, T0 + 5_000), T0),
        (order(2, T0 + 59_999), T0),
        (order(3, T0 + 60_000), T0 + MINUTE_MS),
        (dispatch(1, T0 + 61_000), T0 + MINUTE_MS),
        (order(4, T0 + 30_000), T0),  # out of order, still in minute 0
    ]
    for event, _minute in rows:
        assert apply(state, event, CONFIG)
    assert state.minutes[T0].counts[PLACED] == 3
    assert state.minutes[T0 + MINUTE_MS].counts[PLACED] == 1
    assert state.minutes[T0 + MINUTE_MS].counts[DISPATCHED] == 1
    assert state.totals[PLACED] == 4
    assert current_backlogs(state) == {"dispatch": 3, "delivery": 1, "service": 0, "refund": 0}


def test_replayed_offsets_change_nothing() -> None:
    state = WarehouseState("W1")
    events = [order(i, T0 + i * 1000) for i in range(10)]
    for i, e in enumerate(events):
        assert apply(state, e, CONFIG, source="orders/0", offset=i)
    before = (list(state.totals), {k: list(b.counts) for k, b in state.minutes.items()})
    # a crash replays offsets 5..9: nothing changes, each is reported as a duplicate
    for i, e in enumerate(events[5:], start=5):
        assert not apply(state, e, CONFIG, source="orders/0", offset=i)
    assert (list(state.totals), {k: list(b.counts) for k, b in state.minutes.items()}) == before
    assert state.duplicates == 5
    # another partition's offsets are independent
    assert apply(state, order(99, T0), CONFIG, source="orders/1", offset=0)


def test_head_and_bucket_recovered_from_different_points_stay_exact() -> None:
    """The head record reached the changelog after offset 7, the bucket only after offset 3:
    replaying 4..9 must give exactly the counts of one pass."""
    events = [order(i, T0 + i * 1000) for i in range(10)]
    truth = WarehouseState("W1")
    for i, e in enumerate(events):
        apply(truth, e, CONFIG, source="orders/0", offset=i)
    partial = WarehouseState("W1")
    for i, e in enumerate(events[:4]):
        apply(partial, e, CONFIG, source="orders/0", offset=i)
    bucket_at_3 = hour_from_bytes(hour_to_bytes({T0: partial.minutes[T0]}))[T0]
    for i, e in enumerate(events[4:8], start=4):
        apply(partial, e, CONFIG, source="orders/0", offset=i)
    head, _ = head_from_bytes("W1", head_to_bytes(partial))
    head.minutes[T0] = bucket_at_3
    for i, e in enumerate(events[4:], start=4):
        apply(head, e, CONFIG, source="orders/0", offset=i)
    assert head.totals == truth.totals
    assert head.minutes[T0].counts == truth.minutes[T0].counts


def close(state: WarehouseState) -> list[int]:
    """The offline rule: every topic counts as read as far as the warehouse's newest event."""
    return close_minutes(state, CONFIG, watermark(state, CONFIG))


def test_events_older_than_retention_count_in_backlog_not_in_a_minute() -> None:
    state = WarehouseState("W1")
    apply(state, order(1, T0 + 3 * 3600_000), CONFIG)
    apply(state, order(3, T0 + 3 * 3600_000 + 5 * MINUTE_MS), CONFIG)
    close(state)  # the warehouse's minutes are now closed through T0 + 3 h 3 min
    assert apply(state, order(2, T0), CONFIG)  # 3 h older; retention is 1 h
    assert state.late == 1
    assert state.totals[PLACED] == 3
    assert T0 not in state.minutes


def test_a_topic_read_ahead_makes_no_other_topic_late() -> None:
    """Lateness is judged against the warehouse's closed minutes, not against the newest event
    of one of its topics: a sparse topic read days ahead (a catch-up) changes nothing."""
    state = WarehouseState("W1")
    apply(state, dispatch(1, T0 + 3 * 24 * 3600_000), CONFIG)  # read 3 days ahead
    assert apply(state, order(1, T0), CONFIG)
    assert state.late == 0
    assert T0 in state.minutes
    # the network-wide floor of the caller still applies
    assert apply(state, order(2, T0 - 1), CONFIG, floor_ms=T0)
    assert state.late == 1


def test_watermark_is_the_newest_event_or_the_callers_bound_less_lateness() -> None:
    state = WarehouseState("W1")
    assert watermark(state, CONFIG) is None
    apply(state, order(1, T0 + 30 * MINUTE_MS), CONFIG)
    apply(state, dispatch(1, T0 + 10 * MINUTE_MS), CONFIG)
    assert watermark(state, CONFIG) == T0 + 28 * MINUTE_MS
    # the caller's bound (how far each source is read) holds it back, never pushes it on
    assert watermark(state, CONFIG, T0 + 10 * MINUTE_MS) == T0 + 8 * MINUTE_MS
    assert watermark(state, CONFIG, T0 + 90 * MINUTE_MS) == T0 + 28 * MINUTE_MS


def test_a_long_jump_evaluates_every_minute_but_those_with_empty_windows() -> None:
    """However far the watermark jumps at once, every minute is handed out (warm-ups and
    windows count from the data), except minutes more than the retention after the last minute
    with data: their every window is empty. The same minutes, batched or not."""
    hour = 60 * MINUTE_MS
    times = [T0 + k * MINUTE_MS for k in range(0, 5 * 60, 7)] + [T0 + 9 * hour, T0 + 9 * hour + 1]
    one, many = WarehouseState("W1"), WarehouseState("W1")
    for i, at in enumerate(times):
        apply(one, order(i, at), CONFIG)
    closed_one = close(one)
    closed_many: list[int] = []
    for i, at in enumerate(times):
        apply(many, order(i, at), CONFIG)
        closed_many += close(many)
    assert closed_one == closed_many
    last_data = T0 + (5 * 60 - 1) // 7 * 7 * MINUTE_MS
    expected = list(range(T0 + MINUTE_MS, last_data + CONFIG.retention_ms + MINUTE_MS, MINUTE_MS))
    expected += list(range(T0 + 9 * hour + MINUTE_MS, one.closed_through_ms + 1, MINUTE_MS))
    assert closed_one == expected
    assert len(closed_one) > 5 * 60  # more than the old cap would allow, scaled: no skipping


def test_the_first_batch_size_does_not_change_which_minutes_are_closed() -> None:
    events = [order(i, T0 + i * 20_000) for i in range(60)]  # 20 minutes of orders
    one, many = WarehouseState("W1"), WarehouseState("W1")
    for e in events:
        apply(one, e, CONFIG)
    closed_one = close(one)
    closed_many: list[int] = []
    for e in events:
        apply(many, e, CONFIG)
        closed_many += close(many)
    assert closed_one == closed_many
    assert closed_one[0] == T0 + MINUTE_MS  # the first minute with data is evaluated


def test_close_minutes_hands_out_each_minute_once_in_order() -> None:
    state = WarehouseState("W1")
    apply(state, order(1, T0 + 30_000), CONFIG)
    # watermark T0-90s has passed no minute with data: nothing yet, the start is the oldest data
    assert close(state) == []
    apply(state, order(2, T0 + 5 * MINUTE_MS + 1), CONFIG)
    # watermark = T0+3min+1ms: the minutes ending at T0+1min (the first with data), T0+2min and
    # T0+3min are handed out, oldest first
    assert close(state) == [T0 + MINUTE_MS * k for k in (1, 2, 3)]
    assert close(state) == []  # nothing new


def test_expire_drops_minutes_out_of_retention() -> None:
    state = WarehouseState("W1")
    apply(state, order(1, T0), CONFIG)
    apply(state, order(2, T0 + 2 * 3600_000), CONFIG)
    assert expire(state, CONFIG) == []  # nothing closed: a topic may have been read ahead
    close(state)
    assert expire(state, CONFIG) == [T0]  # the retention back from the last closed minute
    assert state.totals[PLACED] == 2  # the backlog keeps everything


def test_snapshot_rates_pressure_and_hours_to_clear() -> None:
    state = WarehouseState("W1")
    n = 0
    for minute in range(15):  # 4 orders and 2 dispatches a minute for 15 minutes
        for k in range(4):
            n += 1
            apply(state, order(n, T0 + minute * MINUTE_MS + k * 1000), CONFIG)
        for k in range(2):
            apply(state, dispatch(n - k, T0 + minute * MINUTE_MS + 30_000 + k), CONFIG)
    snap = snapshot(state, CONFIG, T0 + 15 * MINUTE_MS, live=False)
    q = snap.queues["dispatch"]
    assert q.inflow_rate == 4.0 and q.outflow_rate == 2.0 and q.pressure == 2.0
    assert q.backlog == 30
    assert q.hours_to_clear == 30 / 120
    # as of minute 10 only 10 minutes have happened: the backlog is 20, not 30
    assert snapshot(state, CONFIG, T0 + 10 * MINUTE_MS, live=False).queues["dispatch"].backlog == 20


@settings(max_examples=60, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(min_value=1, max_value=200))
def test_counts_do_not_depend_on_arrival_order(rnd: random.Random, n: int) -> None:
    events: list[Event] = []
    for i in range(n):
        at = T0 + rnd.randrange(0, 30 * MINUTE_MS)
        events.append(order(i, at) if rnd.random() < 0.6 else dispatch(i, at))
    shuffled = list(events)
    rnd.shuffle(shuffled)
    a, b = WarehouseState("W1"), WarehouseState("W1")
    for e in events:
        apply(a, e, CONFIG)
    for e in shuffled:
        apply(b, e, CONFIG)
    assert a.totals == b.totals
    assert counts_between(a, T0, T0 + 30 * MINUTE_MS) == counts_between(b, T0, T0 + 30 * MINUTE_MS)
    assert current_backlogs(a) == current_backlogs(b)


def test_a_redelivered_event_id_is_counted_once() -> None:
    state = WarehouseState("W1")
    e = order(1, T0 + 1000)
    assert apply(state, e, CONFIG, source="orders/0", offset=0)
    # the publisher retried: same event_id, new offset
    assert not apply(state, e, CONFIG, source="orders/0", offset=1)
    assert state.totals[PLACED] == 1 and state.duplicate_ids == 1
    # the same message replayed after a crash is an offset replay, not an id duplicate
    assert not apply(state, e, CONFIG, source="orders/0", offset=0)
    assert state.duplicates == 1 and state.duplicate_ids == 1


def test_event_ids_are_forgotten_beyond_the_dedup_horizon() -> None:
    state = WarehouseState("W1")
    apply(state, order(1, T0), CONFIG, source="orders/0", offset=0)
    apply(
        state, order(2, T0 + CONFIG.dedup_ms + 5 * MINUTE_MS), CONFIG, source="orders/0", offset=1
    )
    close(state)
    expire(state, CONFIG)
    assert state.minutes[T0].ids is None  # the counts stay, the ids go
    assert state.minutes[T0].counts[PLACED] == 1


def test_replay_after_head_written_but_bucket_lost_still_counts_the_bucket() -> None:
    """The head record reached the changelog with offset 0 applied, the bucket did not: the
    replayed message must fill the bucket without counting the total twice."""
    state = WarehouseState("W1")
    e = order(1, T0 + 1000)
    apply(state, e, CONFIG, source="orders/0", offset=0)
    head, _ = head_from_bytes("W1", head_to_bytes(state))  # the bucket is missing
    assert apply(head, e, CONFIG, source="orders/0", offset=0)
    assert head.totals[PLACED] == 1
    assert head.minutes[T0].counts[PLACED] == 1


def _ends_recomputed(minutes: set[int], previous: int | None, through: int) -> list[int]:
    """close_minutes by its definition, minute by minute over every bucket: the ends in
    (previous, through] of the minutes with data within the retention before them (from the
    oldest minute with data when nothing was closed)."""
    if previous is None:
        if not minutes or through <= min(minutes):
            return []
        previous = min(minutes)
    return [
        end
        for end in range(previous + MINUTE_MS, through + MINUTE_MS, MINUTE_MS)
        if any(end - CONFIG.retention_ms <= m < end for m in minutes)
    ]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["event", "event", "event", "close", "step", "far"]),
            st.integers(min_value=-3 * 60, max_value=6 * 60),  # minutes from T0
            st.integers(min_value=0, max_value=MINUTE_MS - 1),
        ),
        min_size=1,
        max_size=60,
    ),
    st.integers(min_value=0, max_value=80),
)
def test_incremental_closing_and_expiry_equal_recomputed(
    steps: list[tuple[str, int, int]], ahead: int
) -> None:
    """close_minutes (one lookup per minute closed, `data_below_ms` carried from call to call)
    and expire (only the minutes between the last floor and the new one) against the same
    answers recomputed from every bucket, over events late and early, short and long jumps of
    the watermark (`far`: hours past everything, which takes the scan)."""
    state = WarehouseState("W1")
    for k in range(ahead):  # minutes of a topic read far ahead: many buckets, short walks
        apply(state, dispatch(k, T0 + (400 + k) * MINUTE_MS), CONFIG)
    for n, (what, minute, ms) in enumerate(steps):
        at = T0 + minute * MINUTE_MS + ms
        if what == "event":
            apply(state, order(n, at), CONFIG)
            continue
        mark = at + (40 * CONFIG.retention_ms if what == "far" else 0)
        if what == "step":  # a step forward from the last close, as batches make them
            mark = (state.closed_through_ms or T0) + minute % 20 * MINUTE_MS + ms
        previous = state.closed_through_ms
        expected = _ends_recomputed(set(state.minutes), previous, minute_start(mark))
        assert close_minutes(state, CONFIG, mark) == expected
        before = set(state.minutes)
        last_floor = state.expired_floor_ms
        gone = expire(state, CONFIG)
        floor = minute_start((state.closed_through_ms or 0) - CONFIG.retention_ms)
        if state.closed_through_ms is None or (last_floor is not None and floor <= last_floor):
            assert gone == []
        else:
            assert sorted(gone) == sorted(m for m in before if m < floor)
        assert state.closed_through_ms is None or min(state.minutes, default=floor) >= floor


def test_a_late_minute_among_the_closed_ones_keeps_the_next_minutes_evaluated() -> None:
    state = WarehouseState("W1")
    apply(state, order(1, T0), CONFIG)
    for k in range(61):  # a topic read ahead: minutes 300..360 hold data too
        apply(state, order(100 + k, T0 + (300 + k) * MINUTE_MS), CONFIG)
    assert close_minutes(state, CONFIG, T0 + 30 * MINUTE_MS)[-1] == T0 + 30 * MINUTE_MS
    # an event for minute 20 comes late (its minute closed), then the watermark moves on: the
    # minutes within the retention after minute 20 are still evaluated, up to minute 80
    apply(state, order(3, T0 + 20 * MINUTE_MS + 5), CONFIG)
    ends = close_minutes(state, CONFIG, T0 + 90 * MINUTE_MS)
    assert ends == [T0 + m * MINUTE_MS for m in range(31, 81)]


def test_a_kept_record_holds_its_own_length_of_memory() -> None:
    """A record is held in the table for the whole retention: 1,000 of them take about their
    length in memory, not the 4 KiB buffer orjson returns its bytes in (a worker of 1,000
    warehouses held 3.7 GiB after a day of events with a record per minute, 834 MiB with
    this)."""
    state = WarehouseState("W1")
    for n in range(3):
        apply(state, order(n, T0 + n * MINUTE_MS), CONFIG, source="orders/0", offset=n)
    buckets = {T0: state.minutes[T0]}
    tracemalloc.start()
    try:
        kept = [hour_to_bytes(buckets) for _ in range(1000)]
        heads = [head_to_bytes(state) for _ in range(1000)]
        used, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    length = sum(map(len, kept)) + sum(map(len, heads))
    assert used < 2 * length + 100_000, (used, length)


def test_an_hour_record_holds_its_minutes_and_their_offsets() -> None:
    """A record per warehouse-hour: each minute's bucket comes back with its counts, the offsets
    applied to it and its event ids, under the start of its hour (also before 1970)."""
    state = WarehouseState("W1")
    at = [T0, T0 + 59 * MINUTE_MS, -90 * MINUTE_MS]
    for n, minute in enumerate(at):
        apply(state, order(n, minute), CONFIG, source="orders/2", offset=10 + n)
    assert [hour_of(m) for m in at] == [T0, T0, -120 * MINUTE_MS]
    back = hour_from_bytes(hour_to_bytes(state.minutes))
    assert sorted(back) == sorted(at)
    for minute in at:
        mine = state.minutes[minute]
        assert (back[minute].counts, back[minute].applied) == (mine.counts, mine.applied)
        assert back[minute].ids == mine.ids
