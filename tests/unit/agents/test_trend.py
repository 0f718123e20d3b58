"""Daily aggregates (bounded), observed capacity and the log-linear forecast."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ordermon.agents.logic import trend
from ordermon.agents.logic.trend import (
    DAY_MS,
    MINUTES_PER_DAY,
    DailyTotals,
    Day,
    backlog_grows,
    forecast,
    observed_capacity,
)
from ordermon.agents.logic.windows import MINUTE_MS
from ordermon.streams.timefmt import parse_rfc3339_ms

D0 = parse_rfc3339_ms("2026-11-01T00:00:00Z") or 0


def full_day(index: int, orders: int, dispatched: int = 0, backlog_end: int = 0) -> Day:
    return Day(D0 + index * DAY_MS, orders, dispatched, MINUTES_PER_DAY, backlog_end)


def test_fold_splits_minutes_into_utc_days_and_stays_bounded() -> None:
    daily = DailyTotals()
    # Start mid-day (23:58): the first day is partial, so it never counts as complete.
    start = D0 + DAY_MS - 2 * MINUTE_MS
    for i in range(5 * MINUTES_PER_DAY):
        end = start + (i + 1) * MINUTE_MS  # minute [end - 1 min, end)
        daily.fold(end, orders=2, dispatched=1, backlog=i, keep_days=3)
    starts = [d.start_ms for d in daily.days]
    assert starts == [D0 + k * DAY_MS for k in range(2, 6)]  # 3 days kept + the running day
    assert [d.complete for d in daily.days] == [True, True, True, False]
    assert daily.days[0].orders == 2 * MINUTES_PER_DAY
    assert daily.days[0].dispatched == MINUTES_PER_DAY
    # 2 minutes on day 0, then days 1-4 whole: 5 * 1440 - 2 - 4 * 1440 minutes on day 5
    assert daily.days[-1].minutes == MINUTES_PER_DAY - 2
    assert daily.days[-1].backlog_end == 5 * MINUTES_PER_DAY - 1  # the last minute's backlog


def test_fold_minute_ending_at_midnight_belongs_to_the_day_before() -> None:
    daily = DailyTotals()
    daily.fold(D0 + DAY_MS, orders=1, dispatched=0, backlog=0, keep_days=28)  # 23:59-24:00
    daily.fold(D0 + DAY_MS + MINUTE_MS, orders=1, dispatched=0, backlog=0, keep_days=28)
    assert [(d.start_ms, d.minutes) for d in daily.days] == [(D0, 1), (D0 + DAY_MS, 1)]


def test_daily_totals_round_trip() -> None:
    daily = DailyTotals([full_day(0, 10, 9, 3), Day(D0 + DAY_MS, 4, 1, 17, 2)])
    assert DailyTotals.from_json(daily.to_json()) == daily


@pytest.mark.parametrize(
    ("days", "sustain", "min_backlog", "expected"),
    [
        # highest mean of 3 consecutive complete days
        ([full_day(i, 0, d) for i, d in enumerate([100, 300, 200, 250, 100])], 3, None, 250.0),
        # a gap in the days breaks a run: days 0,1 and 3 are not consecutive
        ([full_day(0, 0, 100), full_day(1, 0, 100), full_day(3, 0, 400)], 3, None, None),
        # only days that ended with a backlog higher (by a tenth of a day's dispatch) than the
        # day before count: demand-limited days say nothing of capacity
        (
            [full_day(i, 0, d, b) for i, (d, b) in enumerate([(500, 0), (200, 150), (210, 400)])],
            2,
            100,
            205.0,
        ),
        # a backlog that stands but does not grow (a night's orders before the shift) is demand
        (
            [full_day(i, 0, d, b) for i, (d, b) in enumerate([(500, 0), (200, 150), (210, 160)])],
            2,
            100,
            None,
        ),
        ([full_day(i, 0, 500, 0) for i in range(5)], 2, 100, None),
        # a partial day is not a day
        ([full_day(0, 0, 100), Day(D0 + DAY_MS, 0, 900, 60, 0)], 1, None, 100.0),
    ],
)
def test_observed_capacity(
    days: list[Day], sustain: int, min_backlog: int | None, expected: float | None
) -> None:
    assert observed_capacity(days, sustain, min_backlog) == expected


def test_forecast_of_exact_exponential_growth() -> None:
    # Orders grow 2 % a day from 1,000: the fit recovers the growth (exactly: no noise, so the
    # cautious growth is the same), and the crossing of 2,000/day is where 1000 * 1.02**t = 2000
    # (t in days from the first day's start).
    days = [full_day(i, round(1000 * 1.02**i)) for i in range(14)]
    at = D0 + 14 * DAY_MS  # the end of the last complete day
    fc = forecast(days, at, 2000.0, fit_days=14, min_days=7)
    assert fc is not None
    assert fc.fit_days == 14
    assert fc.growth_per_day == pytest.approx(0.02, abs=1e-4)
    assert fc.growth_low_per_day == pytest.approx(0.02, abs=1e-4)
    cross_t = math.log(2) / math.log(1.02)  # ≈ 35.0 days after day 0's start
    expected_days = cross_t - 14
    assert fc.days_to_cross == pytest.approx(expected_days, abs=0.05)
    assert fc.crosses_at_ms is not None
    assert abs(fc.crosses_at_ms - (at + expected_days * DAY_MS)) < 0.05 * DAY_MS
    assert fc.level_per_day == pytest.approx(1000 * 1.02**14, rel=1e-3)


@pytest.mark.parametrize(
    ("orders", "capacity", "days_to_cross"),
    [
        ([1000] * 14, 2000.0, None),  # flat below capacity: never
        ([1000 - 10 * i for i in range(14)], 2000.0, None),  # declining: never
        ([3000] * 14, 2000.0, 0.0),  # flat above capacity: already over
        ([1000 * 1.1**i for i in range(14)], 1500.0, 0.0),  # grew past it: crossed in the past
    ],
)
def test_forecast_edges(orders: list[float], capacity: float, days_to_cross: float | None) -> None:
    days = [full_day(i, round(n)) for i, n in enumerate(orders)]
    fc = forecast(days, D0 + 14 * DAY_MS, capacity, fit_days=14, min_days=7)
    assert fc is not None
    assert fc.days_to_cross == days_to_cross


def test_forecast_needs_enough_complete_days() -> None:
    days = [full_day(i, 1000) for i in range(8)] + [Day(D0 + 8 * DAY_MS, 5000, 0, 100, 0)]
    # 8 complete days: each weekday's level and the growth leave no residual to judge it by
    assert forecast(days, D0 + 9 * DAY_MS, 2000.0, fit_days=14, min_days=7) is None
    days = [full_day(i, 1000) for i in range(9)]  # two weekdays seen twice: one residual
    assert forecast(days, D0 + 9 * DAY_MS, 2000.0, fit_days=14, min_days=7) is not None
    assert forecast(days, D0 + 9 * DAY_MS, 2000.0, fit_days=14, min_days=10) is None


def test_the_weekday_mix_does_not_tilt_the_trend() -> None:
    """Weekends at +20% and a fit that starts on a weekend: a plain daily fit would read a trend
    into the mix; the fit within each weekday sees none."""
    orders = [1200 if i % 7 in (0, 1) else 1000 for i in range(15)]  # days 0, 1: a weekend
    days = [full_day(i, n) for i, n in enumerate(orders)]
    fc = forecast(days, D0 + 15 * DAY_MS, 2000.0, fit_days=14, min_days=7)
    assert fc is not None
    assert fc.growth_per_day == pytest.approx(0.0, abs=1e-9)
    assert fc.days_to_cross is None


def test_forecast_fits_only_the_last_fit_days() -> None:
    # Ten flat days, then 13 days of 5 % growth: a fit of the last 10 days sees the growth.
    orders = [1000] * 10 + [1000 * 1.05**i for i in range(1, 14)]
    days = [full_day(i, round(n)) for i, n in enumerate(orders)]
    fc = forecast(days, D0 + 23 * DAY_MS, 100_000.0, fit_days=10, min_days=7)
    assert fc is not None and fc.growth_per_day == pytest.approx(0.05, abs=1e-3)


def _noisy(growth: float, seed: int, n: int = 14) -> list[Day]:
    """Daily orders of 2,000 growing by `growth` a day, weekends +20 %, each day x N(1, 6 %)."""
    rng = random.Random(seed)
    return [
        full_day(
            i,
            round(
                2000 * (1 + growth) ** i * (1.2 if i % 7 in (5, 6) else 1.0) * rng.gauss(1.0, 0.06)
            ),
        )
        for i in range(n)
    ]


def test_day_to_day_noise_rarely_looks_like_growth() -> None:
    """Steady sites with 15 % headroom and orders varying 6 % from day to day, two weeks seen:
    the cautious growth puts the crossing within the two-week look-ahead at 2 of 40 at most
    (the point estimate alone would at about 1 in 6)."""
    capacity = 2000 * 1.06 * 1.15
    forecasts = [
        forecast(_noisy(0.0, seed), D0 + 14 * DAY_MS, capacity, fit_days=21, min_days=7)
        for seed in range(40)
    ]
    soon = [
        fc for fc in forecasts if fc and fc.days_to_cross is not None and fc.days_to_cross <= 14
    ]
    assert len(soon) <= 2


def test_real_growth_stands_out_of_the_noise() -> None:
    """Orders +2 % a day under the same noise, crossing on day 20: on day 14 the cautious growth
    is positive and below the fitted one, and the crossing is seen within the look-ahead in at
    least 30 of 40 runs."""
    capacity = 2000 * 1.06 * 1.02**20  # the week's mean daily orders reach it on day 20
    forecasts = [
        forecast(_noisy(0.02, seed), D0 + 14 * DAY_MS, capacity, fit_days=21, min_days=7)
        for seed in range(40)
    ]
    assert all(fc is not None and fc.growth_low_per_day < fc.growth_per_day for fc in forecasts)
    seen = [
        fc for fc in forecasts if fc and fc.days_to_cross is not None and fc.days_to_cross <= 14
    ]
    assert len(seen) >= 30


def _week_days(backlogs: list[int], orders: int = 10_000, dispatched: int = 10_000) -> list[Day]:
    return [full_day(i, orders, dispatched, b) for i, b in enumerate(backlogs)]


# One week of a site closed on Sunday (index 6) with busy weekends: the backlog builds from
# Friday to Sunday and is worked off by Wednesday.
RHYTHM = [3000, 1500, 800, 800, 1500, 3000, 9000]


@pytest.mark.parametrize(
    ("backlogs", "day_noise", "expected"),
    [
        # a real shortfall: 1,000 more waiting every day, for two weeks
        ([1000 * i for i in range(14)], 0.0, True),
        # the weekly rhythm, the same each week: Friday to Sunday grow, but no more than a week
        # earlier (the day-over-day test alone said True)
        (RHYTHM * 2, 0.0, False),
        # the same rhythm with this week's weekend 2,000 higher than the last: growth
        (RHYTHM + RHYTHM[:4] + [RHYTHM[4] + 2000, RHYTHM[5] + 2000, RHYTHM[6] + 2000], 0.0, True),
        # ... but within three standard deviations of a week's orders at 5 % a day (3,969)
        (RHYTHM + RHYTHM[:4] + [RHYTHM[4] + 2000, RHYTHM[5] + 2000, RHYTHM[6] + 2000], 0.05, False),
        # growing day over day, but not beyond a twentieth of the dispatch (500) on the last day
        ([1000 * i for i in range(13)] + [12_400], 0.0, False),
        # too few days to compare with a week earlier
        ([1000 * i for i in range(7)], 0.0, False),
        # fewer days than asked for
        ([0, 5000], 0.0, False),
    ],
)
def test_backlog_grows(backlogs: list[int], day_noise: float, expected: bool) -> None:
    assert backlog_grows(_week_days(backlogs), day_noise=day_noise) is expected


def test_backlog_grows_needs_the_same_weekday_a_week_earlier() -> None:
    days = _week_days([1000 * i for i in range(14)])
    assert backlog_grows(days) is True
    # a gap: day 13's week-ago day (6) is missing, so its growth is not confirmed
    assert backlog_grows(days[:6] + days[7:]) is False


@given(
    week=st.lists(st.integers(0, 50_000), min_size=7, max_size=7),
    weeks=st.integers(2, 4),
    start=st.integers(0, 6),
)
def test_a_weekly_rhythm_repeated_never_grows(week: list[int], weeks: int, start: int) -> None:
    """Whatever the shape of the week (closed days, pickups, weekend peaks), the same week again
    is never taken for a site falling behind, from whichever weekday the days start."""
    backlogs = (week * (weeks + 1))[start : start + 7 * weeks]
    assert backlog_grows(_week_days(backlogs)) is False


@given(
    week=st.lists(st.integers(0, 20_000), min_size=7, max_size=7),
    shortfall=st.integers(1_001, 5_000),
)
def test_a_daily_shortfall_on_any_rhythm_grows(week: list[int], shortfall: int) -> None:
    """A site `shortfall` parcels a day short of its orders (more than a tenth of its dispatch)
    falls behind by 7 x shortfall a week whatever its rhythm: seen once the last days also grew
    day over day."""
    backlogs = [week[i % 7] + shortfall * i for i in range(14)]
    grew = all(b > a + 10_000 / 20 for a, b in zip(backlogs[-3:], backlogs[-2:], strict=False))
    assert backlog_grows(_week_days(backlogs), day_noise=0.05) is grew


def test_a_level_within_its_standard_error_below_capacity_is_at_capacity() -> None:
    """Orders steady at 10,000 varying by 5 %, capacity 0.2 % above their level: the gap is
    inside the level's standard error, so the site is at capacity (0 days), not 'crossing in a
    few days' at whatever slight growth the noise suggests."""
    rng = random.Random(3)
    days = [full_day(i, round(10_000 * rng.gauss(1.0, 0.05))) for i in range(21)]
    fc = forecast(days, D0 + 21 * DAY_MS, 1.0, fit_days=21, min_days=7)
    assert fc is not None
    at = fc.level_per_day
    near = forecast(days, D0 + 21 * DAY_MS, at * 1.002, fit_days=21, min_days=7)
    far = forecast(days, D0 + 21 * DAY_MS, at * 1.10, fit_days=21, min_days=7)
    assert near is not None and near.days_to_cross == 0.0
    assert near.day_noise == pytest.approx(0.05, rel=0.5)
    assert far is not None and far.days_to_cross != 0.0


