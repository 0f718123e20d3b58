"""A surge of arrivals (agents.logic.surge): complaints per delivery far above their share in the
same hours of the previous days and weeks, beyond Poisson chance, and more than the desk has shown
it serves. Synthetic sites built hour by hour (deliveries with a daily curve and a weekly rhythm,
complaints a share of them some hours later, a desk 09-21 serving in order at its pace), tables
of literal cases and hypothesis properties."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ordermon.agents.logic import surge as surge_module
from ordermon.agents.logic.backpressure import Flows, judge, observation
from ordermon.agents.logic.detector import queue_summary
from ordermon.agents.logic.flow import QueueStatus
from ordermon.agents.logic.policy import Policy, PolicyError
from ordermon.agents.logic.rhythm import HOURS_PER_DAY, ROW_LEN, Rhythm
from ordermon.agents.logic.surge import (
    MAX_DISPERSION,
    SURGE_SIGNIFICANCE,
    Surge,
    binomial_at_least,
    dispersion,
    judge_surge,
)
from ordermon.agents.logic.windows import HOUR_MS, MINUTE_MS
from ordermon.devtools.operations import poisson

POLICY = Policy()
SERVICE = POLICY.queues["service"]
DAY0 = 20_454 * HOURS_PER_DAY  # 2026-01-01 00:00 UTC, a Thursday: hour % 24 is the hour of day
# columns of a rhythm row: delivery out, service in, out, backlog, low (see agents.logic.rhythm)
DELIVERED, OPENED, RESOLVED, WAITING, LOWEST = 7, 10, 11, 12, 13
DELIVERY_CURVE = [0.0] * 8 + [1.6, 1.5, 1.3, 1.1, 1.0, 0.9, 0.9, 0.9, 0.8, 0.8, 0.7, 0.6, 0.5]
DELIVERY_CURVE += [0.0] * (24 - len(DELIVERY_CURVE))
# deliveries by weekday from Thursday: the Monday catch-up after a closed Sunday reaches the
# customers Tuesday to Thursday; no deliveries on Sunday
WEEKDAY = [1.3, 1.0, 1.0, 0.0, 0.7, 1.3, 1.4]
DELAY = math.exp(-1 / 4)  # a complaint follows its delivery after 4 h on average


@dataclass(frozen=True)
class Site:
    deliveries_per_day: float = 5_000.0
    share: float = 0.02
    surge_from_hour: int | None = None  # hours after DAY0
    surge_share: float = 0.08
    growth_per_day: float = 0.0
    desk_headroom: float = 1.5
    days: int = 14
    since_days: float = 4.5  # the service queue learned from (as in the realistic scenarios)
    seed: int = 0
    # how much a day's share wanders from the mean (its coefficient of variation): a day's
    # complaints follow its mix of carriers, products and late parcels, not only its count
    share_wander: float = 0.0

    def build(self) -> Rhythm:
        rng = random.Random(self.seed)
        rows: list[list[int]] = []
        mean_day = self.deliveries_per_day * sum(WEEKDAY) / 7 * self.share
        pace = self.desk_headroom * mean_day / 12  # desk open 09-21
        pending = 0.0  # complaints on their way (their delivery done, not yet opened)
        backlog = 0
        wander = [1.0] * self.days
        if self.share_wander > 0:  # gamma of mean 1: a day's share never below zero
            k = 1 / self.share_wander**2
            wander = [rng.gammavariate(k, 1 / k) for _ in range(self.days)]
        for h in range(self.days * HOURS_PER_DAY):
            day = h // HOURS_PER_DAY
            hod = h % HOURS_PER_DAY
            expected = self.deliveries_per_day / sum(DELIVERY_CURVE) * DELIVERY_CURVE[hod]
            expected *= WEEKDAY[day % 7] * (1 + self.growth_per_day) ** day
            delivered = poisson(rng, expected)
            surge = self.surge_from_hour is not None and h >= self.surge_from_hour
            share = (self.surge_share if surge else self.share) * wander[day]
            pending = pending * DELAY + delivered * share
            opened = poisson(rng, pending * (1 - DELAY))
            capacity = poisson(rng, pace) if 9 <= hod < 21 else 0
            low = backlog
            resolved = min(backlog + opened, capacity)
            backlog += opened - resolved
            row = [0] * ROW_LEN
            row[0] = 60
            row[DELIVERED] = delivered
            row[OPENED], row[RESOLVED] = opened, resolved
            row[WAITING], row[LOWEST] = backlog, min(low, backlog)
            rows.append(row)
        since = DAY0 + round(self.since_days * HOURS_PER_DAY)
        return Rhythm(first_hour=DAY0, rows=rows, since=[DAY0 + 24, DAY0 + 24, since, since])


def surges(rhythm: Rhythm, hours: range, policy: Policy = POLICY) -> list[int]:
    """The hours (after DAY0) at whose end the service queue surges."""
    qp = policy.queues["service"]
    out = []
    for h in hours:
        s = judge_surge(rhythm, "service", at(h), policy)
        if s is not None and s.surging(qp.surge_ratio):
            out.append(h)
    return out


SURGE_HOUR = 8 * HOURS_PER_DAY + 10  # day 8, 10:00


def at(hour: int) -> int:
    """The first minute's end after `hour` hours from DAY0."""
    return (DAY0 + hour) * HOUR_MS + MINUTE_MS


