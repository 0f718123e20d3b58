"""A surge of arrivals at a queue whose inflow the site does not control: complaints far above
what this site's deliveries normally bring, refund requests far above what its resolutions do.

A desk sized for the normal load keeps up with a surge for a while: at a desk 50% above its
load, a complaint rate four times the normal leaves ten complaints waiting after twelve hours,
no more than on a normal evening, and the backlog says nothing until the next day. What shows at
once is the arrivals. They are judged as a *share of the stream they come from* (complaints per
delivery, refund requests per resolution), compared with the same hours of the previous days
and weeks:

- the **window**: arrivals over the last `WINDOW_HOURS` complete hours; their upstream over the
  last `EXPOSURE_HOURS` (complaints come hours after the delivery). A surge fires on this
  window alone; a firing alert holds while a window with at least `CLEAR_MIN_EXPECTED` normal
  arrivals (this one, stretched by six hours at a time up to `LONGEST_WINDOW_HOURS` where it
  holds fewer) still shows the share high;
- the **references**: the same spans ending 1-`QUIET_DAYS` days and 1-`rhythm_weeks` weeks ago,
  after both queues began to be learned (`Rhythm.since`) and not flagged (an incident does not
  become the normal); at least `MIN_REFERENCES` of them;
- the **ratio**: arrivals per upstream item now over the same in the references (1: normal);
- the **significance**: the exact conditional test of two Poisson rates with exposures (given
  the arrivals of the window and the references together, those of the window are binomial with
  the window's share of the upstream): the chance of so many arrivals or more if the share had
  not changed (`binomial_at_least`), at most `SURGE_SIGNIFICANCE`; with the counts divided by
  how much more than chance the references' share wandered from one span to the next
  (`dispersion`, quasi-Poisson), so that a site whose complaints follow the day's mix of
  carriers and products needs that much more evidence.

As a share of the upstream, the arrivals follow the site's week without learning it: more
deliveries on a Thursday after a closed Sunday bring more complaints at the same share, and
orders growing 2% a day grow deliveries and complaints alike. A change of the share is what a
bad batch, a broken product or a careless carrier is, and it needs no week of the queue's own
history: the previous days tell the share. A surge that the team can absorb is no backpressure,
so the arrivals at this pace (`Surge.projected_per_day`) must also exceed what the team has shown
it serves in a day (`Rhythm.busy_pace`: its pace in hours it was never short of work, times its
hours on duty).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, NamedTuple

from ordermon.agents.logic.policy import Policy
from ordermon.agents.logic.rhythm import (
    HOURS_PER_DAY,
    HOURS_PER_WEEK,
    IN,
    OUT,
    QUEUE_INDEX,
    QUIET_DAYS,
    Rhythm,
    hour_of,
)

WINDOW_HOURS: Final = 6  # the arrivals judged: the last six complete hours (at the least)
EXPOSURE_HOURS: Final = 12  # the upstream they come from: the last twelve (six more)
# Where the last six hours hold fewer than `CLEAR_MIN_EXPECTED` normal arrivals (a night, a
# small site), the window a firing alert holds by is stretched by six hours at a time, up to a
# day, until they do: a surge seen by day is still seen at night. It fires on six hours only.
LONGEST_WINDOW_HOURS: Final = 24
MIN_REFERENCES: Final = 3  # spans of earlier days or weeks the normal share is taken from
# A surge is a share of the upstream so far above its normal that chance explains it less than
# once in 10,000 windows, as a stall (backpressure.STALL_SIGNIFICANCE): at 62 normal complaints
# in twelve hours, 101 is chance once in 700 against one earlier day, and once in 13,000 against
# three (the normal share is known better).
SURGE_SIGNIFICANCE: Final = 1e-4
# The references' share may wander more than chance from one span to the next (`dispersion`);
# the test allows for at most this much of it, so that a surge four times the normal share is
# still seen in hours at a site whose earlier days were erratic.
MAX_DISPERSION: Final = 4.0
# A surge's alert holds while the share is above halfway to the mark and this unlikely at the
# normal share: above it, chance alone explains it often enough that the arrivals say nothing...
HOLD_SIGNIFICANCE: Final = 0.05
# ... in a window where at least this many arrivals are normal. With fewer (a night, a closed
# day: a handful of deliveries) chance explains any share, and that is no evidence that the
# surge is over: while the share is still above halfway, the alert holds through it instead of
# resolving and paging again in the morning.
CLEAR_MIN_EXPECTED: Final = 10.0
# queue -> the streams (queue, column) its arrivals may be a share of. Complaints follow
# deliveries (and failures); refund requests follow resolved complaints at one shop, orders or
# deliveries at another (a refund asked without a complaint). The arrivals are judged against
# each, and a surge is one that none of them explains (`_judge`): a shop's refunds that follow
# its orders are not taken for a surge when the desk resolves fewer complaints than usual.
UPSTREAM: Final = {
    "service": ((QUEUE_INDEX["delivery"], OUT),),
    "refund": (
        (QUEUE_INDEX["service"], OUT),
        (QUEUE_INDEX["dispatch"], IN),
        (QUEUE_INDEX["delivery"], OUT),
    ),
}


class Share(NamedTuple):
    """Arrivals of a window against their normal share of the upstream."""

    arrivals: int
    expected: float  # the inflow the normal share of the window's upstream brings
    ratio: float  # arrivals / expected (inf: none expected)
    p_value: float  # the chance of `arrivals` or more at the normal share
    references: int  # reference spans the normal share is taken from
    window: int  # hours of arrivals
    spread: float = 1.0  # the references' dispersion: the test's counts are divided by it


@dataclass(frozen=True, slots=True)
class Surge:
    """The arrivals of one queue's window against their normal share of the upstream."""

    arrivals: int  # inflow over the last `window_hours`
    expected: float  # the inflow the normal share of the window's upstream brings
    ratio: float  # arrivals / expected (inf: none expected)
    p_value: float  # the chance of `arrivals` or more at the normal share
    references: int  # reference spans the normal share is taken from
    normal_per_day: float  # the queue's mean daily inflow before the window
    capacity_per_day: float | None  # what its team has shown it serves in a day (None: unseen)
    # the share a firing alert holds by: the window stretched where six hours hold too few
    # normal arrivals to tell (None: the same window)
    hold: Share | None = None
    spread: float = 1.0  # the references' dispersion the p-value allows for (`dispersion`)

    @property
    def projected_per_day(self) -> float:
        """The daily inflow if arrivals go on at this share of the upstream (unbounded where
        none are normal in these hours)."""
        return math.inf if math.isinf(self.ratio) else self.ratio * self.normal_per_day

    def surging(self, ratio: float) -> bool:
        """Far above the normal share (`ratio`), beyond chance, and more than the team has
        shown it serves: the queue will build."""
        return (
            self.ratio >= ratio
            and self.p_value < SURGE_SIGNIFICANCE
            and self.capacity_per_day is not None
            and self.projected_per_day > self.capacity_per_day
        )

    def back_to_normal(self, ratio: float) -> bool:
        """In a window where enough arrivals are normal to tell (`CLEAR_MIN_EXPECTED`), the
        share is back below halfway to `ratio` (hysteresis against the fire mark) or no longer
        measurably above normal (`HOLD_SIGNIFICANCE`): a surge holds its alert while the
        arrivals still show it, and through a night too quiet to show anything."""
        held = self.hold or self
        if held.expected < CLEAR_MIN_EXPECTED:
            return False
        return held.ratio <= 1 + (ratio - 1) / 2 or held.p_value >= HOLD_SIGNIFICANCE


