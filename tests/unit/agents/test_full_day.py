"""Before a week is learned, the same-hour reading of a team's first day of trouble is taken only
after a full day's work (`backpressure._full_day_served`): as many working hours as the day
before, at least a shift's (`SHIFT_HOURS`), and at least `FULL_DAY_SHARE` of what it served. A
Saturday shift that ends at 16:00, read at 21:00 against Friday, a pickup site whose work shows
at three trucks a day, and a day a team served much less than the day before are read over
their floor alone: what they packed is not seen in the hours they scanned."""

from __future__ import annotations

import pytest

from ordermon.agents.logic.backpressure import FULL_DAY_SHARE, SHIFT_HOURS, _full_day_served
from ordermon.agents.logic.policy import Policy
from ordermon.agents.logic.rhythm import HOURS_PER_DAY, QUEUE_INDEX
from ordermon.agents.logic.windows import HOUR_MS
from tests.unit.agents.hourly import hour_row, rhythm_of

FIRST_HOUR = 490_000  # a Monday 00:00 UTC (hours since the epoch)
IDLE_SHARE = Policy().idle_share
ORDERS_PER_HOUR = 500
DAYS_BEFORE = 4


def day_rows(hours: range, served: int) -> list[list[int]]:
    """A day whose team serves `served` parcels spread evenly over `hours`; orders come evenly
    all day (the backlog is not read here)."""
    per_hour = served // len(hours) if hours else 0
    return [
        hour_row(0, ORDERS_PER_HOUR, per_hour if h in hours else 0, 1_000)
        for h in range(HOURS_PER_DAY)
    ]


def full_day(last_hours: range, last_served: int, usual: range = range(7, 23)) -> bool:
    """`_full_day_served` at the end of a day worked over `last_hours`, after `DAYS_BEFORE` days
    of 12,000 parcels served over `usual`."""
    rows: list[list[int]] = []
    for _ in range(DAYS_BEFORE):
        rows += day_rows(usual, 12_000)
    rows += day_rows(last_hours, last_served)
    rhythm = rhythm_of(rows, FIRST_HOUR)
    at = (FIRST_HOUR + len(rows)) * HOUR_MS + 60_000
    return _full_day_served(rhythm, QUEUE_INDEX["dispatch"], at, IDLE_SHARE)


@pytest.mark.parametrize(
    ("hours", "served", "full"),
    [
        (range(7, 23), 12_000, True),  # the same day again
        (range(7, 23), 11_000, True),  # short-handed: a little less an hour, every hour
        (range(7, 23), int(FULL_DAY_SHARE * 12_000), True),
        (range(7, 23), int(FULL_DAY_SHARE * 12_000) - 20, False),  # much less than the day before
        (range(8, 16), 12_000, False),  # a Saturday shift 08-16: fewer hours than Friday's
        (range(7, 24), 12_000, True),  # an hour more
    ],
)
def test_a_full_day_after_a_shift_day(hours: range, served: int, full: bool) -> None:
    assert full_day(hours, served) is full


def test_a_site_whose_work_shows_at_three_pickups_never_has_a_full_day() -> None:
    """Hours serving at carrier pickups only (10:00, 15:00, 20:00) are fewer than a shift's."""
    pickups = range(10, 21, 5)
    assert len(pickups) < SHIFT_HOURS
    assert not full_day(pickups, 12_000, usual=pickups)


def test_a_team_that_always_works_a_short_day_has_full_ones_from_a_shift_on() -> None:
    assert full_day(range(8, 8 + SHIFT_HOURS), 12_000, usual=range(8, 8 + SHIFT_HOURS))
    short = range(8, 8 + SHIFT_HOURS - 1)
    assert not full_day(short, 12_000, usual=short)
