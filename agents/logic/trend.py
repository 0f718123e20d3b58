"""Daily order totals against dispatch capacity, and when the order trend will cross it.

Each closed minute's counts are folded into per-day aggregates (UTC days of event time), kept for
a bounded number of days. Only *complete* days (all 1,440 minutes evaluated) enter the fit, so
the partial first day of a warehouse and the running day never tilt it.

The fit is log-linear (least squares of ln(orders) against the day), because order growth is
compounding (2008: about 30% a month); a straight line would underestimate it. Capacity is a
configured number of parcels a day, or the highest mean of dispatches over a few consecutive
complete days (optionally only days that ended with a backlog, when dispatch was the limit).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from agents.logic.windows import MINUTE_MS

DAY_MS: Final = 86_400_000
MINUTES_PER_DAY: Final = DAY_MS // MINUTE_MS
MAX_FORECAST_DAYS: Final = 3650.0  # a crossing further away than ten years is "never"


def day_start(ms: int) -> int:
    return ms - ms % DAY_MS


@dataclass(slots=True)
class Day:
    """Aggregates of one UTC day of event time."""

    start_ms: int
    orders: int = 0  # orders placed
    dispatched: int = 0  # parcels dispatched
    minutes: int = 0  # minutes folded in (1,440 = complete)
    backlog_end: int = 0  # dispatch backlog at the end of the last minute folded in
    busy_minutes: int = 0  # minutes that ended with at least an hour of work waiting
    busy_dispatched: int = 0  # parcels dispatched in those minutes

    @property
    def complete(self) -> bool:
        return self.minutes >= MINUTES_PER_DAY

    def to_json(self) -> list[int]:
        return [
            self.start_ms,
            self.orders,
            self.dispatched,
            self.minutes,
            self.backlog_end,
            self.busy_minutes,
            self.busy_dispatched,
        ]

    @classmethod
    def from_json(cls, data: Sequence[int]) -> Day:
        values = [int(v) for v in data] + [0] * (7 - len(data))
        return cls(*values[:7])


@dataclass(slots=True)
class DailyTotals:
    """Per-day aggregates, oldest first, at most `keep_days` + 1 (the running day) of them."""

    days: list[Day] = field(default_factory=list)

    def fold(
        self,
        minute_end_ms: int,
        orders: int,
        dispatched: int,
        backlog: int,
        keep_days: int,
        busy: bool = False,
    ) -> None:
        """Add the minute that ends at `minute_end_ms` (minutes arrive in ascending order).
        `busy`: the dispatch team had more work waiting than it could clear within the minute."""
        start = day_start(minute_end_ms - MINUTE_MS)
        if self.days and self.days[-1].start_ms == start:
            day = self.days[-1]
        elif self.days and self.days[-1].start_ms > start:
            return  # older than the running day: cannot happen with ascending minutes
        else:
            day = Day(start)
            self.days.append(day)
        day.orders += orders
        day.dispatched += dispatched
        day.minutes += 1
        day.backlog_end = backlog
        if busy:
            day.busy_minutes += 1
            day.busy_dispatched += dispatched
        floor = start - keep_days * DAY_MS
        while self.days and self.days[0].start_ms < floor:
            self.days.pop(0)

    def complete_days(self) -> list[Day]:
        return [d for d in self.days if d.complete]

    def to_json(self) -> list[list[int]]:
        return [d.to_json() for d in self.days]

    @classmethod
    def from_json(cls, data: Sequence[Sequence[int]]) -> DailyTotals:
        return cls([Day.from_json(d) for d in data])


def observed_capacity(
    days: Sequence[Day], sustain_days: int, min_backlog: int | None
) -> float | None:
    """Highest mean daily dispatch count over `sustain_days` consecutive complete days.

    With `min_backlog`, only runs of days that each ended with at least that dispatch backlog,
    and more than the day before, count (dispatch, not demand, was the limit: a night's
    backlog before the morning shift is not one). None when there is no such run."""
    complete = [d for d in days if d.complete]
    best: float | None = None
    for i in range(len(complete) - sustain_days + 1):
        run = complete[i : i + sustain_days]
        if run[-1].start_ms - run[0].start_ms != (sustain_days - 1) * DAY_MS:
            continue  # a day is missing in between
        if min_backlog is not None and not _growing(complete, i, sustain_days, min_backlog):
            continue
        mean = sum(d.dispatched for d in run) / sustain_days
        if best is None or mean > best:
            best = mean
    return best


def _growing(complete: Sequence[Day], i: int, n: int, min_backlog: int) -> bool:
    """Each of the days i..i+n-1 ended with at least `min_backlog` waiting, and with more than
    the day before (when the day before is known): dispatch, not demand, was the limit."""
    for k in range(i, i + n):
        day = complete[k]
        before = complete[k - 1] if k > 0 else None
        if day.backlog_end < min_backlog:
            return False
        consecutive = before is not None and before.start_ms == day.start_ms - DAY_MS
        # grew by more than a tenth of a day's dispatch: the site fell behind, not a busier day
        margin = day.dispatched / 10
        if consecutive and before is not None and day.backlog_end <= before.backlog_end + margin:
            return False
    return True


def busy_capacity(
    days: Sequence[Day], recent_days: int, min_minutes: int, working_minutes_per_day: float
) -> float | None:
    """Parcels a day the warehouse dispatches while it is busy (in a working hour, with at least
    an hour of work waiting): what it can, not what it was asked to do. The busy pace of the last
    `recent_days` days (the running one included) times the minutes a day the site works (its
    learned shifts; not 1,440 for a site that sleeps); None with fewer than `min_minutes` busy
    minutes. Evening peaks make a warehouse busy weeks before its daily demand reaches
    capacity, so this is known early."""
    recent = list(days)[-recent_days:]
    minutes = sum(d.busy_minutes for d in recent)
    if minutes < min_minutes or working_minutes_per_day <= 0:
        return None
    return sum(d.busy_dispatched for d in recent) / minutes * working_minutes_per_day


def backlog_grows(days: Sequence[Day], n: int = 3) -> bool:
    """The dispatch backlog at the end of each of the last `n` complete days was higher than
    the day before: demand really is above what the site dispatches."""
    complete = [d for d in days if d.complete][-n:]
    if len(complete) < n:
        return False
    return all(b.backlog_end > a.backlog_end for a, b in itertools.pairwise(complete))


@dataclass(frozen=True, slots=True)
class Forecast:
    fit_days: int  # complete days the trend was fitted to
    level_per_day: float  # fitted daily orders at the time of the forecast
    growth_per_day: float  # fitted growth per day, as a fraction (0.009 = 0.9 % a day)
    capacity_per_day: float
    days_to_cross: float | None  # 0 when the trend is already above capacity; None: never
    crosses_at_ms: int | None  # when the fitted trend crosses capacity (may lie in the past)


def forecast(
    days: Sequence[Day], at_ms: int, capacity_per_day: float, fit_days: int, min_days: int
) -> Forecast | None:
    """Fit ln(mean daily orders over 7 consecutive complete days) against the middle of those
    days, over the last `fit_days` such weeks (one ending on each complete day): the weekday mix
    cannot tilt the slope, whatever day the fit starts on. None with fewer than `min_days`
    complete days or fewer than 3 weeks to fit."""
    complete = [d for d in days if d.complete]
    if len(complete) < min_days or capacity_per_day <= 0:
        return None
    xs: list[float] = []
    ys: list[float] = []
    for i in range(6, len(complete)):
        run = complete[i - 6 : i + 1]
        if run[-1].start_ms - run[0].start_ms != 6 * DAY_MS:
            continue
        xs.append((run[0].start_ms + 7 * DAY_MS / 2) / DAY_MS)
        ys.append(math.log(max(sum(d.orders for d in run), 1) / 7))
    xs, ys = xs[-fit_days:], ys[-fit_days:]
    if len(xs) < 3:
        return None
    n = len(xs)
    x_mean = sum(xs) / n
    y_mean = sum(ys) / n
    sxx = sum((x - x_mean) ** 2 for x in xs)
    slope = sum((x - x_mean) * (y - y_mean) for x, y in zip(xs, ys, strict=True)) / sxx
    return _crossing(n, x_mean, y_mean, slope, at_ms, capacity_per_day)


def _crossing(
    n: int, x_mean: float, y_mean: float, slope: float, at_ms: int, capacity_per_day: float
) -> Forecast:
    now = at_ms / DAY_MS
    level_log = y_mean + slope * (now - x_mean)
    cap_log = math.log(capacity_per_day)
    crosses_at: int | None
    if slope > 0:
        cross_day = x_mean + (cap_log - y_mean) / slope
        days_to_cross: float | None = max(0.0, cross_day - now)
        if cross_day - now > MAX_FORECAST_DAYS:
            days_to_cross, crosses_at = None, None
        else:
            crosses_at = round(max(cross_day - now, -MAX_FORECAST_DAYS) * DAY_MS) + at_ms
    elif level_log >= cap_log:
        days_to_cross, crosses_at = 0.0, at_ms
    else:
        days_to_cross, crosses_at = None, None
    return Forecast(
        fit_days=n,
        level_per_day=math.exp(level_log),
        growth_per_day=math.expm1(slope),
        capacity_per_day=capacity_per_day,
        days_to_cross=days_to_cross,
        crosses_at_ms=crosses_at,
    )


def summary_numbers(fc: Forecast) -> dict[str, Any]:
    """Plain numbers of a forecast (rounded), for the alert signals."""
    return {
        "order_trend_per_day": round(fc.level_per_day, 1),
        "growth_per_day": round(fc.growth_per_day, 5),
        "capacity_per_day": round(fc.capacity_per_day, 1),
        "fit_days": fc.fit_days,
        "days_to_cross": None if fc.days_to_cross is None else round(fc.days_to_cross, 2),
    }
