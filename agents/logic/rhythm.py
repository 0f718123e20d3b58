"""Each queue's rhythm: its normal inflow, outflow and backlog by hour of the week.

Real sites work in shifts, hand parcels to carriers at pickup times, close on some days; desks and
finance keep office hours. What is normal at 23:30 on a Saturday is learned from the same hour of
the previous weeks of the same site, never from a global pace.

`Rhythm` keeps one compact row per hour of event time (`HOUR_ROW`: minutes seen, a flag per queue
for hours judged abnormal, and per queue the inflow, the outflow and the backlog at the hour's
end), for a bounded number of weeks. The normal of an hour of the week is the median over the
previous weeks of the rows of that hour that were complete and not flagged (an incident does not
teach the detector that incidents are normal). Everything here is O(1) per closed minute, or
O(hours of a week) once per hour (the cached profile); no clock, no I/O.
"""

from __future__ import annotations

import bisect
import math
from array import array
from collections.abc import Callable, MutableSequence, Sequence
from dataclasses import dataclass, field
from statistics import median
from typing import Any, Final, TypeVar

from ordermon.agents.logic.windows import HOUR_MS, MINUTE_MS
from ordermon.streams.flows import QUEUE_NAMES

_T = TypeVar("_T")

HOURS_PER_DAY: Final = 24
HOURS_PER_WEEK: Final = 7 * HOURS_PER_DAY
N_QUEUES: Final = len(QUEUE_NAMES)
QUEUE_INDEX: Final = {name: i for i, name in enumerate(QUEUE_NAMES)}
# row layout: [minutes, flags, in_0, out_0, backlog_0, low_0, in_1, out_1, backlog_1, low_1, ...]
MINUTES, FLAGS, BASE = 0, 1, 2
# FLAGS: bit `q` marks an hour not learned from for queue q (an alert firing, a declared
# holiday); bit `HOLIDAY_BIT + q` marks an hour of a holiday declared for it (nobody on duty)
HOLIDAY_BIT: Final = 8
IN, OUT, BACKLOG, LOW = 0, 1, 2, 3  # LOW: the lowest backlog at the end of a minute of the hour
WIDTH: Final = 4
ROW_LEN: Final = BASE + WIDTH * N_QUEUES
QUIET_DAYS: Final = 6  # previous days whose same hour tells how quiet an hour can be
MAX_WAIT_WEEKS: Final = 8  # a wait longer than this many weeks of normal outflow is "never"


def new_row(values: Sequence[int] | None = None) -> MutableSequence[int]:
    """An hour's row: 64-bit integers in one array (233 bytes, not tracked by the garbage
    collector), where a list of 18 ints above 256 took 657 (tracemalloc); the rhythm keeps
    `rhythm_weeks` + 1 weeks of rows per warehouse (672 at the default): 441 MB as lists at
    1,000 busy warehouses, 156 MB as arrays."""
    return array("q", [0] * ROW_LEN if values is None else values)


def hour_of(ms: int) -> int:
    """The absolute hour (hours since the epoch) holding the instant `ms`."""
    return ms // HOUR_MS


def _col(queue: int, what: int) -> int:
    return BASE + WIDTH * queue + what


