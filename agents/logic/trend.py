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

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from ordermon.agents.logic.windows import MINUTE_MS

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

    With `min_backlog`, only runs of days that each ended with at least that dispatch backlog
    count (dispatch, not demand, was the limit). None when there is no such run."""
    complete = [d for d in days if d.complete]
    best: float | None = None
    for i in range(len(complete) - sustain_days + 1):
        run = complete[i : i + sustain_days]
        if run[-1].start_ms - run[0].start_ms != (sustain_days - 1) * DAY_MS:
            continue  # a day is missing in between
        if min_backlog is not None and any(d.backlog_end < min_backlog for d in run):
            continue
        mean = sum(d.dispatched for d in run) / sustain_days
        if best is None or mean > best:
            best = mean
    return best


def busy_capacity(days: Sequence[Day], recent_days: int, min_minutes: int) -> float | None:
    """Parcels a day the warehouse dispatches while it is busy (at least an hour of work
    waiting): what it can do, not what it was asked to do. From the busy minutes of the last
    `recent_days` days (the running one included), scaled to a day; None with fewer than
    `min_minutes` busy minutes. Evening peaks make a warehouse busy weeks before its daily
    demand reaches capacity, so this is known early."""
    recent = list(days)[-recent_days:]
    minutes = sum(d.busy_minutes for d in recent)
    if minutes < min_minutes:
        return None
    return sum(d.busy_dispatched for d in recent) / minutes * MINUTES_PER_DAY


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
    """Fit ln(daily orders) over the last `fit_days` complete days; None with fewer than
    `min_days` of them. Days with no orders count as one order (the log needs a positive)."""
    complete = [d for d in days if d.complete][-fit_days:]
    if len(complete) < min_days or capacity_per_day <= 0:
        return None
    xs = [(d.start_ms + DAY_MS / 2) / DAY_MS for d in complete]  # day midpoints, in days
    ys = [math.log(max(d.orders, 1)) for d in complete]
    n = len(xs)
    x_mean = sum(xs) / n
    y_mean = sum(ys) / n
    sxx = sum((x - x_mean) ** 2 for x in xs)
    slope = sum((x - x_mean) * (y - y_mean) for x, y in zip(xs, ys, strict=True)) / sxx
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
