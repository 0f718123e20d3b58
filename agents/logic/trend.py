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

import functools
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from ordermon.agents.logic.windows import MINUTE_MS

DAY_MS: Final = 86_400_000
MINUTES_PER_DAY: Final = DAY_MS // MINUTE_MS
MAX_FORECAST_DAYS: Final = 3650.0  # a crossing further away than ten years is "never"
# The least growth a forecast is projected with (a quarter of a percent a day, 8% a month):
# below it the lower bound of two or three weeks of noisy days comes and goes with chance, and
# at a site a few percent below its capacity a bound of +0.1% a day forecasts a crossing within
# two weeks that nothing in its orders shows. 2008's orders grew 0.9% a day.
MIN_GROWTH_PER_DAY: Final = 0.0025


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
        ]

    @classmethod
    def from_json(cls, data: Sequence[int]) -> Day:
        values = [int(v) for v in data] + [0] * (5 - len(data))
        return cls(*values[:5])  # older states had two more (busy minutes): not used


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
    ) -> None:
        """Add the minute that ends at `minute_end_ms` (minutes arrive in ascending order)."""
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


def backlog_grows(days: Sequence[Day], n: int = 3, day_noise: float = 0.0) -> bool:
    """Demand really is above what the site dispatches: the dispatch backlog at the end of each
    of the last `n` complete days was higher than the day before by more than a twentieth of the
    day's dispatch (more than an evening's noise), **and** higher than at the end of the same
    weekday a week earlier by more than a week's noise: a site closed on Sunday, or busier at
    the weekend, builds a backlog from Friday to Sunday every week and works it off by
    Wednesday, and that is its rhythm, not a shortfall.

    A week's noise is three standard deviations of a week of daily orders whose relative
    spread from day to day is `day_noise` (the forecast's residuals), and at least the daily
    margin: a site with zero headroom wanders by that much without falling behind. Without the
    same weekday a week earlier (too few days, or a gap) the growth is not confirmed."""
    complete = [d for d in days if d.complete]
    recent = complete[-n:]
    if len(recent) < n:
        return False
    by_start = {d.start_ms: d for d in complete}
    for a, b in itertools.pairwise(recent):
        margin = b.dispatched / 20
        if b.backlog_end <= a.backlog_end + margin:
            return False
        week_ago = by_start.get(b.start_ms - 7 * DAY_MS)
        week_margin = max(margin, 3 * math.sqrt(7) * day_noise * b.orders)
        if week_ago is None or b.backlog_end <= week_ago.backlog_end + week_margin:
            return False
    return True


@dataclass(frozen=True, slots=True)
class Forecast:
    fit_days: int  # complete days the trend was fitted to
    level_per_day: float  # fitted mean daily orders (over a week's mix) at the time of the forecast
    growth_per_day: float  # fitted growth per day, as a fraction (0.009 = 0.9 % a day)
    growth_low_per_day: float  # the growth the data shows at the least (one-sided 75 %)
    capacity_per_day: float
    # at the cautious growth; 0: at or above capacity (within the level's standard error);
    # None: never
    days_to_cross: float | None
    crosses_at_ms: int | None  # when the cautious trend crosses capacity
    day_noise: float = 0.0  # relative spread of daily orders around the fit (residual sd of ln)


# one-sided 75 % quantiles of Student's t by degrees of freedom (the last one for any more):
# the growth the data shows with odds of 3 to 1. A site's daily orders vary by 5-10 % from day
# to day (weather, promotions), so two weeks leave the growth uncertain by about half a percent
# a day: the point estimate alone would forecast an overload at steady sites; a 95 % bound would
# see real growth only days before the crossing.
_T75: Final = (
    1.000,
    0.816,
    0.765,
    0.741,
    0.727,
    0.718,
    0.711,
    0.706,
    0.703,
    0.700,
    0.697,
    0.695,
    0.694,
    0.692,
    0.691,
    0.690,
    0.689,
    0.688,
    0.688,
    0.687,
)


def forecast(
    days: Sequence[Day], at_ms: int, capacity_per_day: float, fit_days: int, min_days: int
) -> Forecast | None:
    """Fit ln(daily orders) over the last `fit_days` complete days with a level per weekday and
    one common growth (a regression *within* each weekday): the weekday mix cannot tilt the
    slope, whatever day the fit starts on. The growth's standard error comes from the daily
    residuals; the crossing is projected with the growth the data shows *at the least* (the
    one-sided 75 % lower bound, see `_T75`), so a few noisy days do not make a steady site look
    like a growing one, while real growth (2008: 0.9 % a day for months) stands out.
    None with fewer than `min_days` complete days, or too few to see each weekday twice."""
    complete = [d for d in days if d.complete][-fit_days:]
    if len(complete) < max(min_days, 9) or capacity_per_day <= 0:
        return None
    fit = _trend(tuple((d.start_ms, d.orders) for d in complete))
    if fit is None:
        return None
    slope, low, base, origin, noise = fit
    now = (at_ms - origin) / DAY_MS
    # the mean daily orders of a week at `now`: the weekday levels averaged
    level_log = slope * now + base
    return _crossing(len(complete), level_log, slope, low, noise, at_ms, capacity_per_day)