@dataclass(slots=True)
class Rhythm:
    """Hourly rollups of one warehouse, oldest first; `first_hour` is the absolute hour of
    `rows[0]` and rows are consecutive (an hour with no evaluated minute is a row of zeros)."""

    first_hour: int | None = None
    rows: list[MutableSequence[int]] = field(default_factory=list)
    since: list[int | None] = field(default_factory=lambda: [None] * N_QUEUES)
    """Per queue, the first hour it is learned from (after its warm-up); None: not yet."""
    _cache: dict[tuple[Any, ...], Any] = field(default_factory=dict, repr=False, compare=False)
    # values derived from complete rows (cleared whenever a row completes or rows are dropped)

    # ---- folding -----------------------------------------------------------------------------

    def fold(
        self,
        minute_end_ms: int,
        flows: Sequence[tuple[int, int, int]],
        flagged: int,
        keep_hours: int,
    ) -> None:
        """Add the minute that ends at `minute_end_ms`: per queue (inflow, outflow, backlog at
        the minute's end); `flagged` has bit `i` set when queue `i` is judged abnormal now (its
        hour is then not learned from). Minutes arrive in ascending order."""
        hour = hour_of(minute_end_ms - MINUTE_MS)
        if self.first_hour is None:
            self.first_hour = hour
        last = self.first_hour + len(self.rows) - 1
        if hour < last:
            return  # older than the running hour: cannot happen with ascending minutes
        if hour - last > keep_hours:  # a jump past everything kept (a site back after months,
            self.rows, self.first_hour, last = [], hour, hour - 1  # or dated year 1): start over
            self._cache.clear()
        while last < hour:
            # a row not complete yet: nothing derived from the complete rows changes (until rows
            # are dropped, below)
            self.rows.append(new_row())
            last += 1
        row = self.rows[-1]
        if row[MINUTES] == 59:
            self._cache.clear()  # the row completes: what was derived from the rows changes
        first = row[MINUTES] == 0
        row[MINUTES] += 1
        row[FLAGS] |= flagged
        for q, (inflow, outflow, backlog) in enumerate(flows):
            base = BASE + WIDTH * q
            row[base + IN] += inflow
            row[base + OUT] += outflow
            row[base + BACKLOG] = backlog
            row[base + LOW] = backlog if first else min(row[base + LOW], backlog)
        extra = len(self.rows) - keep_hours
        if extra > 0:
            del self.rows[:extra]
            self.first_hour += extra
            self._cache.clear()  # rows gone: what was derived from them changes

    # ---- reading rows ------------------------------------------------------------------------

    def row(self, hour: int) -> MutableSequence[int] | None:
        """The complete row of absolute hour `hour`, or None (not kept, or partly seen)."""
        if self.first_hour is None:
            return None
        i = hour - self.first_hour
        if 0 <= i < len(self.rows) and self.rows[i][MINUTES] >= 60:
            return self.rows[i]
        return None

    def complete_hours(self, now_hour: int) -> int:
        """Hours from the first complete row to `now_hour` (the history this site has)."""
        if self.first_hour is None:
            return 0
        for i, row in enumerate(self.rows):
            if row[MINUTES] >= 60:
                return max(0, now_hour - (self.first_hour + i))
        return 0

    def backlog_end(self, queue: int, hour: int) -> int | None:
        """The queue's backlog at the end of absolute hour `hour` (None: row not known)."""
        r = self.row(hour)
        return None if r is None else r[_col(queue, BACKLOG)]

    def total(self, queue: int, what: int, end_hour: int, hours: int) -> int | None:
        """Sum of one column over the `hours` complete rows before `end_hour` (None if any is
        missing). Cached per hour."""
        return self._span(queue, what, end_hour, hours, lowest=False)

    def low(self, queue: int, end_hour: int, hours: int) -> int | None:
        """The lowest backlog of the queue over the `hours` complete rows before `end_hour`:
        its floor over those hours (None if any row is missing). Cached per hour."""
        return self._span(queue, LOW, end_hour, hours, lowest=True)

    def low_hour(self, queue: int, end_hour: int, hours: int) -> int | None:
        """The absolute hour of `low` (the latest, if the floor is reached more than once);
        None if any row is missing."""
        low = self.low(queue, end_hour, hours)
        if low is None or self.first_hour is None:
            return None
        col = _col(queue, LOW)
        first = self.first_hour
        return max(h for h in range(end_hour - hours, end_hour) if self.rows[h - first][col] == low)

    def lowest_seen(self, queue: int, end_hour: int, hours: int) -> int | None:
        """The lowest backlog of the queue at the end of any minute seen in the `hours` before
        `end_hour`, partly seen hours included (a quiet site's night may close only some of
        its minutes); None if none was seen."""
        if self.first_hour is None:
            return None
        col = _col(queue, LOW)
        lo = max(0, end_hour - hours - self.first_hour)
        hi = max(0, end_hour - self.first_hour)
        # read at every minute judged: kept until a row changes. Only the last row may still
        # change, and each minute folded into it counts in its minutes
        last = min(hi, len(self.rows)) - 1
        key = ("lowest", queue, end_hour, hours, self.rows[last][MINUTES] if last >= 0 else -1)
        if key in self._cache:
            cached: int | None = self._cache[key]
            return cached
        seen = [r[col] for r in self.rows[lo:hi] if r[MINUTES] > 0]
        value = self._cache[key] = min(seen) if seen else None
        return value

    def derived(self, key: tuple[Any, ...], compute: Callable[[], _T]) -> _T:
        """`compute()`, a value derived from complete rows only (and from `key`, which must name
        everything else it depends on), once until the next row completes (or rows are
        dropped)."""
        key = ("derived", *key)
        if key in self._cache:
            cached: _T = self._cache[key]
            return cached
        value = self._cache[key] = compute()
        return value

    def flagged(self, queue: int, end_hour: int, hours: int) -> bool:
        """Whether any row of the `hours` before `end_hour` is flagged for the queue (judged
        abnormal then: not a normal to compare with)."""
        if self.first_hour is None:
            return False
        bit = 1 << queue
        lo, hi = max(0, end_hour - hours - self.first_hour), max(0, end_hour - self.first_hour)
        return any(r[FLAGS] & bit for r in self.rows[lo:hi])

    def _span(self, queue: int, what: int, end_hour: int, hours: int, lowest: bool) -> int | None:
        key = ("span", queue, what, end_hour, hours, lowest)
        if key in self._cache:
            cached: int | None = self._cache[key]
            return cached
        col = _col(queue, what)
        if not lowest and hours > 0 and self.first_hour is not None:
            # a difference of running sums: a span of a week costs what one of an hour does
            sums, gaps = self._running(col)
            lo, hi = end_hour - hours - self.first_hour, end_hour - self.first_hour
            total = None
            # rows after the last of `sums` are not complete (they came since, see `fold`)
            if lo >= 0 and hi < len(sums) and gaps[hi] == gaps[lo]:
                total = sums[hi] - sums[lo]
            self._cache[key] = total
            return total
        values = []
        for h in range(end_hour - hours, end_hour):
            r = self.row(h)
            if r is None:
                self._cache[key] = None
                return None
            values.append(r[col])
        out = min(values) if lowest else sum(values)
        self._cache[key] = out
        return out

    def _running(self, col: int) -> tuple[list[int], list[int]]:
        """Running sums over the rows of one column of the complete rows, and of the rows not
        complete (`row` None): the sum of a span of rows is the difference of two, and it holds
        a row not complete where the second differs. Until the next row completes."""
        key = ("running", col)
        cached: tuple[list[int], list[int]] | None = self._cache.get(key)
        if cached is None:
            sums, gaps = [0], [0]
            total = missing = 0
            for r in self.rows:
                if r[MINUTES] >= 60:
                    total += r[col]
                else:
                    missing += 1
                sums.append(total)
                gaps.append(missing)
            cached = self._cache[key] = (sums, gaps)
        return cached

    def busy_pace(
        self, queue: int, end_hour: int, hours: int, share: float
    ) -> tuple[int, float, float] | None:
        """The queue's pace when its team is never short of work, from the `hours` complete rows
        before `end_hour`: (busy hours, their mean outflow, hours on duty per day). Cached per
        hour; None when no row of the span is known.

        A *busy* hour is not flagged, served at least a quarter of the span's busiest hour (not a
        cancellation in the night, not a stall or a part-hour) and its backlog never fell below
        `share` of what it served: the team was never idle, so what it served is what it can
        (the morning catch-up after the night, the evening peak, a pickup that leaves parcels
        behind; a pickup that takes everything waiting is not busy). An hour is *on duty* when
        it served at least a quarter of that pace, or served something and ended with less
        waiting than it served (a night shift with few orders). The daily capacity is the pace
        times the hours on duty: shifts, pickups and closed days count as they are; the hours of a
        declared holiday (`HOLIDAY_BIT`) do not count at all (a week with one would read a sixth or
        a seventh fewer hours on duty a day)."""
        key = ("busy", queue, end_hour, hours, share)
        if key in self._cache:
            cached: tuple[int, float, float] | None = self._cache[key]
            return cached
        holiday = 1 << (HOLIDAY_BIT + queue)
        rows = [
            r
            for h in range(end_hour - hours, end_hour)
            if (r := self.row(h)) is not None and not r[FLAGS] & holiday
        ]
        result: tuple[int, float, float] | None = None
        if rows:
            out_col, low_col, end_col = _col(queue, OUT), _col(queue, LOW), _col(queue, BACKLOG)
            top = max(r[out_col] for r in rows)
            busy = [
                r[out_col]
                for r in rows
                if not r[FLAGS] & (1 << queue)
                and 0 < r[out_col] >= top / 4
                and r[low_col] >= share * r[out_col]
            ]
            pace = sum(busy) / len(busy) if busy else 0.0
            duty = sum(
                1
                for r in rows
                if r[out_col] > 0 and (r[out_col] >= pace / 4 or r[end_col] <= r[out_col])
            )
            result = (len(busy), pace, duty * HOURS_PER_DAY / len(rows))
        self._cache[key] = result
        return result

    def typical_day(
        self, queue: int, end_hour: int, days: int, band: tuple[float, float]
    ) -> tuple[float, float, bool] | None:
        """Median daily (inflow, outflow) over the last `days` whole (UTC) days before
        `end_hour` that are fully known; None with fewer than
        two such days; the flag says whether none of them falls short of the lower end of
        `band` times the median, inflow or outflow (False: the queue has a weekly rhythm, a
        closed day or a weekend without deliveries, which a few days cannot teach; a day above
        it, a surge or a team that worked harder, is not a different kind of day)."""
        last_day_end = end_hour - end_hour % HOURS_PER_DAY  # whole days: a closed day is seen
        key = ("typical", queue, last_day_end, days, band)
        if key in self._cache:
            cached: tuple[float, float, bool] | None = self._cache[key]
            return cached
        result = self._typical_day(queue, last_day_end, days, band)
        self._cache[key] = result
        return result

    def _typical_day(
        self, queue: int, last_day_end: int, days: int, band: tuple[float, float]
    ) -> tuple[float, float, bool] | None:
        ins: list[int] = []
        outs: list[int] = []
        for k in range(days):
            end = last_day_end - HOURS_PER_DAY * k
            i = self.total(queue, IN, end, HOURS_PER_DAY)
            o = self.total(queue, OUT, end, HOURS_PER_DAY)
            if i is not None and o is not None:
                ins.append(i)
                outs.append(o)
        if len(ins) < 2:
            return None
        m_in, m_out = float(median(ins)), float(median(outs))
        low = band[0]
        regular = all(i >= low * m_in and o >= low * m_out for i, o in zip(ins, outs, strict=True))
        return m_in, m_out, regular

    # ---- the learned normal ------------------------------------------------------------------

    def normal(self, queue: int, what: int, hour: int, weeks: int) -> float | None:
        """Median of the column over the same hour of the previous `weeks` weeks, from rows
        complete, not flagged for this queue and not before its `since` hour (a queue that starts
        empty fills up first: that is not its normal); None without any. Cached per hour."""
        since_hour = self.since[queue]
        key = ("normal", queue, what, hour, weeks, since_hour)
        if key in self._cache:
            cached: float | None = self._cache[key]
            return cached
        col = _col(queue, what)
        bit = 1 << queue
        values = []
        for k in range(1, weeks + 1):
            past = hour - HOURS_PER_WEEK * k
            if since_hour is None or past < since_hour:
                break
            r = self.row(past)
            if r is not None and not r[FLAGS] & bit:
                values.append(r[col])
        result = self._cache[key] = _recent_median(values)
        return result

    def normal_total(
        self, queue: int, what: int, end_hour: int, hours: int, weeks: int
    ) -> float | None:
        """Median over the previous `weeks` weeks of `total` at the same hour of the week, of
        spans that end after the queue's `since`; None without any. Cached per hour."""
        since_hour = self.since[queue]
        key = ("normal_total", queue, what, end_hour, hours, weeks, since_hour)
        if key in self._cache:
            cached: float | None = self._cache[key]
            return cached
        values = []
        for k in range(1, weeks + 1):
            end = end_hour - HOURS_PER_WEEK * k
            if since_hour is None or end <= since_hour:
                break
            value = self.total(queue, what, end, hours)
            if value is not None:
                values.append(value)
        result = self._cache[key] = _recent_median([float(v) for v in values])
        return result

    def normal_events(self, hour: int, weeks: int) -> float | None:
        """The fewest arrivals (`_EVENT_COLS`) the site has had lately in the
        hour of the day of absolute hour `hour`: the lowest count of that hour over the previous
        `QUIET_DAYS` days and the same hour of the previous `weeks` weeks; None without any.
        Cached per hour.

        The lowest, not the median: the rate of an hour varies from day to day beyond Poisson
        (a closed day, a quiet morning, the curve that ramps up within the hour), and silence
        is judged against the quietest this hour has been lately, so that an absence is never
        one the site has shown when healthy. With few samples the lowest is no bound (one
        night seen once): then what their sum shows at the least (`at_least`), per sample,
        when that is lower. The lowest of n Poisson draws lies about 1.35 standard deviations
        below their mean for n = 7 (1.0 for n = 4), the sum's bound 2 / sqrt(n) of them: from
        about four samples on, the lowest decides."""
        key = ("events", hour, weeks)
        if key in self._cache:
            cached: float | None = self._cache[key]
            return cached
        cols = _EVENT_COLS
        hours = {hour - HOURS_PER_DAY * k for k in range(1, QUIET_DAYS + 1)}
        hours |= {hour - HOURS_PER_WEEK * k for k in range(1, weeks + 1)}
        counts = [float(sum(r[c] for c in cols)) for h in hours if (r := self.row(h)) is not None]
        result = None
        if counts:  # the quietest; with few samples, what their sum shows at the least
            result = min(min(counts), at_least(sum(counts)) / len(counts))
        self._cache[key] = result
        return result

    def expected_events(
        self, from_ms: int, to_ms: int, weeks: int, recent_scale: float = 1.0
    ) -> float | None:
        """Arrivals the site has at the least between `from_ms` and `to_ms` (at most a day is
        looked at: a longer silence is silence): each hour's `normal_events`, or, where an hour
        has none yet (a site's first day), the pace of the last hours it was seen in times
        `recent_scale` (how the pace of the other sites changed since: the night falls on them
        too). None without any row."""
        to_ms = min(to_ms, from_ms + HOURS_PER_DAY * HOUR_MS)
        recent = self.recent_pace(hour_of(from_ms), until_ms=from_ms)
        if recent is not None:
            recent *= recent_scale
        total, known = 0.0, False
        for hour in range(hour_of(from_ms), hour_of(to_ms - 1) + 1 if to_ms > from_ms else 0):
            normal = self.normal_events(hour, weeks)
            if normal is None:
                normal = recent
            if normal is None:
                continue
            start, end = max(from_ms, hour * HOUR_MS), min(to_ms, (hour + 1) * HOUR_MS)
            total += normal * (end - start) / HOUR_MS
            known = True
        return total if known else None

    def recent_pace(self, hour: int, until_ms: int | None = None) -> float | None:
        """Arrivals an hour (`at_least` of the count) at the pace of the newest two rows at or
        before `hour`, the lower (a part-row counts for the minutes it saw; the evening's pace is
        not the night's); None without one.

        `until_ms`: the start of the site's last minute with events (it fell silent after it).
        The row of its hour counts only its minutes up to that one: the silent minutes folded
        into the same row after it would otherwise make the pace that judges the silence
        (a site quiet from 12:00:50 had a pace of one minute's events over the hour)."""
        if self.first_hour is None:
            return None
        # rows before the running one no longer change: their pace is kept until the next
        # row completes (a thousand sites' paces are read at every minute one of them is quiet)
        final = until_ms is None and hour < self.first_hour + len(self.rows) - 1
        key = ("pace", hour)
        if final and key in self._cache:
            cached: float | None = self._cache[key]
            return cached
        # the row of the hour it stopped in, and its minutes until then
        cut_row, cut_minutes = -1, 60
        if until_ms is not None:
            cut_row = hour_of(until_ms) - self.first_hour
            cut_minutes = until_ms % HOUR_MS // MINUTE_MS + 1
        paces: list[float] = []
        for i in range(min(hour - self.first_hour, len(self.rows) - 1), -1, -1):
            row = self.rows[i]
            minutes = min(row[MINUTES], cut_minutes) if i == cut_row else row[MINUTES]
            if minutes > 0:
                paces.append(at_least(sum(row[c] for c in _EVENT_COLS)) * 60 / minutes)
            if len(paces) == 2:
                break
        result = min(paces) if paces else None
        if final:
            self._cache[key] = result
        return result

    def profile(self, queue: int, now_hour: int, weeks: int) -> list[float] | None:
        """The normal outflow of the next 168 hours from `now_hour` on (cached per hour); None
        until every hour of the week has a learned normal."""
        key = ("profile", queue, now_hour)
        if key in self._cache:
            cached: list[float] | None = self._cache[key]
            return cached
        out: list[float] | None = []
        for i in range(HOURS_PER_WEEK):
            value = self.normal(queue, OUT, now_hour + i, weeks)
            if value is None:  # every week of this hour flagged: its last week, flagged or not
                last = self.row(now_hour + i - HOURS_PER_WEEK)
                since_hour = self.since[queue]
                learned = since_hour is not None and now_hour + i - HOURS_PER_WEEK >= since_hour
                if last is not None and learned:
                    value = float(last[_col(queue, OUT)])
            if value is None:
                out = None
                break
            assert out is not None
            out.append(value)
        self._cache[key] = out
        return out

    def cumulative(self, queue: int, now_hour: int, weeks: int) -> list[float] | None:
        """Running sums of `profile` (cumulative[i] = outflow of hours 0..i), cached."""
        key = ("cum", queue, now_hour)
        if key in self._cache:
            cached: list[float] | None = self._cache[key]
            return cached
        prof = self.profile(queue, now_hour, weeks)
        cum: list[float] | None = None
        if prof is not None:
            cum = []
            running = 0.0
            for value in prof:
                running += value
                cum.append(running)
        self._cache[key] = cum
        return cum

    # ---- state -------------------------------------------------------------------------------

    def to_json(self, split: int | None = None) -> dict[str, Any]:
        """Plain JSON. `split`: an absolute hour; the rows before it are left out (they are
        kept elsewhere: the engine's records of blocks of hours, `persist.rhythm_key`), and the
        JSON says where they end."""
        out: dict[str, Any] = {"first": self.first_hour, "since": list(self.since)}
        rows = self.rows
        if split is not None and self.first_hour is not None and split > self.first_hour:
            out["split"] = split
            rows = rows[split - self.first_hour :]
        out["rows"] = [list(r) for r in rows]
        return out

    @classmethod
    def from_json(cls, data: Any) -> Rhythm:
        if not data:
            return cls()
        if data.get("split") is not None:
            raise ValueError("a rhythm without its rows before the split (see join_rhythm)")
        rows: list[MutableSequence[int]] = [
            new_row([int(v) for v in r][:ROW_LEN] + [0] * (ROW_LEN - len(r))) for r in data["rows"]
        ]
        first = data["first"]
        since = [None if v is None else int(v) for v in data.get("since", [])][:N_QUEUES]
        since += [None] * (N_QUEUES - len(since))
        return cls(first_hour=None if first is None else int(first), rows=rows, since=since)


