"""A stall is an outflow below normal that chance does not explain: the Poisson lower tail the
stall rule uses (agents.logic.backpressure.poisson_at_most), exact against a direct sum and
ordered as a probability must be; and where it puts the line for small and large sites."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ordermon.agents.logic.backpressure import STALL_SIGNIFICANCE, Flows, judge, poisson_at_most
from ordermon.agents.logic.policy import Policy
from ordermon.agents.logic.rhythm import (
    HOURS_PER_DAY,
    Rhythm,
)
from ordermon.agents.logic.windows import HOUR_MS, MINUTE_MS
from tests.unit.agents.hourly import hour_row, rhythm_of


def exact(k: int, mean: int) -> float:
    """P(X <= k), X ~ Poisson(mean), summed in exact rationals (e^-mean apart)."""
    total = sum(Fraction(mean**i, math.factorial(i)) for i in range(k + 1))
    return float(total * Fraction(math.exp(-mean)))


@given(st.integers(0, 60), st.integers(1, 80))
def test_the_tail_is_the_exact_sum(k: int, mean: int) -> None:
    assert poisson_at_most(k, mean) == pytest.approx(exact(k, mean), rel=1e-9, abs=1e-300)


@given(st.integers(0, 200), st.floats(0.5, 600))
def test_the_tail_is_a_probability_growing_with_k_and_falling_with_the_mean(
    k: int, mean: float
) -> None:
    p = poisson_at_most(k, mean)
    assert 0.0 <= p <= 1.0
    assert poisson_at_most(k + 1, mean) >= p - 1e-12  # (summation rounding near 1)
    assert poisson_at_most(k, mean * 1.1) <= p + 1e-12
    assert poisson_at_most(-1, mean) == 0.0


@pytest.mark.parametrize(
    ("mean", "outflow", "beyond_chance"),
    [
        (15, 8, False),  # a quiet site's noisy half hour: about 1 in 25
        (15, 2, True),  # a full stop there
        (40, 24, False),  # 0.6 of normal at `min_events`: about 1 in 300 windows, not a stall
        (40, 18, True),
        (100, 59, True),  # from about 100 the ratio (0.6) is the stricter line
        (400, 239, True),
        (2000, 1199, True),  # exp(-2000) underflows: still beyond chance
    ],
)
def test_where_chance_ends(mean: int, outflow: int, beyond_chance: bool) -> None:
    assert (poisson_at_most(outflow, mean) < STALL_SIGNIFICANCE) is beyond_chance


def _steady_week(per_hour: int, days: int = 9) -> Rhythm:
    """A queue served around the clock at `per_hour`, a little waiting at each hour's end."""
    return rhythm_of([hour_row(0, per_hour, per_hour, per_hour // 4)] * (days * HOURS_PER_DAY))


@pytest.mark.parametrize(
    ("in_stall", "stalled"),
    [
        (60, True),  # orders go on, nothing is dispatched: a stall
        (0, False),  # nothing in and nothing out: every stream stopped, the site is silent
    ],
)
def test_a_stall_is_inflow_going_on_unserved(in_stall: int, stalled: bool) -> None:
    rhythm = _steady_week(120)
    at = len(rhythm.rows) * HOUR_MS + MINUTE_MS
    flows = Flows(backlog=300, in_stall=in_stall, out_stall=0, in_day=2880, out_day=2820)
    policy = Policy()
    j = judge(rhythm, "dispatch", flows, at, policy.queues["dispatch"], policy)
    assert j.learned
    assert j.stalled is stalled