@pytest.mark.parametrize("seed", range(4))
def test_a_complaint_surge_is_caught_within_hours(seed: int) -> None:
    rhythm = Site(surge_from_hour=SURGE_HOUR, seed=seed).build()
    before = surges(rhythm, range(8 * HOURS_PER_DAY, SURGE_HOUR + 1))
    within = surges(rhythm, range(SURGE_HOUR + 1, SURGE_HOUR + 12))
    assert before == []
    assert within, "not caught within 12 hours"
    assert within[0] <= SURGE_HOUR + 8


@pytest.mark.parametrize(
    "site",
    [
        Site(),  # evening peaks, the Monday dip after a closed Sunday, the Tuesday catch-up
        Site(seed=1),
        Site(seed=2),
        Site(deliveries_per_day=500.0, seed=3),  # ten complaints a day: Poisson noise
        Site(deliveries_per_day=500.0, seed=4),
        Site(deliveries_per_day=50_000.0, seed=5),  # a large site: the ratio decides
        Site(growth_per_day=0.02, days=28, seed=6),  # orders +2%/day: the share stays
        Site(share=0.02, desk_headroom=1.1, seed=7),  # a busy desk, no surge
    ],
    ids=["healthy", "seed1", "seed2", "small", "small2", "large", "growth", "busy-desk"],
)
def test_a_healthy_site_never_surges(site: Site) -> None:
    rhythm = site.build()
    hours = range(site.days * HOURS_PER_DAY + 1)
    assert surges(rhythm, hours) == []
    judged = [h for h in hours if judge_surge(rhythm, "service", at(h), POLICY) is not None]
    # judged from day 8 on (not vacuous), but for hours without deliveries (Sunday's)
    assert len(judged) >= (site.days - 8) * HOURS_PER_DAY * 2 // 3


def test_a_small_site_s_surge_is_judged_by_chance_not_by_the_ratio() -> None:
    """At 500 deliveries a day (ten complaints), a fourfold rate for half a day is a few
    complaints more than chance gives often enough: the ratio passes, the significance decides."""
    rhythm = Site(deliveries_per_day=500.0, surge_from_hour=SURGE_HOUR, seed=1).build()
    for h in range(SURGE_HOUR + 1, SURGE_HOUR + 4):
        s = judge_surge(rhythm, "service", at(h), POLICY)
        assert s is not None
        assert s.arrivals < 20