def judge_surge(rhythm: Rhythm, queue: str, at_ms: int, policy: Policy) -> Surge | None:
    """The queue's surge at the end of the last complete hour; None for a queue without an
    upstream, before the site has a week of history, or without enough references. Once per
    hour (it reads complete rows only)."""
    upstream = UPSTREAM.get(queue)
    if upstream is None:
        return None
    hour = hour_of(at_ms)
    key = (
        "surge",
        queue,
        hour,
        tuple(rhythm.since),
        policy.rhythm_weeks,
        policy.capacity_busy_hours,
        policy.capacity_busy_minutes,
    )
    return rhythm.derived(key, lambda: _judge(rhythm, queue, upstream, hour, policy))


def _judge(
    rhythm: Rhythm, queue: str, upstreams: tuple[tuple[int, int], ...], hour: int, policy: Policy
) -> Surge | None:
    """The surge against the upstream that explains the window best (the smallest ratio, with
    the largest p-value of any) of those known: a surge must be beyond every stream the arrivals
    may follow."""
    if rhythm.complete_hours(hour) < HOURS_PER_WEEK + HOURS_PER_DAY:
        return None
    qi = QUEUE_INDEX[queue]
    since_q = rhythm.since[qi]
    if since_q is None:
        return None
    judged: list[tuple[Share, tuple[int, int], int]] = []
    for candidate in upstreams:
        since_u = rhythm.since[candidate[0]]
        if since_u is None:
            continue
        start = max(since_q, since_u)
        found = _share(rhythm, qi, candidate, hour, start, WINDOW_HOURS, policy)
        if found is not None:
            judged.append((found, candidate, start))
    if not judged:
        return None
    # the smallest ratio, and the largest p-value of any: a surge only where every stream the
    # arrivals may follow shows it, both far above its share and beyond chance
    share, upstream, since = min(judged, key=lambda j: (j[0].ratio, -j[0].p_value))
    share = share._replace(p_value=max(j[0].p_value for j in judged))
    hold = None  # fires on six hours alone; holds on enough arrivals to tell
    for wider_hours in range(2 * WINDOW_HOURS, LONGEST_WINDOW_HOURS + 1, WINDOW_HOURS):
        if (hold or share).expected >= CLEAR_MIN_EXPECTED:
            break
        wider = _share(rhythm, qi, upstream, hour, since, wider_hours, policy)
        if wider is None:
            break  # not that far back: the widest window there is
        hold = wider
    learned_hours = min(HOURS_PER_WEEK, hour - WINDOW_HOURS - since_q)
    if learned_hours < HOURS_PER_DAY:
        return None
    inflow = rhythm.total(qi, IN, hour - WINDOW_HOURS, learned_hours) or 0
    return Surge(
        arrivals=share.arrivals,
        expected=share.expected,
        ratio=share.ratio,
        p_value=share.p_value,
        references=share.references,
        normal_per_day=inflow * HOURS_PER_DAY / learned_hours,
        capacity_per_day=_capacity(rhythm, qi, hour, policy),
        hold=hold,
        spread=share.spread,
    )


