"""One queue's backpressure, judged against the warehouse's own rhythm.

Two ways a queue is in trouble, one alert kind (`<queue>_backpressure`):

- **sustained**: over whole cycles, the backlog grows. `growth` is the backlog's change over the
  last 24 hours beyond the change normal for this hour of the week, and `excess` the backlog's
  distance above its normal for this hour of the week, both as a fraction of a day's inflow
  (days of wait; a day's inflow is the mean day over as many days as an item normally waits,
  one to three, so parcels with the carriers are measured against the hand-overs of the days
  they came from). Both above the queue's `fire_growth`, above the counting noise of the
  backlogs they are read from (`counting_noise`) and above the queue's own day-to-day wander
  at this hour (`day_to_day_spread`), and at least `min_backlog` waiting: the
  backlog is higher than at this hour yesterday, and higher than at this hour on a normal week.
  The evening peak and the night before the morning shift are the rhythm, not a problem.
  Once learned, growth starts an alert only where the team fell behind (`_behind`): it served
  less than its normal, or the backlog grew on each of the last days, or the wait passed the
  SLA; a busy Saturday at a team at its full pace, worked off on Monday, is not paged.
  Until the site has a week of history there is no normal by hour of the week: the growth is the
  rise of the queue's floor (its lowest backlog of a day) over the last whole day, and once
  the floor has risen beyond its noise, the backlog at the end of the last hour against the
  same hour a day earlier (like with like: a team short of trucks from 10:00 is seen at the
  next day's 10:00 pickup, a day before the floor of a whole day shows it), and only days
  in which the team did a typical day's work, while no day seen fell short of the typical day
  (in- or outflow below two thirds of it), are judged, so a closed Sunday or a short Saturday is
  not taken for a stall. A day *above* the typical day is judged: a surge of arrivals at a team
  working at its pace is what backpressure is.
  A firing alert resolves only on evidence (drained, back to its normal, or not growing): while
  its queue cannot be judged (the first day of a learned week) it holds.
- **stall** (a learned week needed): outflow over the last 30 minutes below `stall_ratio` of what
  this site normally does in these hours of the week, and so low that Poisson chance explains it
  less than once in 10,000 windows (`STALL_SIGNIFICANCE`: a small site's normal half hour is
  noisy), while inflow outruns it and at least a quarter of an hour of its normal work waits.
  Only in working hours: an hour whose normal outflow is below `idle_share` of the site's mean
  hour (off shift, a closed desk, between pickups) or declared closed is never judged.
- **surge** (service and refund, a week of history needed): arrivals over the last 6 hours far
  above their normal share of the stream they come from (complaints per delivery, refund
  requests per resolution) in the same hours of the previous days and weeks, beyond Poisson
  chance, and at that pace more than the team has shown it serves in a day (agents.logic.surge).
  A desk 50% above its load keeps up with a fourfold complaint rate until the next morning: its
  backlog says nothing for a day, the arrivals say it within hours. A warning: the severity
  comes from the real wait, as for growth. It resolves once the share is back near normal and
  the backlog is not growing.

A **declared holiday** (the policy's calendar) is a day nobody works: no sustained alert starts
in it, growth is not judged while its readings span it (`_after_holiday`) and a firing alert
holds without escalating, the carriers' thin rounds after it are not a stall, no surge is judged
while the stream upstream echoes it (`SURGE_AFTER_HOLIDAY_MS`), and it is not learned from
(`holiday_flags`). Undeclared, it is what it looks like: a team that stopped.

The wait is the real one: hours of wall time until the newest waiting item is served if the
queue works through its learned week (Little's law with the throughput of its working hours), so
a parcel ordered at 23:30 waits for the morning shift, not for ever. Severity is critical when
that wait passes the queue's SLA or will within `critical_margin_hours` at the current growth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import median
from typing import Final, NamedTuple, TypeVar

from ordermon.agents.logic.alerts import Observation
from ordermon.agents.logic.policy import Policy, QueuePolicy
from ordermon.agents.logic.rhythm import (
    BACKLOG,
    HOLIDAY_BIT,
    HOURS_PER_DAY,
    HOURS_PER_WEEK,
    IN,
    OUT,
    QUEUE_INDEX,
    QUIET_DAYS,
    Rhythm,
    hour_of,
    wait_hours,
)
from ordermon.agents.logic.surge import WINDOW_HOURS as SURGE_WINDOW_HOURS
from ordermon.agents.logic.surge import Surge, judge_surge
from ordermon.agents.logic.windows import HOUR_MS, MINUTE_MS

DAY_MS = 24 * HOUR_MS
STALL_WINDOW_MS = 30 * MINUTE_MS
# A last hour that served less than this share of its normal may be an edge an hour off (a late
# truck, a clock change): its growth is held to the hour before it (`_learned_growth`).
EDGE_SHARE = 0.5
# A stall is an outflow so far below normal that chance explains it less than once in 10,000
# windows: at a small site's 15 parcels a normal half hour, 8 is noise (p 0.04) and 2 is not;
# at 400, anything below `stall_ratio` is far beyond chance.
STALL_SIGNIFICANCE = 1e-4
TYPICAL_DAYS = 7  # whole days the typical day (median) is taken over before a week is learned
TYPICAL_BAND = (2 / 3, 3 / 2)  # a day within this band of the typical day is a typical day
SPREAD_DAYS = 14  # previous days whose growth at the same hour tell how much a queue wanders
SPREAD_MIN_READINGS = 5
# before a week: the days whose same-hour readings tell how far a queue wanders (a site's fifth
# day has four behind it, its first having none a day before)
SAME_HOUR_MIN_READINGS = 3
# ... read only after a day that served at least this share of the day before's outflow
# (`_full_day_served`) ...
FULL_DAY_SHARE = 0.8
# ... by a team seen working at least a shift's hours of the day
SHIFT_HOURS = 8
# A learned queue that grew this many marks (and its noise) in a day is behind whatever its team
# served (`_behind`): a surplus that size is orders beyond the team, not a busy day's
SURPLUS_MARKS = 4
# A learned queue whose backlog stands higher than at the same hour a week ago by this many times
# its `fire_growth` (and its noise) on each of the last `SLOW_DAYS` days is behind however it grows
# day over day (`_week_behind`): a site closed on Sundays with no headroom works its Sunday off all
# week, a tenth of a day a day, so a team short by a tenth of its week's orders grows its backlog
# only at the weekend, by most of a day a week (a site at capacity +-3% a day wanders up to a third
# of a day a week)
WEEK_MARKS = 5
SPREAD_NEAR_HOURS = (-2, -1, 0, 1, 2)
MAX_SPAN_DAYS = 3  # the longest span of days a backlog is measured against (`_span_days`)
# The slow window (a learned week): growth over this many days, for a team short by less than
# the mark a day. A healthy queue comes back to its normal every day, so its backlog's distance
# from the normal wanders about as much over three days as over one, while a shortfall adds up:
# three days of it stand three times as far above the noise as one.
SLOW_DAYS = 3
# ... and its mark: `fire_growth` times this over the whole window (an 8% mark a day: 12% over
# three days, a team 4% short for three days), the multi-window burn rates of the SRE workbook
SLOW_MARK = 1.5
# A queue whose team serves its normal day or more falls behind only if its backlog grew on
# each of the last `SLOW_DAYS` days by this share of the mark at least (`_behind`): a weekday
# evening's backlog a few percent of orders above the last one's is not a day of growth
EACH_DAY_SHARE = 0.5


# A surge compares arrivals with their share of the stream upstream (complaints per delivery,
# refund requests per resolution) in the same hours of earlier days: for as long as an item of
# the carriers waits and the surge's window more after a declared holiday, the upstream's
# rhythm is the holiday's echo (thin rounds, a desk working off a day), not its normal week
SURGE_AFTER_HOLIDAY_MS: Final = MAX_SPAN_DAYS * DAY_MS + SURGE_WINDOW_HOURS * HOUR_MS


class Flows(NamedTuple):
    """What the detector counted for one queue at one minute (a tuple: made at every minute
    judged, where a frozen dataclass's fields are each set through `object.__setattr__`)."""

    backlog: int
    in_stall: int  # inflow over the stall window (30 min)
    out_stall: int
    in_day: int  # inflow over the last 24 h
    out_day: int


class Shortfall(NamedTuple):
    """How far a span of whole days served below the normal of those hours of the week
    (`_shortfall`), in days of inflow (negative: above it), and its counting noise."""

    days: float
    noise: float


@dataclass(slots=True)
class Judgement:
    """The numbers one queue is judged by at one minute (None where not known). Not frozen: one
    is made for every queue judged at every minute, and the 24 fields of a frozen dataclass are
    each set through `object.__setattr__` (6 µs against 4 to make one, by timeit); nothing
    changes one once made."""

    queue: str
    backlog: int
    learned: bool  # a week of history: judged against the hour-of-week normal
    judged: bool  # enough history to judge sustained growth at all
    growth: float | None  # days of wait gained over the last day beyond the normal
    excess: float | None  # days of wait above the normal backlog of this hour of the week
    noise: float  # days: three standard deviations of the counting noise of growth and excess
    throughput_day: float  # items a day the growth is measured against
    normal_backlog: float | None
    outflow_share: float | None  # outflow / normal outflow over the stall window
    stalled: bool
    resumed: bool  # no stall now (outflow back near normal, or not a working hour)
    wait_hours: float  # the real wait of the newest item (inf: never served)
    normal_wait_hours: float | None  # the wait of the normal backlog of this hour of the week
    working: bool  # the last complete hour is a working hour of the queue
    surge: Surge | None = None  # the arrivals against their normal share (service, refund)
    surging: bool = False  # the surge fires (`Surge.surging` at the queue's `surge_ratio`)
    slow_growth: float | None = None  # days of wait gained over `SLOW_DAYS` beyond the normal
    slow_noise: float = 0.0  # its counting noise or day-to-day spread, whichever is larger
    # what the last day, and the slow window, served below the normal of those hours of the
    # week (None: not known, before a week is learned)
    short: Shortfall | None = None
    slow_short: Shortfall | None = None
    # the backlog grew beyond its normal over each of the last `SLOW_DAYS` days, at this hour
    grew_each_day: bool = False
    # the backlog's growth since this hour a week ago, the mildest over the last `SLOW_DAYS`
    # days, in days of the week's mean inflow, and its counting noise (`_week_growth`)
    week_growth: float | None = None
    week_noise: float = 0.0
    # the readings span a holiday declared for the site (`_after_holiday`): not judged, and the
    # wait, which holds the holiday's orders, does not escalate
    holiday: bool = False


class _Learned(NamedTuple):
    """What a learned week says at the end of the last complete hour (`_learned_growth`)."""

    growth: float | None
    excess: float | None
    normal: float | None
    noise: float
    slow_growth: float | None = None
    slow_noise: float = 0.0
    short: Shortfall | None = None  # what the last day served below its normal
    slow_short: Shortfall | None = None  # ... and the slow window
    grew_each_day: bool = False  # each of the last `SLOW_DAYS` days grew (`_behind`)
    week_growth: tuple[float, float] | None = None  # (growth, noise) week over week


_NOT_JUDGED: Final = _Learned(None, None, None, 0.0)
_R = TypeVar("_R", bound=tuple[float, float])  # a reading in days and its noise


@dataclass(frozen=True, slots=True)
class _Hourly:
    """What `judge` reads of the rhythm alone at one hour: complete rows only, so the same at
    every minute until the next row completes (`Rhythm.derived`)."""

    learned: bool
    daily: float | None  # the normal day's outflow, once learned
    sustained: _Learned  # learned, like with like (not judged before a week)
    # before a week, over whole days (None: not judged), read only on a typical day
    # (`_typical_day`)
    whole_days: tuple[float, float] | None  # (growth, noise)
    working: bool


def _hourly(rhythm: Rhythm, qi: int, at_ms: int, policy: Policy, mark: float) -> _Hourly:
    hour = hour_of(at_ms)
    key = ("judge", qi, hour, tuple(rhythm.since), policy.rhythm_weeks, policy.idle_share, mark)
    return rhythm.derived(key, lambda: _hourly_now(rhythm, qi, at_ms, policy, mark))


def _hourly_now(rhythm: Rhythm, qi: int, at_ms: int, policy: Policy, mark: float) -> _Hourly:
    complete = rhythm.complete_hours(hour_of(at_ms))
    learned = complete >= HOURS_PER_WEEK + HOURS_PER_DAY
    daily = _normal_daily_out(rhythm, qi, at_ms, policy) if learned else None
    learned = learned and daily is not None
    sustained = _NOT_JUDGED
    whole_days = None
    if learned:
        sustained = _learned_growth(rhythm, qi, at_ms, policy, daily, mark)
    if not learned or complete < HOURS_PER_WEEK + 2 * HOURS_PER_DAY:
        # before a week, and on the first day of a learned week (the normal a day ago is not
        # known yet: its growth is not), over whole days
        floor = _floor_growth(rhythm, qi, at_ms)
        if floor is not None:
            whole_days = floor
            same = _same_hour_growth(rhythm, qi, at_ms)
            if same is not None and floor[0] > max(floor[1], mark / 2):
                # the floor rose (the queue no longer comes back to it) by half the mark at
                # least: how far, like with like, is read at the same hour of yesterday, a
                # day sooner than the floor of a whole day shows it. (A floor a few dozen
                # parcels higher, beyond the counting noise but not the day-to-day wander,
                # says nothing: a short Saturday's evening then read against Friday's.)
                whole_days = (max(floor[0], same[0]), max(floor[1], same[1]))
            elif (
                same is not None
                and floor[0] > floor[1]
                and _full_day_served(rhythm, qi, at_ms, policy.idle_share)
                and (spread := _same_hour_spread(rhythm, qi, hour_of(at_ms) - 1)) is not None
            ):
                # the floor rose, if less than that, after a full day's work: read like with
                # like too, against how far the same reading wandered on the days before
                whole_days = (max(floor[0], same[0]), max(floor[1], same[1], spread))
    working = _worked(rhythm, qi, at_ms, daily, policy)
    return _Hourly(learned, daily, sustained, whole_days, working)


def judge(
    rhythm: Rhythm, queue: str, flows: Flows, at_ms: int, qp: QueuePolicy, policy: Policy
) -> Judgement:
    qi = QUEUE_INDEX[queue]
    hourly = _hourly(rhythm, qi, at_ms, policy, qp.fire_growth)
    learned, daily, working = hourly.learned, hourly.daily, hourly.working
    last_hour = at_ms - at_ms % HOUR_MS - HOUR_MS
    holiday = _after_holiday(rhythm, qi, policy, at_ms)
    if policy.calendar is not None and policy.calendar.working(queue, last_hour) is False:
        working = False  # declared closed (a holiday, or outside the declared hours)
    growth = excess = normal = None
    noise = 0.0
    throughput = float(flows.out_day)
    reading = _NOT_JUDGED
    if learned and daily is not None:
        throughput = max(daily, float(flows.out_day))
        if not holiday:
            reading = hourly.sustained
        growth, excess, _, noise = reading[:4]
        normal = hourly.sustained.normal
    if growth is None and (
        not holiday  # the readings of whole days would span it: not like with like
        and hourly.whole_days is not None
        and _typical_day(rhythm, qi, flows, at_ms)
    ):
        # before a week over whole days; on the first day of a learned week too, where the
        # normal of a day ago is not known yet (its growth is not), but the backlog's excess
        # over the normal of this hour is
        growth = hourly.whole_days[0]
        excess = growth if excess is None else excess
        noise = hourly.whole_days[1]
    share, stalled, resumed = _stall(rhythm, queue, flows, at_ms, qp, policy, learned)
    scale = max(1.0, flows.out_day / daily) if daily else 1.0
    if stalled and share is not None:
        scale = max(share, 0.05)  # while stalled, the wait at the pace it achieves now
    if learned:
        pace, waiting = flows.out_day, flows.backlog
    else:
        pace, waiting = (
            _working_day_out(rhythm, qi, flows, at_ms),
            _floor_backlog(rhythm, qi, flows, at_ms),
        )
    wait = _wait(rhythm, qi, waiting, pace, at_ms, scale, policy, learned)
    normal_wait = None
    if normal is not None:
        normal_wait = _wait(rhythm, qi, round(normal), pace, at_ms, 1.0, policy, learned)
    surge = None
    if not _holiday_within(policy, at_ms, SURGE_AFTER_HOLIDAY_MS):
        surge = judge_surge(rhythm, queue, at_ms, policy)
    return Judgement(
        queue=queue,
        backlog=flows.backlog,
        learned=learned,
        judged=growth is not None,
        growth=growth,
        excess=excess,
        noise=noise,
        throughput_day=throughput,
        normal_backlog=normal,
        outflow_share=share,
        stalled=stalled,
        resumed=resumed,
        wait_hours=wait,
        normal_wait_hours=normal_wait,
        working=working,
        surge=surge,
        surging=surge is not None and surge.surging(qp.surge_ratio),
        slow_growth=reading.slow_growth,
        slow_noise=reading.slow_noise,
        short=reading.short,
        slow_short=reading.slow_short,
        grew_each_day=reading.grew_each_day,
        week_growth=None if reading.week_growth is None else reading.week_growth[0],
        week_noise=0.0 if reading.week_growth is None else reading.week_growth[1],
        holiday=holiday,
    )


def _holiday_within(policy: Policy, at_ms: int, span_ms: int) -> bool:
    """Whether a holiday declared for the site lies within `span_ms` before `at_ms`."""
    calendar = policy.calendar
    return calendar is not None and calendar.holiday_between(at_ms - span_ms, at_ms)


def _after_holiday(rhythm: Rhythm, qi: int, policy: Policy, at_ms: int) -> bool:
    """Whether the readings of growth span a holiday declared for the site: the backlog then
    holds the orders of a day nobody worked, which the learned week never held, and the days
    of inflow it is measured in hold a day with none. Compared across it, the days after a
    holiday read as a team falling behind while it works the day off. Growth is not judged
    across them, and a firing alert holds (not judged is no evidence)."""
    return _holiday_span(rhythm, qi, policy, at_ms) is not None


def _holiday_span(rhythm: Rhythm, qi: int, policy: Policy, at_ms: int) -> int | None:
    """The queue's `_span_days` when its readings span a holiday declared for the site (they
    span that many days of inflow and a day more, now against a day ago, and the last hour);
    None when they do not."""
    if policy.calendar is None or not policy.calendar.holidays:
        return None
    span = _span_days(rhythm, qi, hour_of(at_ms) - 1, policy.rhythm_weeks)
    return span if _holiday_within(policy, at_ms, (span + 1) * DAY_MS + HOUR_MS) else None


def holiday_flags(rhythm: Rhythm, qi: int, policy: Policy, at_ms: int) -> int:
    """The rhythm's flags (`Rhythm.fold`) of the queue for the minute ending at `at_ms`: a
    minute of a declared holiday is not learned from and nobody is on duty in it (bits `qi`
    and `HOLIDAY_BIT + qi`); for a queue whose items wait days (the carriers), neither are the
    days whose outflow echoes it (`_carriers_echo`; bit `qi`). (The days a team works off a
    holiday are learned from: they are its best evidence of what it can do, and a normal a
    little high for a week makes no alert.)"""
    if policy.calendar is None or not policy.calendar.holidays:
        return 0
    if policy.calendar.holiday_between(at_ms - MINUTE_MS, at_ms):
        return (1 << qi) | (1 << (HOLIDAY_BIT + qi))
    return (1 << qi) if _carriers_echo(rhythm, qi, policy, at_ms) else 0


def _carriers_echo(rhythm: Rhythm, qi: int, policy: Policy, at_ms: int) -> bool:
    """Whether the queue's items wait days (the carriers: `_span_days` above one) and its
    readings span a declared holiday (`_after_holiday`): its outflow then is what went in days
    before, and a holiday handed over nothing."""
    span = _holiday_span(rhythm, qi, policy, at_ms)
    return span is not None and span > 1


def _normal_daily_out(rhythm: Rhythm, qi: int, at_ms: int, policy: Policy) -> float | None:
    cum = rhythm.cumulative(qi, hour_of(at_ms), policy.rhythm_weeks)
    if cum is None or cum[-1] <= 0:
        return None
    return cum[-1] / 7


def _learned_growth(
    rhythm: Rhythm, qi: int, at_ms: int, policy: Policy, daily: float | None, mark: float
) -> _Learned:
    """What a learned week says at the end of the last complete hour (`_learned_at`); where that
    hour served less than `EDGE_SHARE` of its normal, held to the hour before it too, each
    number the less alarming of the two readings. A reading at the end of one hour is on one
    side of a pickup or a shift's edge; that edge an hour off (a truck late by an hour, a
    clock change, which moves every edge an hour for the weeks learned before it) puts the last
    hour's reading on the other side, a third of a day of growth at a pickup site that the hour
    before does not show, and that hour served next to nothing where it normally serves a
    truckload. A truck that came and took less (a team falling behind) is read as it is."""
    hour = hour_of(at_ms) - 1
    last = _learned_at(rhythm, qi, hour, policy, daily, mark)
    served = rhythm.total(qi, OUT, hour + 1, 1)
    usual = rhythm.normal(qi, OUT, hour, policy.rhythm_weeks)
    if served is None or usual is None or served >= EDGE_SHARE * usual:
        return last
    before = _learned_at(rhythm, qi, hour - 1, policy, daily, mark)
    return _Learned(
        _milder(last.growth, before.growth),
        _milder(last.excess, before.excess),
        last.normal,
        max(last.noise, before.noise),
        _milder(last.slow_growth, before.slow_growth),
        max(last.slow_noise, before.slow_noise),
        _milder_reading(last.short, before.short),
        _milder_reading(last.slow_short, before.slow_short),
        last.grew_each_day and before.grew_each_day,
        _milder_reading(last.week_growth, before.week_growth),
    )


def _milder(last: float | None, before: float | None) -> float | None:
    """The less alarming of two readings; the last where the one before is not known (not
    judged where the last is not)."""
    if last is None or before is None:
        return last
    return min(last, before)


def _milder_reading(last: _R | None, before: _R | None) -> _R | None:
    """`_milder` of two (days, noise) readings, by their days."""
    if last is None or before is None:
        return last
    return last if last[0] <= before[0] else before


def _learned_at(
    rhythm: Rhythm, qi: int, hour: int, policy: Policy, daily: float | None, mark: float
) -> _Learned:
    """Growth, excess and normal backlog at the end of absolute `hour`, like with like
    (a pickup at the top of an hour is on the same side of every reading): the backlog in days
    of the inflow of the 24 hours before it, now against a day ago and against the normal of
    those hours of the week. In days of inflow, a busier day than usual (that a closed Sunday
    holds until Monday) is not taken for a site falling behind. The noise is the larger of the
    counting noise of the day-over-day change (`counting_noise`) and the queue's own wander
    (`day_to_day_spread`). The same over `SLOW_DAYS` days is the slow window, read only where
    each of those days was a working day of the queue (`_working_days`)."""
    weeks = policy.rhythm_weeks
    normal = rhythm.normal(qi, BACKLOG, hour, weeks)
    span = _span_days(rhythm, qi, hour, weeks)
    now, day_ago, normal_now, normal_day = _readings(rhythm, qi, hour, weeks, span)
    if now is None or normal_now is None:
        return _Learned(None, None, normal, 0.0)
    if day_ago is None or normal_day is None:
        # the first day of a learned week (the normal a day ago is not known yet): how far
        # the backlog is above its normal is known, its growth is not
        return _Learned(None, now - normal_now, normal, 0.0)
    growth, noise = _growth_and_noise(rhythm, qi, hour, weeks, span, 1)
    slow: tuple[float | None, float] = (None, 0.0)
    if daily and _working_days(rhythm, qi, hour, SLOW_DAYS, daily):
        slow = _growth_and_noise(rhythm, qi, hour, weeks, span, SLOW_DAYS)
    each_day = all(
        (g := _growth_at(rhythm, qi, hour - k * HOURS_PER_DAY, weeks)) is not None
        and g > mark * EACH_DAY_SHARE
        for k in range(SLOW_DAYS)
    )
    return _Learned(
        growth,
        now - normal_now,
        normal,
        noise,
        *slow,
        _shortfall(rhythm, qi, hour, weeks, span, 1),
        _shortfall(rhythm, qi, hour, weeks, span, SLOW_DAYS),
        each_day,
        _week_growth(rhythm, qi, hour, policy),
    )


def _week_growth(rhythm: Rhythm, qi: int, hour: int, policy: Policy) -> tuple[float, float] | None:
    """The backlog at the end of `hour` against the same hour a week before, in days of the mean
    inflow of the week up to it, and the same at that hour of each of the `SLOW_DAYS` days up to
    it: the mildest, and the largest of their counting noises (a queue of a hundred refunds a
    day stands half a day higher than a week before on a day or two by chance). None where a
    reading is not known, where the week before lies in the queue's first week (a site watched
    from empty, whose first Monday had no Sunday before it), or where a holiday declared for the
    site lies within the readings."""
    since = rhythm.since[qi]
    first = hour - (SLOW_DAYS - 1) * HOURS_PER_DAY
    if since is None or first - 2 * HOURS_PER_WEEK < since:
        return None
    end_ms = (hour + 1) * HOUR_MS
    if _holiday_within(policy, end_ms, (hour - first + HOURS_PER_WEEK + 2) * HOUR_MS):
        return None
    growths, noises = [], []
    for at in range(first, hour + 1, HOURS_PER_DAY):
        now = rhythm.backlog_end(qi, at)
        before = rhythm.backlog_end(qi, at - HOURS_PER_WEEK)
        week_in = rhythm.total(qi, IN, at + 1, HOURS_PER_WEEK)
        if now is None or before is None or not week_in:
            return None
        per_day = week_in / 7
        growths.append((now - before) / per_day)
        noises.append(counting_noise(per_day, now, before))
    return min(growths), max(noises)


def _shortfall(
    rhythm: Rhythm, qi: int, hour: int, weeks: int, span: int, days: int
) -> Shortfall | None:
    """How far the last `days` days up to the end of `hour` served below the normal of those
    hours of the week, in days of inflow, and its counting noise (a desk's day of a hundred
    complaints served is 100 +- 30); None where either is not known. A backlog grows because
    the team served less than it normally does, or because more came than normally does while
    it served its normal day or more: on a busy Saturday a team with no headroom falls behind
    by the surplus and catches up on Monday (`_behind`)."""
    served = rhythm.total(qi, OUT, hour + 1, days * HOURS_PER_DAY)
    normal = rhythm.normal_total(qi, OUT, hour + 1, days * HOURS_PER_DAY, weeks)
    per_day = _inflow_now(rhythm, qi, hour, span)
    if served is None or normal is None or not per_day:
        return None
    return Shortfall((normal - served) / per_day, counting_noise(per_day, served, normal))


def _working_days(rhythm: Rhythm, qi: int, hour: int, days: int, daily: float) -> bool:
    """Whether each of the `days` days up to the end of `hour` served at least the lower end of
    `TYPICAL_BAND` times the normal mean day (`daily`): the slow window compares working days
    only. Across a closed day (a weekend without finance, a closed Sunday) the backlog holds
    that day's arrivals, which vary from week to week by more than one or two weeks of
    history can tell, and a day's stall is the stall's own signal."""
    low = TYPICAL_BAND[0] * daily
    for k in range(days):
        served = rhythm.total(qi, OUT, hour + 1 - k * HOURS_PER_DAY, HOURS_PER_DAY)
        if served is None or served < low:
            return False
    return True


def _growth_and_noise(
    rhythm: Rhythm, qi: int, hour: int, weeks: int, span: int, days: int
) -> tuple[float | None, float]:
    """The backlog's growth over the last `days` days beyond the normal growth of those hours
    of the week (days of inflow; None where a reading is not known), and the larger of its
    counting noise and the queue's day-to-day spread of the same reading."""
    now, ago, normal_now, normal_ago = _readings(rhythm, qi, hour, weeks, span, days)
    if now is None or ago is None or normal_now is None or normal_ago is None:
        return None, 0.0
    per_day = _inflow_now(rhythm, qi, hour, span) or 0.0
    # the normals are counts too (a median of a few weeks, one week at first): all four count
    readings = (now, ago, normal_now, normal_ago)
    noise = counting_noise(per_day, *(r * per_day for r in readings))
    spread = rhythm.derived(
        ("spread", qi, hour, weeks, days),
        lambda: day_to_day_spread(rhythm, qi, hour, weeks, days),
    )
    return (now - ago) - (normal_now - normal_ago), max(noise, spread)


def _growth_at(rhythm: Rhythm, qi: int, hour: int, weeks: int, days: int = 1) -> float | None:
    """The growth reading over `days` days at the end of absolute hour `hour` (as
    `_learned_growth` reads it now), None where a reading or its normal is not known or an hour
    is flagged abnormal."""
    if rhythm.flagged(qi, hour + 1, 1) or rhythm.flagged(qi, hour + 1 - days * HOURS_PER_DAY, 1):
        return None
    span = _span_days(rhythm, qi, hour, weeks)
    now, ago, normal_now, normal_ago = _readings(rhythm, qi, hour, weeks, span, days)
    if now is None or ago is None or normal_now is None or normal_ago is None:
        return None
    return (now - ago) - (normal_now - normal_ago)


def _readings(
    rhythm: Rhythm, qi: int, hour: int, weeks: int, span: int, days: int = 1
) -> tuple[float | None, float | None, float | None, float | None]:
    """The backlog in days of inflow at the end of `hour` and `days` days before, and their
    normals for those hours of the week (None where not known)."""
    before = hour - days * HOURS_PER_DAY
    return (
        _days_of_inflow(rhythm, qi, hour, span),
        _days_of_inflow(rhythm, qi, before, span),
        _normal_days_of_inflow(rhythm, qi, hour, weeks, span),
        _normal_days_of_inflow(rhythm, qi, before, weeks, span),
    )


def _span_days(rhythm: Rhythm, qi: int, hour: int, weeks: int) -> int:
    """Whole days (1 to `MAX_SPAN_DAYS`) an item of this queue normally waits at the end of
    `hour` (Little's law: the normal backlog over the normal day's inflow): the inflow a backlog
    is measured against is the mean day of that many. Parcels with the carriers are the
    hand-overs of the last two or three days, and a day of catch-up handed over at once is
    still in transit the next day, when the last 24 hours' hand-overs are back to normal; a
    team that serves within the day is measured against its last 24 hours."""
    backlog = rhythm.normal(qi, BACKLOG, hour, weeks)
    day = rhythm.normal_total(qi, IN, hour + 1, HOURS_PER_DAY, weeks)
    if not backlog or not day:
        return 1
    return min(MAX_SPAN_DAYS, max(1, round(backlog / day)))


def day_to_day_spread(rhythm: Rhythm, qi: int, hour: int, weeks: int, days: int = 1) -> float:
    """Three robust standard deviations (1.4826 x the median absolute deviation) of this
    queue's own growth readings (over `days` days) at the same hour of the previous
    `SPREAD_DAYS` days, in days of inflow; 0.0 with fewer than `SPREAD_MIN_READINGS` of them.
    A site whose team works with no headroom (capacity about equal to its orders) sees its
    backlog wander by a good part of a day from one day to the next: that is its normal, and
    growth is judged against it. A site with headroom comes back to the same backlog every day,
    its spread is near zero and its mark unchanged. Hours flagged abnormal are left out, and a
    median is not moved by a few days of an incident."""
    readings = _past_growths(rhythm, qi, hour, weeks, (0,), days)
    if len(readings) < SPREAD_MIN_READINGS:
        readings = _past_growths(rhythm, qi, hour, weeks, SPREAD_NEAR_HOURS, days)
    if len(readings) < SPREAD_MIN_READINGS:
        return 0.0
    return _robust_spread(readings)


def _robust_spread(readings: list[float]) -> float:
    """Three robust standard deviations (1.4826 x the median absolute deviation) of
    `readings`: a few days of an incident do not move it."""
    mid = median(readings)
    return 3 * 1.4826 * median(abs(g - mid) for g in readings)


def _past_growths(
    rhythm: Rhythm, qi: int, hour: int, weeks: int, offsets: tuple[int, ...], days: int
) -> list[float]:
    return [
        g
        for k in range(1, SPREAD_DAYS + 1)
        for j in offsets
        if (g := _growth_at(rhythm, qi, hour - k * HOURS_PER_DAY + j, weeks, days)) is not None
    ]


def counting_noise(per_day: float, *backlogs: float) -> float:
    """Three standard deviations of the counting noise of a sum or difference of `backlogs`
    (items), in days of `per_day` items: a backlog of b items that arrive one by one varies by
    about sqrt(b) (Poisson), a difference of two by sqrt(b1 + b2). At 250 orders a day a
    day-over-day change of 0.1 days (25 items) is within the noise of a 300-item backlog; at
    2,500 a day it is not. Growth is judged against this noise as well as against the queue's
    `fire_growth`: a small site is not paged for its own randomness."""
    if per_day <= 0:
        return 0.0
    return 3 * math.sqrt(sum(max(b, 0.0) for b in backlogs)) / per_day


def _days_of_inflow(rhythm: Rhythm, qi: int, hour: int, span: int) -> float | None:
    backlog = rhythm.backlog_end(qi, hour)
    inflow = _inflow_now(rhythm, qi, hour, span)
    if backlog is None or not inflow:
        return None
    return backlog / inflow


def _inflow_now(rhythm: Rhythm, qi: int, hour: int, span: int) -> float | None:
    """`_inflow_day` of the last `span` days up to the end of `hour`."""
    return _inflow_day(rhythm, qi, hour, rhythm.total(qi, IN, hour + 1, span * HOURS_PER_DAY), span)


def _normal_days_of_inflow(
    rhythm: Rhythm, qi: int, hour: int, weeks: int, span: int
) -> float | None:
    backlog = rhythm.normal(qi, BACKLOG, hour, weeks)
    total = rhythm.normal_total(qi, IN, hour + 1, span * HOURS_PER_DAY, weeks)
    inflow = _inflow_day(rhythm, qi, hour, total, span)
    if backlog is None or not inflow:
        return None
    return backlog / inflow


def _inflow_day(rhythm: Rhythm, qi: int, hour: int, total: float | None, span: int) -> float | None:
    """The mean day of inflow over `span` days up to `hour`'s end (`total`: their inflow), but
    never less than the mean day of the week before it: a closed day's trickle (no parcels
    handed to carriers on a Sunday) must not make a day's backlog look like ten."""
    week = rhythm.total(qi, IN, hour + 1, HOURS_PER_WEEK)
    if total is None or week is None:
        return None
    return max(total / span, week / 7)


def _full_day_served(rhythm: Rhythm, qi: int, at_ms: int, idle_share: float) -> bool:
    """Before a week is learned: whether the queue's team worked as full a day in the last 24
    hours as in the 24 before them: as many working hours (`_work`) and at least
    `FULL_DAY_SHARE` of what they served, at a queue whose days seen are all alike (no short
    day: no weekly rhythm seen). A team that worked its day and still ends it higher than
    yesterday at the same hour is not keeping up, whether it served a little less an hour
    (short-handed) or no more than a busier day needed; one that worked fewer hours (a Saturday
    shift that ends at 16:00, read at 21:00 against Friday) is read over its floor alone, and so
    is a team whose work shows only at a few carrier pickups a day (fewer than `SHIFT_HOURS`
    working hours): what it packed is not seen, and a short day of packing for the same trucks
    looks like a team that fell behind."""
    hour = hour_of(at_ms)
    typical = rhythm.typical_day(qi, hour, TYPICAL_DAYS, TYPICAL_BAND)
    if typical is None or not typical[2]:
        return False
    now = _work(rhythm, qi, hour, idle_share)
    before = _work(rhythm, qi, hour - HOURS_PER_DAY, idle_share)
    return (
        now is not None
        and before is not None
        and now[0] >= max(before[0], SHIFT_HOURS)
        and now[1] >= FULL_DAY_SHARE * before[1]
    )


def _work(rhythm: Rhythm, qi: int, end_hour: int, idle_share: float) -> tuple[int, int] | None:
    """(working hours, items served) of the 24 hours before `end_hour`: an hour works that
    served at least `idle_share` of the span's mean hour (cancellations at night do not make a
    night shift); None where an hour is not known."""
    hours = range(end_hour - HOURS_PER_DAY + 1, end_hour + 1)
    known = [s for h in hours if (s := rhythm.total(qi, OUT, h, 1)) is not None]
    if len(known) < HOURS_PER_DAY:
        return None
    total = sum(known)
    mark = idle_share * total / HOURS_PER_DAY
    return sum(1 for s in known if s > 0 and s >= mark), total


def _worked(rhythm: Rhythm, qi: int, at_ms: int, daily: float | None, policy: Policy) -> bool:
    """Whether the last complete hour is one the queue works in: its learned normal outflow
    (or, before a week is learned, what it served in that hour) is at least `idle_share` of
    the mean hour. A sustained backpressure starts only at the end of a working hour: at the
    end of a closed one the backlog holds whatever came in (a busier Sunday than last week's),
    which the next shift is there to serve."""
    hour = hour_of(at_ms) - 1
    if daily is not None:
        served = rhythm.normal(qi, OUT, hour, policy.rhythm_weeks)
        mean = daily / HOURS_PER_DAY
    else:
        row_out = rhythm.total(qi, OUT, hour + 1, 1)
        day_out = rhythm.total(qi, OUT, hour + 1, HOURS_PER_DAY)
        served = None if row_out is None else float(row_out)
        mean = (day_out or 0) / HOURS_PER_DAY
    return served is not None and served > 0 and served >= policy.idle_share * mean


def _typical_day(rhythm: Rhythm, qi: int, flows: Flows, at_ms: int) -> bool:
    """Before a week is learned: no whole day seen fell short of the typical day of this queue
    (no weekly rhythm seen yet: no closed day), and in the last 24 hours at least a
    typical day's work arrived and was done. More than that is judged: more arriving than the
    team serves is what backpressure is (a surge of complaints at a desk that works as usual),
    and a team that works harder than usual while its queue still grows is not keeping up."""
    if flows.out_day <= 0:
        return False
    typical = rhythm.typical_day(qi, hour_of(at_ms), TYPICAL_DAYS, TYPICAL_BAND)
    if typical is None:  # fewer than two whole days: nothing seen says the days differ, but
        # a day that served less than half its inflow may be a closed day or a whole-day stall
        return flows.out_day >= flows.in_day / 2
    t_in, t_out, regular = typical
    low, _ = TYPICAL_BAND
    return regular and flows.in_day >= low * t_in and flows.out_day >= low * t_out


def _floor_growth(rhythm: Rhythm, qi: int, at_ms: int) -> tuple[float, float] | None:
    """Before a week is learned, over whole days: how much the queue's floor (its lowest
    backlog over the last 24 hours) rose above the floor of the 24 hours before, in days of
    inflow. A healthy queue comes back to its floor every day however its day is shaped
    (shifts, pickups, a weekend's extra orders); one that cannot keep up does not. None
    without two whole days behind the first (the first day fills the queue from empty). With it,
    its counting noise (`counting_noise`). Each floor is read in days of the mean day of inflow
    that came before it, over as many days as it holds (one to `MAX_SPAN_DAYS`, as
    `_span_days` once learned): the parcels with the carriers are two days of hand-overs, and
    one quiet or busy day of hand-overs must not make the same parcels read as a quarter of a
    day more or less."""
    hour = hour_of(at_ms)
    if rhythm.complete_hours(hour) < 3 * HOURS_PER_DAY:
        return None
    now = rhythm.low(qi, hour, HOURS_PER_DAY)
    before = rhythm.low(qi, hour - HOURS_PER_DAY, HOURS_PER_DAY)
    at_now = rhythm.low_hour(qi, hour, HOURS_PER_DAY)
    at_before = rhythm.low_hour(qi, hour - HOURS_PER_DAY, HOURS_PER_DAY)
    if now is None or before is None or at_now is None or at_before is None:
        return None
    day_before = _mean_day_in(rhythm, qi, at_before + 1, 1)
    if not day_before:
        return None
    span = min(MAX_SPAN_DAYS, max(1, round(before / day_before)))
    in_now = _mean_day_in(rhythm, qi, at_now + 1, span)
    in_before = _mean_day_in(rhythm, qi, at_before + 1, span)
    if not in_now or not in_before:
        return None
    return now / in_now - before / in_before, counting_noise(in_now, now, before)


def _mean_day_in(rhythm: Rhythm, qi: int, end_hour: int, span: int) -> float | None:
    """The mean day of inflow over the `span` days before `end_hour`, or over as many of them
    as are known (the first days of a site)."""
    for days in range(span, 0, -1):
        total = rhythm.total(qi, IN, end_hour, days * HOURS_PER_DAY)
        if total is not None:
            return total / days
    return None


def _same_hour_growth(rhythm: Rhythm, qi: int, at_ms: int) -> tuple[float, float] | None:
    """Before a week is learned: the backlog at the end of the last complete hour against the
    end of the same hour a day earlier, in days of the last 24 hours' inflow (a pickup, a
    shift's end, the evening peak are on the same side of both), and its counting noise."""
    return _same_hour_at(rhythm, qi, hour_of(at_ms) - 1)


def _same_hour_spread(rhythm: Rhythm, qi: int, hour: int) -> float | None:
    """Three robust standard deviations of the same-hour readings (`_same_hour_at`) at the end
    of absolute `hour` on the previous `QUIET_DAYS` days, as `day_to_day_spread` once a week
    is learned; None with fewer than `SAME_HOUR_MIN_READINGS` of them. A team with headroom comes
    back to the same backlog every day (near zero); one at its capacity wanders."""
    readings = [
        g[0]
        for k in range(1, QUIET_DAYS + 1)
        if (g := _same_hour_at(rhythm, qi, hour - k * HOURS_PER_DAY)) is not None
    ]
    if len(readings) < SAME_HOUR_MIN_READINGS:
        return None
    return _robust_spread(readings)


def _same_hour_at(rhythm: Rhythm, qi: int, hour: int) -> tuple[float, float] | None:
    now = rhythm.backlog_end(qi, hour)
    day_ago = rhythm.backlog_end(qi, hour - HOURS_PER_DAY)
    inflow = rhythm.total(qi, IN, hour + 1, HOURS_PER_DAY)
    if now is None or day_ago is None or not inflow:
        return None
    return (now - day_ago) / inflow, counting_noise(inflow, now, day_ago)


def _stall(
    rhythm: Rhythm,
    queue: str,
    flows: Flows,
    at_ms: int,
    qp: QueuePolicy,
    policy: Policy,
    learned: bool,
) -> tuple[float | None, bool, bool]:
    """(outflow share of normal over the stall window, stalled, resumed). Where the window is
    not judged (off shift, between pickups, a shift's first or last hour) the outflow resumed
    only on evidence: it keeps pace with the inflow again. A stall found in a shift is not
    resolved by the shift's end or by the night: it holds until the site serves again."""
    # nothing in and nothing out is no pressure: a site whose every stream stopped at once is
    # silent (`warehouse_silent`), not stalled; a stall is inflow that goes on unserved
    if flows.out_stall:
        pressure = flows.in_stall / flows.out_stall
    else:
        pressure = math.inf if flows.in_stall else 0.0
    expected = _expected_out(rhythm, queue, at_ms, qp, policy) if learned else None
    if expected is None:
        return None, False, pressure <= qp.clear_pressure or flows.backlog <= qp.drained_backlog
    share = flows.out_stall / expected
    # work is waiting (a quarter of an hour of the normal pace): a team that ran out of work is
    # not stalled
    waiting = flows.backlog >= expected / 2
    stalled = (
        share < qp.stall_ratio
        and pressure > qp.fire_pressure
        and waiting
        and poisson_at_most(flows.out_stall, expected) < STALL_SIGNIFICANCE
    )
    resumed = share >= qp.resume_ratio or pressure <= qp.clear_pressure
    return share, stalled, resumed


def poisson_at_most(k: int, mean: float) -> float:
    """P(X <= k) for X ~ Poisson(`mean`): how likely an outflow of `k` or less is by chance when
    `mean` is normal. Exact by summation (only called for outflows already below the ratio, so
    k is at most a fraction of the mean); underflows to 0.0 for means above ~700, where an
    outflow far below the mean is never chance."""
    if k < 0:
        return 0.0
    term = math.exp(-mean)
    total = term
    for i in range(1, k + 1):
        term *= mean / i
        total += term
    return min(1.0, total)


def _expected_out(
    rhythm: Rhythm, queue: str, at_ms: int, qp: QueuePolicy, policy: Policy
) -> float | None:
    """Normal outflow over the stall window ending at `at_ms` (the lowest normal of the hours it
    and the half hour before it span, so a pickup at the top of one hour is never expected in
    the next, nor a whole hour's work from a shift that starts within it); None when these or
    the hour after the window are not working hours of the queue, or too few items flow to
    judge a ratio."""
    start = at_ms - STALL_WINDOW_MS
    calendar = policy.calendar
    if calendar is not None and False in (
        calendar.working(queue, start),
        calendar.working(queue, at_ms - 1),
    ):
        return None
    qi = QUEUE_INDEX[queue]
    weeks = policy.rhythm_weeks
    if _carriers_echo(rhythm, qi, policy, at_ms):
        # items that wait days (parcels with the carriers) come out as they went in days
        # before: a holiday that handed over nothing empties the carriers' rounds a day or two
        # later, which is the holiday's echo, not a stall
        return None
    # the hours of the window and of the hour before it: a shift that starts within an hour
    # (07:30, or 07:00 at a site whose offset is not whole hours) makes that hour's normal a
    # part-hour's work, which the window's first minutes of the shift would not yet show; and a
    # shift that starts an hour late (after a clock change the learned weeks say 06:00 UTC for a
    # team that now starts at 07:00) is in its first hour, still picking up, at 07:30-08:00
    hours = range(hour_of(start - HOUR_MS), hour_of(at_ms - 1) + 1)
    normals = [rhythm.normal(qi, OUT, h, weeks) for h in hours]
    # and the hour after it must be a working hour too: an hour's normal is spread evenly over
    # it, but a carrier pickup at 15:00 scans the hour's parcels in its first minutes, and
    # 15:30-16:00 then sees none (hour 16, without a pickup, is idle). The cost: no stall is
    # judged in a shift's last hour (its backlog growth still is, over the day); a stall already
    # firing holds through it (`_stall`: not judged is not resumed).
    after = rhythm.normal(qi, OUT, hour_of(at_ms - 1) + 1, weeks)
    daily = _normal_daily_out(rhythm, qi, at_ms, policy)
    if None in normals or after is None or daily is None:
        return None
    # The lowest of these and the hour after: a rhythm whose edges moved by an hour (a clock
    # change: the carriers' morning round ends at 11:00 UTC instead of 12:00 from the last
    # Sunday of March, and the learned weeks say 12:00 for three weeks more) is not a stall in
    # the hour it now ends early, as the hour before covers one that starts late.
    hourly = min(min(n for n in normals if n is not None), after)
    if hourly < policy.idle_share * daily / HOURS_PER_DAY:
        return None  # an idle hour of this queue
    expected = hourly * STALL_WINDOW_MS / HOUR_MS
    return expected if expected >= qp.min_events else None


def _floor_backlog(rhythm: Rhythm, qi: int, flows: Flows, at_ms: int) -> int:
    """Before a week is learned, the backlog the wait is read from, over whole days: the
    lowest of the last two days (the backlog now if lower, or if none is known). Without a week
    there is no normal for this hour, and a closed Sunday's evening holds a day of orders for
    Monday's shift, 35 hours after Saturday's shift ended: at a site with little headroom that
    waits past the SLA every Sunday, which is its calendar. A site that cannot keep up raises
    its floor day after day, until even the best moment of its last two days waits past the
    SLA."""
    low = rhythm.lowest_seen(qi, hour_of(at_ms), 2 * HOURS_PER_DAY)
    return flows.backlog if low is None else min(flows.backlog, low)


def _working_day_out(rhythm: Rhythm, qi: int, flows: Flows, at_ms: int) -> int:
    """Before a week is learned, what the team serves in a day it works: the last 24 hours,
    or the typical (median) whole day seen if more. A closed Sunday's 24 hours hold only
    Saturday evening's work: over them the wait of what waits for Monday's shift reads as days
    and would page; at the pace the team keeps on the days it works it is the night it is."""
    typical = rhythm.typical_day(qi, hour_of(at_ms), TYPICAL_DAYS, TYPICAL_BAND)
    if typical is None:
        return flows.out_day
    return max(flows.out_day, round(typical[1]))


def _wait(
    rhythm: Rhythm,
    qi: int,
    backlog: int,
    out_day: int,
    at_ms: int,
    scale: float,
    policy: Policy,
    learned: bool,
) -> float:
    if backlog <= 0:
        return 0.0
    if learned:
        wait = wait_hours(rhythm, qi, at_ms, backlog, scale, policy.rhythm_weeks)
        if wait is not None:
            return wait
    if out_day <= 0:
        return math.inf
    return backlog / out_day * HOURS_PER_DAY


def effective_sla(j: Judgement, qp: QueuePolicy) -> float:
    """The service level as the site's calendar allows it: where the normal backlog of this
    hour of the week already waits longer (a closed Sunday, the night before the first
    pickup), the SLA is that normal wait plus the fire mark's worth of a day; a site is not
    paged for the calendar it keeps."""
    if j.normal_wait_hours is None:
        return qp.sla_hours
    return max(qp.sla_hours, j.normal_wait_hours + qp.fire_growth * 24)


def hours_to_breach(j: Judgement, sla_hours: float) -> float | None:
    """Hours until the wait passes the SLA at the current growth (the wait grows `growth`
    days per day, i.e. `growth` hours per hour); 0 when it has; None when it is not growing."""
    if j.wait_hours >= sla_hours:
        return 0.0
    if j.growth is None or j.growth <= 0:
        return None
    return (sla_hours - j.wait_hours) / j.growth


def _mark(j: Judgement, qp: QueuePolicy) -> float:
    """Growth and excess must pass the queue's mark and their counting noise."""
    return max(qp.fire_growth, j.noise)


def fires(j: Judgement, qp: QueuePolicy) -> bool:
    """The fire condition alone (`observation`'s `active`): what the detector needs to know of
    a queue with no episode open, so that it words no summary nobody reads."""
    return _sustained(j, qp) or j.stalled or j.surging


def _sustained(j: Judgement, qp: QueuePolicy) -> bool:
    """Sustained growth (`_high`) of a queue that fell behind (`_behind`), or growth week over
    week (`_week_behind`), at the end of a working hour, with at least `min_backlog`
    waiting."""
    return (
        j.working
        and j.backlog >= qp.min_backlog
        and ((_high(j, qp) and _behind(j, qp)) or _week_behind(j, qp))
    )


def _week_behind(j: Judgement, qp: QueuePolicy) -> bool:
    """A learned queue above its normal whose backlog grew week over week by `WEEK_MARKS` times
    its `fire_growth` and beyond its noise, at this hour of each of the last `SLOW_DAYS` days
    (`_week_growth`)."""
    if j.week_growth is None or j.excess is None:
        return False
    # the mark is a week's worth of `fire_growth`; the noise the larger of the readings'
    # counting noise and the queue's own day-to-day wander (a desk of a hundred refunds a day
    # paid on weekdays stands a third of a day higher or lower than a week before by chance)
    return j.excess > _mark(j, qp) and j.week_growth > max(
        WEEK_MARKS * qp.fire_growth, j.week_noise, j.noise
    )


def _behind(j: Judgement, qp: QueuePolicy) -> bool:
    """Whether a learned queue's growth is its team falling behind, not a day busier than usual:
    the last day served less than its normal for those hours of the week by half the mark, or
    the slow window by half the slow mark, beyond the counting noise; or the newest item waits
    past the SLA while the team served no more than its normal; or the backlog grew beyond its
    normal on each of the last `SLOW_DAYS` days (orders above the team's pace day after day:
    higher each morning than the last). A site with no headroom at the weekend (orders above
    what its team does at its full pace) holds a busy Saturday's and Sunday's surplus overnight
    and works it off on Monday, where the weekend before left less: a day's growth at the mark,
    and nobody falling behind. Before a week is learned there is no normal to compare the
    outflow with: growth alone."""
    if j.short is None:
        return True
    mark = _mark(j, qp)
    if j.growth is not None and j.growth > SURPLUS_MARKS * mark:
        # no busy weekend grows a queue by several marks in a day: orders beyond what the
        # team can do, however hard it works (orders that grew past its capacity)
        return True
    bars = ((j.short, mark / 2), (j.slow_short, SLOW_MARK * qp.fire_growth / 2))
    if any(s is not None and s.days > max(bar, s.noise) for s, bar in bars):
        return True
    # a team that served more than its normal by half the mark is working off more arrivals
    # than usual: its wait, read at that pace, is the arrivals', judged by growth. Carriers
    # handed a day's catch-up at once (a promotion's overtime) deliver it 1-3 days later as
    # always; at today's pace the newest parcel reads 74 h against a 72 h SLA
    served_more = j.short.days < -max(mark / 2, j.short.noise)
    return (j.wait_hours >= effective_sla(j, qp) and not served_more) or j.grew_each_day


def _high(j: Judgement, qp: QueuePolicy) -> bool:
    """Growth and excess beyond the mark and their noise over the last day; or over the slow
    window (`SLOW_DAYS`): growth beyond `SLOW_MARK` times `fire_growth` and its own noise,
    while the last day still grew and the excess passes the mark and both noises (a backlog
    that rose once and now holds or drains is not a team falling behind)."""
    if j.excess is None or j.growth is None:
        return False
    mark = _mark(j, qp)
    if j.excess <= mark:
        return False
    if j.growth > mark:
        return True
    return (
        j.slow_growth is not None
        and j.growth > 0
        and j.slow_growth > max(SLOW_MARK * qp.fire_growth, j.slow_noise)
        and j.excess > j.slow_noise
    )


def observation(j: Judgement, qp: QueuePolicy, summary: str) -> Observation:
    """The alert condition of one queue: see the module's docstring."""
    active = fires(j, qp)
    sla = effective_sla(j, qp)
    within_sla = j.wait_hours < sla
    back_to_normal = j.learned and j.excess is not None and j.excess <= qp.fire_growth / 2
    # a backlog that stopped growing clears, but not while it stands beyond the mark above the
    # normal of its hour of the week: a team that fell a day behind and now keeps pace is still
    # a day behind (and a normal that learned the fault's first days calls its growth normal)
    not_growing = (
        j.growth is not None
        and j.growth <= 0
        and within_sla
        and not (j.learned and j.excess is not None and j.excess > _mark(j, qp))
    )
    still_high = _high(j, qp)
    inflow_high = j.surge is not None and not j.surge.back_to_normal(qp.surge_ratio)
    clear = (
        not active
        and not still_high
        and not inflow_high
        and j.resumed
        and (j.backlog <= qp.drained_backlog or back_to_normal or not_growing)
    )
    breach = hours_to_breach(j, sla)
    escalate = (
        j.backlog > 0
        and breach is not None
        and breach <= qp.critical_margin_hours
        and not j.holiday  # a day nobody works waits: the calendar, not a breach
    )
    # a critical alert calms down on evidence too: not while its outflow has not resumed (a
    # stall that went on into hours that are not judged keeps its severity)
    deescalate = (
        j.resumed
        and j.wait_hours < sla * qp.deescalate_ratio
        and (breach is None or breach > qp.critical_margin_hours / qp.deescalate_ratio)
    )
    return Observation(
        active=active,
        clear=clear,
        escalate=escalate,
        deescalate=deescalate,
        summary=summary,
        signals=signals(j, qp, breach),
    )


def signals(
    j: Judgement, qp: QueuePolicy, breach: float | None
) -> dict[str, float | int | str | None]:
    reason = "stall" if j.stalled else "growth"
    if j.surging and not j.stalled and not _sustained(j, qp):
        reason = "surge"
    return {
        "reason": reason,
        "backlog": j.backlog,
        "normal_backlog": _finite(j.normal_backlog),
        "growth_days_per_day": _finite(j.growth),
        "excess_days": _finite(j.excess),
        "noise_days": _finite(j.noise),
        "slow_growth_days": _finite(j.slow_growth),
        "slow_window_days": SLOW_DAYS,
        "slow_noise_days": _finite(j.slow_noise),
        "outflow_short_days": None if j.short is None else _finite(j.short.days),
        "week_growth_days": _finite(j.week_growth),
        "week_noise_days": _finite(j.week_noise) if j.week_growth is not None else None,
        "throughput_per_day": _finite(j.throughput_day),
        "outflow_share_of_normal": _finite(j.outflow_share),
        "hours_to_clear": _finite(j.wait_hours),
        "hours_to_sla_breach": _finite(breach),
        "sla_hours": qp.sla_hours,
        "normal_wait_hours": _finite(j.normal_wait_hours),
        "learned_week": int(j.learned),
        **surge_signals(j.surge),
    }


def surge_signals(surge: Surge | None) -> dict[str, float | int | str | None]:
    """The surge's numbers (all None where it is not judged: a queue without an upstream, a
    site without a week of history)."""
    if surge is None:
        return dict.fromkeys(SURGE_SIGNALS)
    return {
        "inflow_ratio": _finite(surge.ratio),
        "inflow_window_hours": SURGE_WINDOW_HOURS,
        "inflow_window": surge.arrivals,
        "normal_inflow_window": _finite(surge.expected),
        "inflow_p_value": float(f"{surge.p_value:.3g}"),
        "inflow_dispersion": round(surge.spread, 2),
        "inflow_per_day_at_this_pace": _finite(surge.projected_per_day),
        "capacity_per_day": _finite(surge.capacity_per_day),
    }


SURGE_SIGNALS: Final = (
    "inflow_ratio",
    "inflow_window_hours",
    "inflow_window",
    "normal_inflow_window",
    "inflow_p_value",
    "inflow_dispersion",
    "inflow_per_day_at_this_pace",
    "capacity_per_day",
)


def _finite(value: float | None) -> float | None:
    if value is None or math.isinf(value) or math.isnan(value):
        return None
    return round(value, 4)