def test_a_steady_site_just_below_capacity_is_not_forecast_to_cross(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Steady orders 4% below capacity, varying 6% from day to day, three weeks seen: the
    cautious growth of a few such runs is two tenths of a percent a day, enough to cross
    within two weeks at that gap (seeds 37 and 92 of these 100); below `MIN_GROWTH_PER_DAY`
    (a quarter of a percent) it is not projected. The +0.9% a day of 2008 still is."""
    capacity = 2000 * 1.06 * 1.04

    def soon() -> list[int]:
        return [
            seed
            for seed in range(100)
            if (fc := forecast(_noisy(0.0, seed, 21), D0 + 21 * DAY_MS, capacity, 21, 7))
            and fc.days_to_cross is not None
            and 0 < fc.days_to_cross <= 14
        ]

    assert soon() == []
    monkeypatch.setattr(trend, "MIN_GROWTH_PER_DAY", 0.0)
    assert soon() == [37, 92]  # any positive bound projected
    monkeypatch.undo()
    growing = [full_day(i, round(2000 * 1.009**i)) for i in range(16)]
    fc = forecast(growing, D0 + 16 * DAY_MS, 2000 * 1.009**26, fit_days=21, min_days=7)
    assert fc is not None and fc.days_to_cross == pytest.approx(10, abs=0.1)
