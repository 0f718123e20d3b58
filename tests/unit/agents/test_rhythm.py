"""Each queue's rhythm: hourly rollups, the normal of an hour of the week (median over weeks,
flagged hours left out), floors and totals over whole days, and the real wait through the
learned week. Small synthetic series; tables of literal values and hypothesis properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ordermon.agents.logic.rhythm import (
    BACKLOG,
    HOLIDAY_BIT,
    HOURS_PER_WEEK,
    IN,
    OUT,
    Rhythm,
    at_least,
    hour_of,
    wait_hours,
)
from ordermon.agents.logic.windows import HOUR_MS, MINUTE_MS

DAY_MS = 24 * HOUR_MS

Q = 0  # the dispatch queue's index
H0 = 500_000  # an absolute hour (a Monday 08:00 UTC is not needed: slots are relative)


def fold_hour(
    r: Rhythm, hour: int, inflow: int, outflow: int, backlog: int, flagged: int = 0
) -> None:
    """One hour of 60 minutes: the flows spread over the first minute, the backlog constant."""
    start = hour * HOUR_MS
    for m in range(60):
        flows = [(inflow if m == 0 else 0, outflow if m == 0 else 0, backlog)] + [(0, 0, 0)] * 3
        r.fold(start + (m + 1) * MINUTE_MS, flows, flagged, 10 * HOURS_PER_WEEK)


def shift_week(r: Rhythm, first_hour: int, weeks: int, out_per_hour: int = 60) -> None:
    """A site that dispatches only 07:00-23:00 (hours of the day by `hour % 24`), 30 orders an
    hour around the clock; the backlog builds overnight and is worked off by day."""
    backlog = 0
    for hour in range(first_hour, first_hour + weeks * HOURS_PER_WEEK):
        working = 7 <= hour % 24 < 23
        served = min(backlog + 30, out_per_hour) if working else 0
        backlog = backlog + 30 - served
        fold_hour(r, hour, 30, served, backlog)


def test_hours_fold_into_rows_and_round_trip() -> None:
    r = Rhythm()
    fold_hour(r, H0, 10, 4, 6)
    fold_hour(r, H0 + 2, 3, 1, 8)  # an hour with no minute in between stays a zero row
    assert r.first_hour == H0
    assert len(r.rows) == 3
    assert r.row(H0 + 1) is None  # not complete
    row = r.row(H0)
    assert row is not None
    assert r.total(Q, IN, H0 + 1, 1) == 10
    assert r.backlog_end(Q, H0) == 6
    assert Rhythm.from_json(r.to_json()) == r


def test_rows_are_bounded() -> None:
    r = Rhythm()
    for m in range(3 * 60):
        r.fold((H0 * 60 + m + 1) * MINUTE_MS, [(1, 1, 0)] * 4, 0, 2)
    assert len(r.rows) == 2 and r.first_hour == H0 + 1


@pytest.mark.parametrize(
    ("values", "flags", "expected"),
    [
        ([100, 110, 90], [0, 0, 0], 100.0),  # the median of three weeks
        ([100, 5000, 90], [0, 0, 0], 100.0),  # one bad week is outvoted
        ([100, 5000, 90], [0, 1, 0], 90.0),  # a flagged hour is not learned from; of two, the newer
        ([100, 5000, 90], [1, 1, 1], None),  # nothing normal to learn from
    ],
)
def test_normal_is_the_median_of_unflagged_weeks(
    values: list[int], flags: list[int], expected: float | None
) -> None:
    r = Rhythm()
    r.since[Q] = H0
    for week, (value, flag) in enumerate(zip(values, flags, strict=True)):
        fold_hour(r, H0 + week * HOURS_PER_WEEK, value, value, value, flag)
    assert r.normal(Q, OUT, H0 + 3 * HOURS_PER_WEEK, 3) == expected


def test_nothing_is_learned_before_the_queue_warmed_up() -> None:
    r = Rhythm()
    fold_hour(r, H0, 100, 100, 100)
    fold_hour(r, H0 + HOURS_PER_WEEK, 100, 100, 100)
    r.since[Q] = H0 + HOURS_PER_WEEK + 1  # both weeks before the warm-up ended
    assert r.normal(Q, BACKLOG, H0 + 2 * HOURS_PER_WEEK, 3) is None
    r.since[Q] = H0 + 1  # the second week is after it
    assert r.normal(Q, BACKLOG, H0 + 2 * HOURS_PER_WEEK, 3) == 100.0


def test_low_is_the_floor_of_whole_hours() -> None:
    r = Rhythm()
    for i, backlog in enumerate([50, 10, 40, 30]):
        fold_hour(r, H0 + i, 1, 1, backlog)
    assert r.low(Q, H0 + 4, 4) == 10
    assert r.low(Q, H0 + 4, 2) == 30
    assert r.low(Q, H0 + 5, 4) is None  # the running hour is not a whole hour


def test_typical_day_sees_a_closed_day() -> None:
    r = Rhythm()
    for day in range(3):
        for h in range(24):
            out = 0 if day == 1 else 10  # nothing served all day 1
            fold_hour(r, day * 24 + h + 24 * 20_000, 10, out, 0)
    end = 24 * 20_003
    assert r.typical_day(Q, end, 7, (2 / 3, 3 / 2)) == (240.0, 240.0, False)
    r2 = Rhythm()
    for day in range(3):
        for h in range(24):
            fold_hour(r2, day * 24 + h + 24 * 20_000, 10, 10, 0)
    assert r2.typical_day(Q, end, 7, (2 / 3, 3 / 2)) == (240.0, 240.0, True)


def test_the_wait_follows_the_shifts() -> None:
    """A parcel ordered at 23:30 at a site that works 07:00-23:00 waits for the morning shift:
    7.5 h and a bit, not for ever."""
    r = Rhythm()
    start = 24 * 20_000  # a midnight
    r.since[Q] = start
    shift_week(r, start, 2)
    at = (start + 2 * HOURS_PER_WEEK + 23) * HOUR_MS + 30 * MINUTE_MS  # 23:30
    wait = wait_hours(r, Q, at, 30, 1.0, 3)
    assert wait is not None
    assert 7.5 < wait < 8.5
    at_noon = (start + 2 * HOURS_PER_WEEK + 12) * HOUR_MS
    noon = wait_hours(r, Q, at_noon, 30, 1.0, 3)
    assert noon is not None and noon < 1
    assert wait_hours(r, Q, at, 0, 1.0, 3) == 0.0
    assert wait_hours(Rhythm(), Q, at, 10, 1.0, 3) is None  # no week learned yet


def test_a_week_that_serves_nothing_waits_for_ever() -> None:
    r = Rhythm()
    r.since[Q] = H0
    for h in range(2 * HOURS_PER_WEEK):
        fold_hour(r, H0 + h, 1, 0, h)
    wait = wait_hours(r, Q, (H0 + 2 * HOURS_PER_WEEK) * HOUR_MS, 5, 1.0, 3)
    assert wait is not None and math.isinf(wait)


@settings(max_examples=30, deadline=None)
@given(
    st.integers(min_value=0, max_value=3000),
    st.integers(min_value=0, max_value=3000),
    st.integers(min_value=0, max_value=59),
)
def test_the_wait_grows_with_the_backlog(a: int, b: int, minute: int) -> None:
    r = _LEARNED
    at = (_START + 2 * HOURS_PER_WEEK + 20) * HOUR_MS + minute * MINUTE_MS
    low, high = sorted((a, b))
    w_low = wait_hours(r, Q, at, low, 1.0, 3)
    w_high = wait_hours(r, Q, at, high, 1.0, 3)
    assert w_low is not None and w_high is not None
    assert 0 <= w_low <= w_high
    faster = wait_hours(r, Q, at, high, 2.0, 3)
    assert faster is not None and faster <= w_high  # a faster team clears it sooner


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=50))
def test_any_rows_round_trip(backlogs: list[int]) -> None:
    r = Rhythm()
    for i, backlog in enumerate(backlogs):
        fold_hour(r, H0 + i, backlog % 7, backlog % 5, backlog, i % 3)
    assert Rhythm.from_json(r.to_json()) == r
    assert r.low(Q, H0 + len(backlogs), len(backlogs)) == min(backlogs)


_START = 24 * 20_000
_LEARNED = Rhythm()
_LEARNED.since[Q] = _START
shift_week(_LEARNED, _START, 2)


# ---- the busy pace: capacity from the hours a team was never short of work --------------------


def _pickup_week(r: Rhythm, first_hour: int, per_hour: int, pack_per_hour: int) -> None:
    """Carrier pickups at 10, 15 and 20 h take what was packed (at most `pack_per_hour` in each
    hour of the 07-23 shift) from `per_hour` orders an hour around the clock."""
    waiting = packed = 0
    for hour in range(first_hour, first_hour + HOURS_PER_WEEK):
        waiting += per_hour
        if 7 <= hour % 24 < 23:
            done = min(pack_per_hour, waiting - packed)
            packed += done
        served = packed if hour % 24 in (10, 15, 20) else 0
        waiting, packed = waiting - served, packed - served
        fold_hour(r, hour, per_hour, served, waiting)


@pytest.mark.parametrize(
    ("build", "busy", "pace", "duty"),
    [
        # 07-23 shifts at 60 an hour, 30 orders an hour: the night's 240 are worked off in the
        # morning at full pace (7 busy hours a day; the first night of the week starts at 210
        # waiting, so 6), then the team keeps up (on duty, not busy)
        (lambda r: shift_week(r, H0 - H0 % 24, 1), 48, 60.0, 16.0),
        # the same team with too little work ever to wait: never busy, no pace
        (lambda r: [fold_hour(r, H0 + h, 5, 5, 0) for h in range(HOURS_PER_WEEK)], 0, 0.0, 24.0),
        # pickups that take everything packed, the packers keep up: never busy
        (lambda r: _pickup_week(r, H0 - H0 % 24, 10, 60), 0, 0.0, 3.0),
    ],
)
def test_busy_pace(build: object, busy: int, pace: float, duty: float) -> None:
    r = Rhythm()
    build(r)  # type: ignore[operator]
    assert r.first_hour is not None
    got = r.busy_pace(Q, r.first_hour + HOURS_PER_WEEK, HOURS_PER_WEEK, 0.25)
    assert got is not None
    assert (got[0], got[1], got[2]) == (busy, pytest.approx(pace), pytest.approx(duty))


def test_busy_pace_of_a_saturated_pickup_site_is_its_capacity_per_pickup() -> None:
    """Packers at 20 an hour, 30 orders an hour: every pickup leaves orders behind, so each is
    busy, and pace x pickups a day is what the packers do in a day (16 h x 20)."""
    r = Rhythm()
    _pickup_week(r, H0 - H0 % 24, 30, 20)
    assert r.first_hour is not None
    got = r.busy_pace(Q, r.first_hour + HOURS_PER_WEEK, HOURS_PER_WEEK, 0.25)
    assert got is not None
    busy, pace, duty = got
    assert duty == pytest.approx(3.0)
    assert busy >= 18  # the first pickups of the week may still take all
    assert pace * duty == pytest.approx(16 * 20, rel=0.05)


def test_flagged_hours_are_not_capacity() -> None:
    """A stall (flagged) serves little with much waiting: not a busy hour."""
    r = Rhythm()
    for h in range(HOURS_PER_WEEK):
        fold_hour(
            r,
            H0 + h,
            30,
            60 if h % 24 < 2 else 30,
            200 if h % 24 < 4 else 0,
            flagged=1 if h % 24 in (2, 3) else 0,
        )
    got = r.busy_pace(Q, H0 + HOURS_PER_WEEK, HOURS_PER_WEEK, 0.25)
    assert got is not None and got[1] == pytest.approx(60.0)


def test_a_declared_holiday_does_not_shorten_the_duty_day() -> None:
    """A declared holiday in the week (`HOLIDAY_BIT`): the team's hours on duty per day are
    those of the days it could work, not a seventh fewer (which read as a capacity a seventh
    lower for a week, and forecast an overload at sites near capacity after every holiday).
    An hour merely flagged (an alert firing) still counts as it served."""
    r = Rhythm()
    day0 = H0 - H0 % 24
    for h in range(HOURS_PER_WEEK):
        holiday = h // 24 == 3
        on = 7 <= h % 24 < 23 and not holiday
        flags = (1 | 1 << (HOLIDAY_BIT + Q)) if holiday else (1 if h // 24 == 4 else 0)
        fold_hour(r, day0 + h, 30, 30 if on else 0, 0 if on else 30, flagged=flags)
    got = r.busy_pace(Q, day0 + HOURS_PER_WEEK, HOURS_PER_WEEK, 0.25)
    assert got is not None and got[2] == pytest.approx(16.0)


def test_a_jump_past_everything_kept_starts_over_at_once() -> None:
    """A site back after years (or events dated year 1, then today): the rows start again at
    the new hour, not after millions of empty ones."""
    r = Rhythm()
    fold_hour(r, H0, 10, 4, 6)
    far = H0 + 20 * 365 * 24
    fold_hour(r, far, 3, 1, 8)
    assert r.first_hour == far and len(r.rows) == 1
    assert r.row(far) is not None and r.row(H0) is None


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=40),  # inflow of the hour
            st.integers(min_value=0, max_value=40),  # outflow
            st.integers(min_value=0, max_value=3),  # flagged queues (bits)
            st.integers(min_value=0, max_value=59),  # minutes of the hour folded before a read
        ),
        min_size=HOURS_PER_WEEK + 31,
        max_size=2 * HOURS_PER_WEEK + 30,
    ),
    st.integers(min_value=HOURS_PER_WEEK, max_value=HOURS_PER_WEEK + 30),
)
def test_cached_normals_equal_recomputed(
    hours: list[tuple[int, int, int, int]], since: int
) -> None:
    """`normal` and `normal_total` are cached per hour (until a row completes): read between the
    minutes of every hour, they equal the same reads of a copy that never cached anything, also
    when the queue's `since` is set midway."""
    r = Rhythm()
    backlog = 0
    for i, (inflow, outflow, flagged, read_at) in enumerate(hours):
        hour = H0 + i
        backlog = max(0, backlog + inflow - outflow)
        for m in range(60):
            flows = [(inflow if m == 0 else 0, outflow if m == 0 else 0, backlog)] + [(0, 0, 0)] * 3
            r.fold(hour * HOUR_MS + (m + 1) * MINUTE_MS, flows, flagged, 3 * HOURS_PER_WEEK)
            if m == read_at:
                _same_normals(r, hour)
                if i == since:  # set between two reads of one hour
                    r.since[Q] = H0
                    _same_normals(r, hour)