def _share(
    rhythm: Rhythm,
    qi: int,
    upstream: tuple[int, int],
    hour: int,
    since: int,
    window: int,
    policy: Policy,
) -> Share | None:
    """The share of the last `window` hours against the same hours of earlier days and weeks;
    None without enough references or any upstream."""
    now = _span(rhythm, qi, upstream, hour, since, window, reference=False)
    ends = {hour - HOURS_PER_DAY * k for k in range(1, QUIET_DAYS + 1)}
    ends |= {hour - HOURS_PER_WEEK * k for k in range(1, policy.rhythm_weeks + 1)}
    refs = [s for end in sorted(ends) if (s := _span(rhythm, qi, upstream, end, since, window))]
    if now is None or len(refs) < MIN_REFERENCES:
        return None
    arrivals, exposure = now
    ref_arrivals = sum(a for a, _ in refs)
    ref_exposure = sum(e for _, e in refs)
    if exposure <= 0 or ref_exposure <= 0:
        return None  # no upstream seen: nothing to take a share of
    if ref_arrivals <= 0:
        # none in these hours before: their share is not known, and arrivals in hours that never
        # had any are the rhythm moving (a clock change moves an evening's requests an hour)
        return None
    expected = ref_arrivals * exposure / ref_exposure
    ratio = arrivals / expected if expected > 0 else (math.inf if arrivals else 1.0)
    share = exposure / (exposure + ref_exposure)
    spread = dispersion(refs)
    p_value = binomial_at_least(
        round(arrivals / spread), round((arrivals + ref_arrivals) / spread), share
    )
    return Share(arrivals, expected, ratio, p_value, len(refs), window, spread)