def test_a_surge_the_desk_absorbs_is_no_backpressure() -> None:
    """A desk three times its load serves a doubled share: the ratio passes, the queue will not
    build, nothing fires."""
    site = Site(surge_from_hour=SURGE_HOUR, surge_share=0.04, desk_headroom=3.0, seed=2)
    rhythm = site.build()
    hours = range(SURGE_HOUR + 1, SURGE_HOUR + 24)
    judged = [judge_surge(rhythm, "service", at(h), POLICY) for h in hours]
    assert any(s is not None and s.ratio >= 1.5 for s in judged)
    assert surges(rhythm, hours) == []


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 7 * HOURS_PER_DAY + HOURS_PER_DAY - 1), st.integers(0, 1000))
def test_never_judged_before_a_week_of_history(hour: int, seed: int) -> None:
    """A surge on day 3 of a queue learned from day 1 (its share is known from the days before):
    nothing is said of it before the site has a week of history, a week and a day of rows."""
    rhythm = Site(surge_from_hour=3 * HOURS_PER_DAY + 10, since_days=1, seed=seed, days=9).build()
    assert judge_surge(rhythm, "service", at(hour), POLICY) is None


@pytest.mark.parametrize("queue", ["dispatch", "delivery"])
def test_queues_whose_inflow_the_site_controls_have_no_surge(queue: str) -> None:
    rhythm = Site(surge_from_hour=SURGE_HOUR).build()
    now = at(SURGE_HOUR + 8)
    assert judge_surge(rhythm, queue, now, POLICY) is None


def test_flagged_hours_are_no_reference() -> None:
    """Once the alert fires its hours are flagged: the surge of the day before does not become
    the normal of the next day."""
    rhythm = Site(surge_from_hour=SURGE_HOUR, seed=1).build()
    day_later = SURGE_HOUR + HOURS_PER_DAY + 6
    now = at(day_later)
    unflagged = judge_surge(rhythm, "service", now, POLICY)
    rows = [list(r) for r in rhythm.rows]
    for h in range(SURGE_HOUR, day_later - 6):
        rows[h][1] |= 1 << 2  # the service queue's bit
    since = list(rhythm.since)
    flagged = judge_surge(Rhythm(rhythm.first_hour, rows, since), "service", now, POLICY)
    assert unflagged is not None and flagged is not None
    assert flagged.references < unflagged.references
    assert flagged.ratio > unflagged.ratio


# ---- the alert: fired as a warning, worded for on-call, resolved when the share is back ----


def test_the_alert_carries_the_surge_and_words_it_for_on_call() -> None:
    rhythm = Site(surge_from_hour=SURGE_HOUR, seed=0).build()
    h = SURGE_HOUR + 6
    now = at(h)
    row = rhythm.rows[h - 1]
    flows = Flows(row[WAITING], 5, 5, 120, 110)
    j = judge(rhythm, "service", flows, now, SERVICE, POLICY)
    assert j.surging and j.surge is not None
    status = QueueStatus("service", 0.2, 0.2, row[WAITING], 1.0, 1.0)
    obs = observation(j, SERVICE, queue_summary("MIL-3", status, j, SERVICE))
    assert obs.active and not obs.escalate  # a warning: severity comes from the real wait
    assert obs.signals["reason"] == "surge"
    assert obs.signals["inflow_ratio"] == pytest.approx(j.surge.ratio, rel=1e-3)
    assert obs.signals["inflow_window_hours"] == 6
    assert obs.signals["inflow_dispersion"] == pytest.approx(j.surge.spread, abs=0.005)
    assert 1 <= obs.signals["inflow_dispersion"] <= MAX_DISPERSION
    assert obs.signals["capacity_per_day"] is not None
    assert "new complaints arriving at" in obs.summary
    assert "× the normal for these hours" in obs.summary
    assert "the desk has shown it serves" in obs.summary
    none_normal = replace(j, surge=replace(j.surge, expected=0.0, ratio=math.inf))
    summary = queue_summary("MIL-3", status, none_normal, SERVICE)
    assert "new complaints arriving where none are normal" in summary


SURGE = Surge(
    arrivals=40,
    expected=16.0,
    ratio=2.5,
    p_value=1e-6,
    references=6,
    normal_per_day=100.0,
    capacity_per_day=150.0,
)