def _same_normals(r: Rhythm, hour: int) -> None:
    fresh = Rhythm.from_json(r.to_json())
    for what in (IN, OUT, BACKLOG):
        for weeks in (1, 2):
            assert r.normal(Q, what, hour, weeks) == fresh.normal(Q, what, hour, weeks)
            total = r.normal_total(Q, what, hour, 24, weeks)
            assert total == fresh.normal_total(Q, what, hour, 24, weeks)


@pytest.mark.parametrize(
    ("count", "low"),
    [(0, 0.0), (1, 0.0), (4, 1.0), (12, (12**0.5 - 1) ** 2), (100, 81.0), (10_000, 9801.0)],
)
def test_at_least_is_two_poisson_deviations_below_a_count(count: float, low: float) -> None:
    assert at_least(count) == pytest.approx(low)


def test_silence_expects_the_quietest_arrivals_of_the_hour_never_the_site_s_own_work() -> None:
    """Orders (arrivals) of 20 and 5 on two days at the same hour, each dispatched (the site's
    own work, not counted): the hour expects what the two show at the least, per day."""
    r = Rhythm()
    start = 1_000 * DAY_MS
    for day, orders in enumerate((20, 5)):
        for minute in range(24 * 60):
            end = start + day * DAY_MS + (minute + 1) * MINUTE_MS
            n = orders if minute == 14 * 60 else 0  # all in the minute 14:00
            r.fold(end, [(n, n, 0)] + [(0, 0, 0)] * 3, 0, 10_000)
    hour = hour_of(start + 2 * DAY_MS + 14 * HOUR_MS)
    assert r.normal_events(hour, 3) == pytest.approx(min(5, at_least(25) / 2))
    assert r.normal_events(hour + 1, 3) == 0.0  # never an arrival at 15:00


