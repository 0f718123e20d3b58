"""A learned queue whose backlog stands higher than at the same hour a week ago is behind, however
it grows day over day (`backpressure._week_behind`, `WEEK_MARKS`).

On data from a generator written apart from the project's, a site closed on Sundays whose team
packed 90% of its week's orders from its first Saturday got no alert in 14 days: it learned that
week as its normal, and from then on its backlog fell on every weekday (the team works off the
Sunday's pile all week) and rose only at the weekend, by most of a day a week. Its day-over-day
growth never passed the mark; its growth week over week does. The first week of a site watched
from empty is not read against (its first Monday had no Sunday before it): a site with no
headroom at all stands a day higher in its second week than in its first, and is healthy."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ordermon.agents.logic.backpressure import WEEK_MARKS, Judgement, fires
from ordermon.agents.logic.policy import Policy
from ordermon.agents.logic.rhythm import HOURS_PER_DAY
from tests.unit.agents.hourly import judged_dispatch, learned_judgement, serve_hour

POLICY = Policy()
DISPATCH = POLICY.queues["dispatch"]
MARK = DISPATCH.fire_growth
FIRST_HOUR = 490_000  # a Monday 00:00 UTC (hours since the epoch)
DAYS = 24
# orders an hour: low at night, peak in the evening, 6,000 on a weekday, a fifth more at weekends
CURVE = [2, 1, 1, 1, 1, 1, 2, 3, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5, 6, 6, 8, 8, 6, 4]


def orders(hour: int) -> int:
    day = hour // HOURS_PER_DAY
    weekend = 1.2 if day % 7 >= 5 else 1.0
    return round(6_000 * weekend * CURVE[hour % HOURS_PER_DAY] / sum(CURVE))


WEEK_ORDERS = sum(orders(h) for h in range(7 * HOURS_PER_DAY))


def closed_sunday(share: float, from_day: int) -> list[list[int]]:
    """A dispatch team working 07-23 Monday to Saturday, able to pack its week's orders exactly
    (no headroom), and `share` of them from `from_day` on."""
    rows: list[list[int]] = []
    backlog = 0
    for hour in range(DAYS * HOURS_PER_DAY):
        day, at = divmod(hour, HOURS_PER_DAY)
        working = day % 7 != 6 and 7 <= at < 23
        pace = WEEK_ORDERS / 6 / 16 * (share if day >= from_day else 1.0)
        backlog = serve_hour(rows, backlog, orders(hour), pace if working else 0.0)
    return rows


def judged(rows: list[list[int]], day: int, at: int) -> Judgement:
    return judged_dispatch(rows, day * HOURS_PER_DAY + at, FIRST_HOUR, POLICY)


def fired_days(rows: list[list[int]], days: range) -> list[float]:
    return [
        day + at / 24 for day in days for at in range(24) if fires(judged(rows, day, at), DISPATCH)
    ]


def test_a_team_short_from_its_first_saturday_is_caught_week_over_week() -> None:
    rows = closed_sunday(0.9, from_day=5)
    fired = fired_days(rows, range(14, DAYS))
    assert fired and fired[0] < 17  # within the third week's first working days
    reading = judged(rows, 17, 12)
    assert reading.week_growth is not None and reading.week_growth > WEEK_MARKS * MARK


def test_a_site_with_no_headroom_is_not_called_behind() -> None:
    """Its second week stands a day above its first (watched from empty), and no higher after."""
    rows = closed_sunday(1.0, from_day=0)
    assert judged(rows, 8, 12).excess > 0.5  # type: ignore[operator]
    assert judged(rows, 8, 12).week_growth is None  # the first week is not read against
    assert fired_days(rows, range(8, DAYS)) == []
    assert abs(judged(rows, 16, 12).week_growth or 0.0) < 0.01


@pytest.mark.parametrize(
    ("week_growth", "week_noise", "excess", "fired"),
    [
        (0.7, 0.05, 0.6, True),
        (WEEK_MARKS * MARK + 0.01, 0.05, 0.6, True),
        (WEEK_MARKS * MARK - 0.01, 0.05, 0.6, False),
        (0.7, 0.75, 0.6, False),  # within its counting noise
        (0.7, 0.05, 0.8, True),
        (0.7, 0.05, MARK, False),  # not above the normal of its hour of the week
        (None, 0.0, 0.6, False),  # not known
    ],
)
def test_the_marks(
    week_growth: float | None, week_noise: float, excess: float, fired: bool
) -> None:
    j = learned_judgement(
        growth=-0.12, excess=excess, week_growth=week_growth, week_noise=week_noise
    )
    assert fires(j, DISPATCH) is fired


def test_nor_within_the_queues_own_wander() -> None:
    """A queue whose growth readings wander most of a day is not behind at 0.7 a week."""
    j = learned_judgement(growth=-0.12, excess=0.9, week_growth=0.7, week_noise=0.05, noise=0.8)
    assert not fires(j, DISPATCH)


@given(
    growth=st.floats(min_value=-2.0, max_value=MARK),
    week_growth=st.floats(min_value=-3.0, max_value=3.0),
)
def test_week_growth_alone_decides_below_the_daily_mark(growth: float, week_growth: float) -> None:
    j = learned_judgement(growth=growth, excess=0.5, week_growth=week_growth, week_noise=0.1)
    assert fires(j, DISPATCH) is (week_growth > max(WEEK_MARKS * MARK, 0.1, j.noise))
