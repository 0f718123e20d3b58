"""A learned queue that grew several marks in a day is behind however hard its team worked
(`backpressure._behind`, `SURPLUS_MARKS`). A day's growth at the mark by a team that served more
than its normal is a busy day (a weekend's surplus worked off on Monday); half a day of orders
more waiting than yesterday is orders beyond the team. On data from a generator written apart
from the project's (orders +2% a day at fixed capacity), a site closed on Sundays grew its
backlog by half a day a day after the crossing while its team served above its learned normal,
and no alert came by day 30 with 1.4 days of capacity waiting."""

from __future__ import annotations

import pytest

from ordermon.agents.logic.backpressure import SURPLUS_MARKS, Judgement, Shortfall, fires
from ordermon.agents.logic.policy import Policy
from tests.unit.agents.hourly import learned_judgement

DISPATCH = Policy().queues["dispatch"]


def judgement(growth: float) -> Judgement:
    return learned_judgement(
        backlog=9_300,
        growth=growth,
        excess=max(growth, 0.3),  # below the held mark (`test_held.py`)
        noise=0.07,
        throughput_day=8_500.0,
        normal_backlog=4_700.0,
        wait_hours=9.6,
        normal_wait_hours=5.0,
        short=Shortfall(-0.04, 0.05),  # served more than its normal for these hours
    )


@pytest.mark.parametrize(
    ("growth", "fired"),
    [
        (0.49, True),  # half a day more waiting than yesterday
        (SURPLUS_MARKS * 0.08 + 0.01, True),
        (SURPLUS_MARKS * 0.08 - 0.01, False),  # a busy day, as before
        (0.12, False),
    ],
)
def test_growth_beyond_several_marks_is_behind(growth: float, fired: bool) -> None:
    assert fires(judgement(growth), DISPATCH) is fired