def _days(r: Rhythm, day_totals: list[tuple[int, int]], first_day: int = 20_000) -> int:
    """Whole days of 24 equal hours, each (inflow, outflow) of the day; returns the end hour."""
    for d, (inflow, outflow) in enumerate(day_totals):
        for h in range(24):
            fold_hour(r, (first_day + d) * 24 + h, inflow // 24, outflow // 24, 0)
    return (first_day + len(day_totals)) * 24


@pytest.mark.parametrize(
    ("day_totals", "regular"),
    [
        ([(240, 240)] * 3, True),
        ([(240, 240), (960, 360), (240, 240)], True),  # a surge of arrivals, the team at its pace
        ([(240, 240), (240, 480), (240, 240)], True),  # a team that worked harder (a catch-up)
        ([(240, 240), (240, 0), (240, 240)], False),  # a closed day
        ([(240, 240), (240, 120), (240, 240)], False),  # a short day (a Saturday half shift)
        ([(240, 240), (48, 48), (240, 240)], False),  # a day without arrivals (a closed sender)
    ],
)
def test_a_day_is_atypical_only_when_it_falls_short(
    day_totals: list[tuple[int, int]], regular: bool
) -> None:
    """Before a week is learned, a queue is judged by day only while no day fell short of its
    typical day: a closed or a short day is a weekly rhythm a few days cannot teach, a surge of
    arrivals is what backpressure is, not a different kind of day."""
    r = Rhythm()
    end = _days(r, day_totals)
    typical = r.typical_day(Q, end, 7, (2 / 3, 3 / 2))
    assert typical is not None and typical[2] is regular


@settings(max_examples=50, deadline=None)
@given(
    st.integers(min_value=3, max_value=6),
    st.integers(min_value=1, max_value=40),
    st.integers(min_value=0, max_value=200),
    st.booleans(),
)
def test_only_a_day_that_falls_short_makes_the_days_irregular(
    days: int, per_hour: int, other: int, arrivals: bool
) -> None:
    """Equal days, one of them with `other` items an hour arriving (or served) instead: the
    days stay regular however far above the others it lies, and are irregular as soon as it
    falls below two thirds of them."""
    day_totals = [(24 * per_hour, 24 * per_hour)] * days
    odd = (24 * other, 24 * per_hour) if arrivals else (24 * per_hour, 24 * other)
    day_totals[days // 2] = odd
    r = Rhythm()
    typical = r.typical_day(Q, _days(r, day_totals), 7, (2 / 3, 3 / 2))
    assert typical is not None
    assert typical[2] is (3 * other >= 2 * per_hour)