@pytest.mark.parametrize(
    ("surge", "surging", "back"),
    [
        (SURGE, True, False),
        (replace(SURGE, p_value=SURGE_SIGNIFICANCE), False, False),  # chance explains it
        (replace(SURGE, ratio=1.49), False, False),  # below the mark (1.5)
        (replace(SURGE, capacity_per_day=300.0), False, False),  # the desk absorbs 250 a day
        (replace(SURGE, capacity_per_day=None), False, False),  # no capacity seen: no claim
        (replace(SURGE, ratio=1.3, p_value=0.01), False, False),  # holding, not back yet
        (replace(SURGE, ratio=1.3, p_value=0.05), False, True),  # chance explains it: back
        (replace(SURGE, ratio=1.25, p_value=1e-3), False, True),  # halfway back to 1: back
        # a night: 4 complaints normal, 8 or 3 came; so few say nothing either way: the alert
        # holds until a window with enough normal arrivals shows the share back
        (replace(SURGE, arrivals=8, expected=4.0, ratio=2.0, p_value=0.05), False, False),
        (replace(SURGE, arrivals=3, expected=4.0, ratio=0.75, p_value=0.8), False, False),
        (replace(SURGE, expected=0.0, ratio=math.inf, normal_per_day=0.0), True, False),
    ],
)
def test_surging_and_back_to_normal(surge: Surge, surging: bool, back: bool) -> None:
    assert surge.surging(SERVICE.surge_ratio) is surging
    assert surge.back_to_normal(SERVICE.surge_ratio) is back


def test_a_surge_alert_resolves_only_once_the_share_is_back() -> None:
    rhythm = Site(surge_from_hour=SURGE_HOUR, seed=0).build()
    now = at(SURGE_HOUR + 6)
    j = judge(rhythm, "service", Flows(5, 5, 5, 120, 110), now, SERVICE, POLICY)
    assert j.surge is not None
    high = replace(j, surging=False, surge=replace(j.surge, ratio=1.4, p_value=0.01))
    back = replace(j, surging=False, surge=replace(j.surge, expected=20.0, ratio=1.1, p_value=0.5))
    assert not observation(high, SERVICE, "").clear  # drained, but complaints still come fast
    assert observation(back, SERVICE, "").clear


@pytest.mark.parametrize("ratio", [1.0, 0.5, -2.0])
def test_surge_ratio_must_be_above_one(ratio: float) -> None:
    with pytest.raises(PolicyError, match="surge_ratio"):
        Policy.from_mapping({"queues": {"service": {"surge_ratio": ratio}}})


# ---- the binomial tail -------------------------------------------------------------------------


def exact_at_least(k: int, n: int, p: Fraction) -> float:
    return float(sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(max(k, 0), n + 1)))


@given(st.integers(-1, 80), st.integers(0, 80), st.integers(1, 99))
def test_the_binomial_tail_is_the_exact_sum(k: int, n: int, percent: int) -> None:
    p = Fraction(percent, 100)
    assert binomial_at_least(k, n, percent / 100) == pytest.approx(
        exact_at_least(k, n, p), rel=1e-9, abs=1e-15
    )


@given(st.integers(0, 3000), st.integers(0, 3000), st.floats(0.01, 0.99))
def test_the_binomial_tail_is_a_probability_falling_with_k(k: int, n: int, p: float) -> None:
    tail = binomial_at_least(k, n, p)
    assert 0.0 <= tail <= 1.0
    assert binomial_at_least(k + 1, n, p) <= tail + 1e-12


@pytest.mark.parametrize(
    ("arrivals", "references", "share", "beyond_chance"),
    [
        # twelve hours at MIL-3: 101 complaints where one earlier day had 62 (the window a half
        # of the exposure): 1 in 700, not enough; against three earlier days (a quarter), it is
        (101, 62, 0.5, False),
        (101, 186, 0.25, True),
        (12, 18, 0.25, False),  # a small site's doubled half day: 12 where 6 are normal
        (30, 18, 0.25, True),  # five times its normal
        (2_000, 6_000, 0.25, False),  # a large site at its normal share
    ],
)
def test_where_chance_ends(
    arrivals: int, references: int, share: float, beyond_chance: bool
) -> None:
    p = binomial_at_least(arrivals, arrivals + references, share)
    assert (p < SURGE_SIGNIFICANCE) is beyond_chance