@functools.lru_cache(maxsize=4096)
def _trend(days: tuple[tuple[int, int], ...]) -> tuple[float, float, float, int, float] | None:
    """(slope, its 75 % lower bound, the log of the mean weekday level at the origin, the
    origin, the residual standard deviation of ln(orders)) of the complete days (start,
    orders) given: a function of them alone, so computed once per day and warehouse however
    many minutes ask (a complete day never changes)."""
    groups: dict[int, list[tuple[float, float]]] = {}
    origin = days[0][0]  # days counted from the first fitted one (exp stays finite)
    for start, orders in days:
        x = (start - origin) / DAY_MS
        groups.setdefault(start // DAY_MS % 7, []).append((x, math.log(max(orders, 1))))
    fit = _within_fit(groups)
    if fit is None:
        return None
    slope, se, intercepts, noise = fit
    df = len(days) - len(groups) - 1
    low = slope - _T75[min(df, len(_T75)) - 1] * se
    base = math.log(sum(math.exp(a) for a in intercepts) / len(intercepts))
    return slope, low, base, origin, noise


def _within_fit(
    groups: Mapping[int, Sequence[tuple[float, float]]],
) -> tuple[float, float, list[float], float] | None:
    """Least squares of y = a_weekday + slope * x: (slope, its standard error, the weekday
    intercepts, the residual standard deviation); None without spread in x or without a degree
    of freedom left."""
    sxx = sxy = 0.0
    means = {}
    for w, pts in groups.items():
        mx = sum(x for x, _ in pts) / len(pts)
        my = sum(y for _, y in pts) / len(pts)
        means[w] = (mx, my)
        sxx += sum((x - mx) ** 2 for x, _ in pts)
        sxy += sum((x - mx) * (y - my) for x, y in pts)
    n = sum(len(pts) for pts in groups.values())
    df = n - len(groups) - 1
    if sxx <= 0 or df < 1:
        return None
    slope = sxy / sxx
    intercepts = [my - slope * mx for mx, my in means.values()]
    rss = sum(
        (y - (means[w][1] + slope * (x - means[w][0]))) ** 2
        for w, pts in groups.items()
        for x, y in pts
    )
    return slope, math.sqrt(rss / df / sxx), intercepts, math.sqrt(rss / df)


def _crossing(
    n: int,
    level_log: float,
    slope: float,
    low: float,
    noise: float,
    at_ms: int,
    capacity_per_day: float,
) -> Forecast:
    """The forecast of a fitted trend. A level within one standard error (`noise` / sqrt(n))
    below capacity is *at* capacity: the data cannot tell it from the capacity, and a crossing
    projected over that gap at a barely positive growth would be days away by chance."""
    cap_log = math.log(capacity_per_day)
    days_to_cross: float | None
    crosses_at: int | None
    if level_log >= cap_log - noise / math.sqrt(n):
        days_to_cross, crosses_at = 0.0, at_ms
    elif low >= math.log1p(MIN_GROWTH_PER_DAY) and (cap_log - level_log) / low <= MAX_FORECAST_DAYS:
        days_to_cross = (cap_log - level_log) / low
        crosses_at = round(days_to_cross * DAY_MS) + at_ms
    else:
        days_to_cross, crosses_at = None, None
    return Forecast(
        fit_days=n,
        level_per_day=math.exp(level_log),
        growth_per_day=math.expm1(slope),
        growth_low_per_day=math.expm1(low),
        capacity_per_day=capacity_per_day,
        days_to_cross=days_to_cross,
        crosses_at_ms=crosses_at,
        day_noise=noise,
    )


def summary_numbers(fc: Forecast) -> dict[str, Any]:
    """Plain numbers of a forecast (rounded), for the alert signals."""
    return {
        "order_trend_per_day": round(fc.level_per_day, 1),
        "growth_per_day": round(fc.growth_per_day, 5),
        "growth_low_per_day": round(fc.growth_low_per_day, 5),
        "capacity_per_day": round(fc.capacity_per_day, 1),
        "fit_days": fc.fit_days,
        "days_to_cross": None if fc.days_to_cross is None else round(fc.days_to_cross, 2),
    }
