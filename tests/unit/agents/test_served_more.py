"""A team that served more than its normal is not behind because of a wait read at its pace
(`backpressure._behind`). On data from a generator written apart from the project's, a promotion
day (three times the orders) was worked off by dispatch at 1.8 times its pace: the carriers were
handed 1.8 days' worth a day and delivered it 1-3 days later as always, delivering more than
their normal, and the parcels with them stood at twice their normal. At that day's pace the
newest read 74 hours from delivery against a 72-hour SLA, and `delivery_backpressure` paged
critical for a carrier problem that did not exist. A team that falls behind serves less than
its normal, or its backlog grows day after day, or several marks in a day: each still is."""

from __future__ import annotations

import pytest

from ordermon.agents.logic.backpressure import Judgement, Shortfall, fires
from ordermon.agents.logic.policy import Policy
from tests.unit.agents.hourly import learned_judgement

DELIVERY = Policy().queues["delivery"]


def carriers(short: float, growth: float = 0.444, **fields: object) -> Judgement:
    base: dict[str, object] = {
        "queue": "delivery",
        "backlog": 20_650,
        "growth": growth,
        "excess": 0.49,
        "noise": 0.07,
        "throughput_day": 6_700.0,
        "normal_backlog": 10_508.0,
        "wait_hours": 74.0,
        "normal_wait_hours": 37.0,
        "short": Shortfall(short, 0.03),
    }
    return learned_judgement(**{**base, **fields})


@pytest.mark.parametrize(
    ("short", "fired"),
    [
        (-0.148, False),  # delivered more than their normal: the promotion passing through
        (-0.05, True),  # about their normal: the wait past the SLA is theirs
        (0.2, True),  # delivered less than their normal
    ],
)
def test_the_wait_counts_unless_the_team_served_more(short: float, fired: bool) -> None:
    assert fires(carriers(short), DELIVERY) is fired


def test_growth_of_several_marks_and_growth_each_day_still_count() -> None:
    assert fires(carriers(-0.148, growth=1.2), DELIVERY)
    assert fires(carriers(-0.148, grew_each_day=True), DELIVERY)