@pytest.mark.parametrize("seed", range(3))
def test_a_surge_is_still_seen_in_the_quiet_night_after_it(seed: int) -> None:
    """Complaints at four times their share from 10:00; at 03:00 the next night the last six
    hours hold a handful of complaints, too few to tell: the window the alert holds by is
    stretched until enough are normal, the surge still shows in it, and the alert is not back
    to normal (it would otherwise resolve at night and page again in the morning). It fires on
    six hours only."""
    site = Site(deliveries_per_day=1_000.0, surge_from_hour=SURGE_HOUR, seed=seed)
    rhythm = site.build()
    night = 9 * HOURS_PER_DAY + 3
    s = judge_surge(rhythm, "service", at(night), POLICY)
    assert s is not None and s.expected < 10 and s.hold is not None
    assert s.hold.window > 6 and s.hold.expected >= 10
    assert not s.back_to_normal(SERVICE.surge_ratio)
    quiet = Site(deliveries_per_day=1_000.0, seed=seed).build()
    normal = judge_surge(quiet, "service", at(night), POLICY)
    assert normal is not None and normal.hold is not None
    assert not normal.surging(SERVICE.surge_ratio)  # the same night at the normal share


# ---- a share that wanders from day to day more than chance (overdispersion) ----


@pytest.mark.parametrize(
    ("spans", "expected"),
    [
        ([(40, 4_000), (40, 4_000), (40, 4_000)], 1.0),  # less wander than chance: 1, not less
        ([(35, 4_000), (45, 4_000)], 1.25),  # chi-square 1.25 on one degree of freedom
        ([(30, 4_000), (40, 4_000), (50, 4_000)], 2.5),  # 5 on two
        ([(20, 4_000), (60, 4_000)], 20.0),  # 20 against 60: far beyond chance, capped
        ([(0, 0), (40, 4_000)], 1.0),  # a span without upstream adds nothing
        ([(40, 4_000)], 1.0),  # one span: no wander to measure
        ([(0, 4_000), (0, 4_000)], 1.0),  # no arrivals: no share to wander
    ],
    ids=["steady", "within-chance", "wander", "wild", "no-upstream", "one-span", "none"],
)
def test_dispersion_of_the_references(spans: list[tuple[int, int]], expected: float) -> None:
    assert dispersion(spans) == pytest.approx(min(expected, MAX_DISPERSION), rel=0.01)


def _surging_sites(wander: float, seeds: range) -> list[int]:
    return [
        seed
        for seed in seeds
        if surges(Site(share_wander=wander, seed=seed, days=21).build(), range(21 * 24 + 1))
    ]


def test_a_share_that_wanders_from_day_to_day_needs_more_evidence(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Complaints whose day's share wanders by a fifth (gamma, coefficient of variation 0.2)
    around 2% of 5,000 deliveries a day, for three weeks: no surge, but now and then a day at
    1.5-2 times the share that the Poisson test alone calls beyond chance. Allowing for the
    references' own wander (`dispersion`) leaves fewer of those sites warned; the test fails if
    the allowance is gone (at most 1: the Poisson test of before)."""
    seeds = range(20)
    allowed = _surging_sites(0.2, seeds)
    monkeypatch.setattr(surge_module, "MAX_DISPERSION", 1.0)
    poisson_only = _surging_sites(0.2, seeds)
    assert len(allowed) <= 5
    assert len(allowed) < len(poisson_only)


@pytest.mark.parametrize("seed", range(10))
def test_a_surge_is_still_caught_where_the_share_wanders(seed: int) -> None:
    """The allowance for wander costs hours, not the surge: four times the share from 10:00 is
    caught within 12 hours at a site whose daily share wanders by a fifth."""
    rhythm = Site(share_wander=0.2, surge_from_hour=SURGE_HOUR, seed=seed).build()
    assert surges(rhythm, range(SURGE_HOUR + 1, SURGE_HOUR + 13))