# The arrivals a site does not control, counted by `normal_events`: orders placed, parcels
# delivered (or failed) by carriers, complaints opened, refunds requested. Each comes on its
# own, so their count in a span is near Poisson, and none arriving is evidence of silence. The
# site's own work is left out: a team that keeps up dispatches (resolves, pays) each item soon
# after it arrived, so counting it would count one arrival twice, and make a gap in the orders
# of a quiet hour look twice as unlikely as it is.
_EVENT_COLS: Final = [
    _col(QUEUE_INDEX["dispatch"], IN),
    _col(QUEUE_INDEX["delivery"], OUT),
    _col(QUEUE_INDEX["service"], IN),
    _col(QUEUE_INDEX["refund"], IN),
]


def at_least(count: float) -> float:
    """The Poisson mean a count of `count` shows at the least: (sqrt(count) - 1)^2, two standard
    deviations below it on the square-root scale (where a Poisson count's spread is 1/2). A
    count is itself a draw: an hour seen once with 12 arrivals says 6 an hour at the least."""
    return max(0.0, math.sqrt(max(count, 0.0)) - 1) ** 2


def _recent_median(values: Sequence[float]) -> float | None:
    """The median of values given newest first; of an even count, the newer of the middle two
    (two weeks disagree: the newer one is the site as it is now, the older may be its first
    week, which began with empty queues)."""
    if not values:
        return None
    n = len(values)
    order = sorted(range(n), key=lambda i: (values[i], i))
    if n % 2:
        return float(values[order[n // 2]])
    a, b = order[n // 2 - 1], order[n // 2]
    return float(values[min(a, b)])


def wait_hours(
    rhythm: Rhythm, queue: int, at_ms: int, backlog: float, scale: float, weeks: int
) -> float | None:
    """Hours of wall time until the newest of `backlog` waiting items is served, if the queue
    works through its learned week (each hour's normal outflow times `scale`): Little's law
    with the throughput of the site's real working hours, so a parcel ordered at 23:30 waits
    for the morning shift, not for ever. None before the week is learned; infinite when the
    normal week serves nothing (or would need more than `MAX_WAIT_WEEKS` weeks)."""
    if backlog <= 0:
        return 0.0
    now_hour = hour_of(at_ms)
    cum = rhythm.cumulative(queue, now_hour, weeks)
    if cum is None:
        return None
    week_total = cum[-1] * scale
    if week_total <= 0 or scale <= 0:
        return math.inf
    left_now = 1 - (at_ms % HOUR_MS) / HOUR_MS  # the part of the running hour still ahead
    first = cum[0] * scale * left_now
    if backlog <= first:
        return backlog / (cum[0] * scale) if cum[0] > 0 else 0.0
    need = (backlog - first) / scale + cum[0]  # in unscaled cumulative terms from hour 0
    weeks_over, rest = divmod(need, cum[-1])
    if weeks_over >= MAX_WAIT_WEEKS:
        return math.inf
    i = bisect.bisect_left(cum, rest) if rest > 0 else 0
    i = max(i, 1) if weeks_over == 0 else i
    before = cum[i - 1] if i > 0 else 0.0
    here = cum[i] - before
    frac = (rest - before) / here if here > 0 else 1.0
    return left_now + weeks_over * HOURS_PER_WEEK + (i - 1) + frac
