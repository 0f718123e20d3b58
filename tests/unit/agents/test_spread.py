"""How much a queue's day-over-day growth wanders (`day_to_day_spread`): a site with headroom
comes back to the same backlog every day and keeps its mark; a site with none wanders, and its
own wander is what its growth is judged against."""

from __future__ import annotations

import random

import pytest

from ordermon.agents.logic.backpressure import SPREAD_DAYS, day_to_day_spread
from ordermon.agents.logic.rhythm import (
    HOURS_PER_DAY,
    Rhythm,
)
from tests.unit.agents.hourly import hour_row, rhythm_of

PER_HOUR = 1000  # items a day: 24,000
WEEKS = 3


def rhythm(backlogs: list[int], flagged: frozenset[int] = frozenset()) -> Rhythm:
    """Queue 0 with `PER_HOUR` in and out every hour and the given backlog at each hour's end."""
    return rhythm_of(
        [hour_row(0, PER_HOUR, PER_HOUR, b, flagged=h in flagged) for h, b in enumerate(backlogs)]
    )


def spread_at_end(backlogs: list[int], flagged: frozenset[int] = frozenset()) -> float:
    return day_to_day_spread(rhythm(backlogs, flagged), 0, len(backlogs) - 1, WEEKS)


DAYS = 4 * 7
DAILY_SHAPE = [500 + 300 * (h % 24 >= 20) for h in range(HOURS_PER_DAY)]  # an evening peak


def test_a_site_with_headroom_does_not_wander() -> None:
    assert spread_at_end(DAILY_SHAPE * DAYS) == 0.0


def test_a_site_without_headroom_wanders_by_its_daily_noise() -> None:
    """Capacity equal to the orders, each day +-5 % (1,200 of 24,000) at random: the backlog is a
    random walk, and its growth readings spread by about three times 5 % of a day."""
    rng = random.Random(7)
    level, backlogs = 5000.0, []
    for _ in range(DAYS):
        level = max(0.0, level + rng.gauss(0.0, 0.05 * 24 * PER_HOUR))
        backlogs += [round(level) + b for b in DAILY_SHAPE]
    spread = spread_at_end(backlogs)
    assert 0.08 < spread < 0.3  # three standard deviations of 0.05 (x sqrt 2 with the normal)


def test_too_few_readings_leave_the_mark_alone() -> None:
    # under a week and a day of history: no growth reading against a learned normal at all
    assert spread_at_end(list(range(8 * HOURS_PER_DAY))) == 0.0


@pytest.mark.parametrize("spoiled", range(SPREAD_DAYS - 4, SPREAD_DAYS + 1))
def test_days_flagged_abnormal_are_left_out(spoiled: int) -> None:
    """The spread is read from normal days only: the hours of `spoiled` days of an incident,
    flagged, leave fewer readings than a spread needs, and the mark stays; the same days not
    flagged would raise it."""
    steady = [1000] * (DAYS * HOURS_PER_DAY)
    end = len(steady) - 1
    rng = random.Random(spoiled)
    spoilt = {end - k * HOURS_PER_DAY: rng.randint(5_000, 20_000) for k in range(1, spoiled + 1)}
    incident = [spoilt.get(h, b) for h, b in enumerate(steady)]
    hours = frozenset(spoilt)
    assert spread_at_end(incident, hours) == 0.0
    assert spread_at_end(incident) > 0.1


@pytest.mark.parametrize(
    ("wander", "low", "high"),
    [
        (0, 0.0, 0.0),  # headroom: back to the same backlog every evening, the mark unchanged
        (4800, 0.1, 0.6),  # an evening peak that wanders by up to a fifth of a day
    ],
)
def test_the_first_learned_week_reads_the_wander_of_the_neighbouring_hours(
    wander: int, low: float, high: float
) -> None:
    """Twelve days and an evening: too few growth readings at this very hour against a learned
    normal (the first learned week), so the wander is read from the hours around it on the
    same days; an evening peak that wanders from one day to the next is not a queue that grows
    (healthy WRO-4 warned at a Friday night's peak 0.16 days above last Friday's)."""
    rng = random.Random(3)
    backlogs = []
    for _ in range(13):
        extra = rng.randint(0, wander) if wander else 0
        backlogs += [b + extra * (h >= 18) for h, b in enumerate(DAILY_SHAPE)]
    end = 12 * HOURS_PER_DAY + 21  # 21:00 on day 12: readings on days 9-11 only
    spread = day_to_day_spread(rhythm(backlogs[: end + 1]), 0, end, WEEKS)
    assert low <= spread <= high
