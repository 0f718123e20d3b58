"""Daily aggregates (bounded), observed capacity and the log-linear forecast."""

from __future__ import annotations

import math
import random

import pytest

from ordermon.agents.logic.trend import (
    DAY_MS,
    MINUTES_PER_DAY,
    DailyTotals,
    Day,
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