def dispersion(spans: list[tuple[int, int]]) -> float:
    """How much more the share of the reference `spans` (arrivals, upstream) wanders from one
    to the next than Poisson chance lets it: Pearson's chi-square of each span's arrivals against
    the pooled share, over its degrees of freedom, at least 1 and at most `MAX_DISPERSION`.

    Real arrivals are overdispersed: a day's complaints follow its deliveries' mix of carriers,
    products and hours, not only their count, so a share that is exactly Poisson from one window
    to the next is the exception. The significance of a window is judged with its counts divided
    by this factor (the quasi-Poisson test): a share that wandered 1.7 times as much as chance
    between the earlier days needs 1.7 times the evidence to count as a surge now."""
    arrivals = sum(a for a, _ in spans)
    exposure = sum(e for _, e in spans)
    if len(spans) < 2 or arrivals <= 0 or exposure <= 0:
        return 1.0
    share = arrivals / exposure
    chi2 = sum((a - share * e) ** 2 / (share * e) for a, e in spans if e > 0)
    return min(MAX_DISPERSION, max(1.0, chi2 / (len(spans) - 1)))


def _span(
    rhythm: Rhythm,
    qi: int,
    upstream: tuple[int, int],
    end_hour: int,
    since: int,
    window: int = WINDOW_HOURS,
    reference: bool = True,
) -> tuple[int, int] | None:
    """(arrivals over `window` hours, upstream over six more) before `end_hour`; None when a
    row is missing, the span begins before `since`, or (a reference) a row is flagged."""
    exposure_hours = window + EXPOSURE_HOURS - WINDOW_HOURS
    if end_hour - exposure_hours < since:
        return None
    if reference and rhythm.flagged(qi, end_hour, window):
        return None
    arrivals = rhythm.total(qi, IN, end_hour, window)
    exposure = rhythm.total(upstream[0], upstream[1], end_hour, exposure_hours)
    if arrivals is None or exposure is None:
        return None
    return arrivals, exposure


def _capacity(rhythm: Rhythm, qi: int, hour: int, policy: Policy) -> float | None:
    """What the team has shown it serves in a day: its busy pace times its hours on duty over
    the last week, once `capacity_busy_minutes` of busy time are seen (as for dispatch)."""
    busy = rhythm.busy_pace(qi, hour, HOURS_PER_WEEK, policy.capacity_busy_hours)
    if busy is None or busy[0] * 60 < policy.capacity_busy_minutes:
        return None
    return busy[1] * busy[2]


@lru_cache(maxsize=4096)  # the same counts all hour long: judged every minute, they change hourly
def binomial_at_least(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(`n`, `p`): how likely `k` or more of `n` arrivals fall in the
    window by chance, when the window holds a share `p` of the exposure. Exact by summation of
    the smaller tail, from its end nearest the mean outwards (in logarithms for the first term,
    so thousands of arrivals neither overflow nor underflow it); 1.0 for k <= 0, 0.0 for k > n."""
    if k <= 0 or p >= 1:
        return 1.0
    if k > n or p <= 0:
        return 0.0
    if k > n * p:
        return _tail(k, n, p, up=True)
    return 1.0 - _tail(k - 1, n, p, up=False)


def _tail(j: int, n: int, p: float, up: bool) -> float:
    """P(X >= j) (`up`) or P(X <= j), summed from term j away from the mean."""
    term = math.exp(
        math.lgamma(n + 1)
        - math.lgamma(j + 1)
        - math.lgamma(n - j + 1)
        + j * math.log(p)
        + (n - j) * math.log1p(-p)
    )
    total = term
    odds = p / (1 - p)
    i = j
    while term > total * 1e-17 and (i < n if up else i > 0):
        if up:
            term *= (n - i) / (i + 1) * odds
            i += 1
        else:
            term *= i / (n - i + 1) / odds
            i -= 1
        total += term
    return min(1.0, total)
