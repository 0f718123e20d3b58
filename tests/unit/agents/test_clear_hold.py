"""A sustained backpressure does not clear just because its backlog stopped growing while it
stands beyond the mark above the normal of its hour of the week (`backpressure.observation`):
a team that fell a day behind and now keeps pace is still a day behind. On data from a
generator written apart from the project's, a 10% overload's alert resolved on day 12 with
8,000 parcels waiting against a normal of 1,200 (the learned week held the fault's first,
unflagged day, so that day's growth read as normal), and paged again a day later."""

from __future__ import annotations

import pytest

from ordermon.agents.logic.backpressure import Judgement, observation
from ordermon.agents.logic.policy import Policy
from tests.unit.agents.hourly import learned_judgement

DISPATCH = Policy().queues["dispatch"]


def judgement(*, learned: bool, excess: float | None, growth: float | None) -> Judgement:
    return learned_judgement(
        learned=learned, judged=growth is not None, growth=growth, excess=excess
    )


@pytest.mark.parametrize(
    ("learned", "excess", "growth", "clears"),
    [
        (True, 0.55, -0.04, False),  # a day behind, keeping pace: holds
        (True, 0.09, -0.04, False),  # just past the mark
        (True, 0.06, -0.04, True),  # within the mark and not growing
        (True, 0.03, 0.05, True),  # back to normal
        (False, 0.55, -0.04, True),  # before a week: the excess is the day's growth
        (True, None, -0.04, True),  # no normal known for this hour
    ],
)
def test_clear(learned: bool, excess: float | None, growth: float | None, clears: bool) -> None:
    obs = observation(judgement(learned=learned, excess=excess, growth=growth), DISPATCH, "")
    assert obs.clear is clears
