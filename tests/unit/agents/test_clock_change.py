"""A clock change (daylight saving time): every rhythm of a site moves by an hour of UTC, and the
learned weeks say otherwise for three weeks more. The stall's normal outflow over a window is the
lowest of its hours, of the hour before it and of the hour after it, so that a rhythm edge
an hour off in either direction is not taken for a stall; the simulator moves every schedule
with the site's local clock."""

from __future__ import annotations

import pytest

from ordermon.agents.logic.backpressure import _expected_out
from ordermon.agents.logic.policy import Policy
from ordermon.agents.logic.rhythm import HOURS_PER_DAY, HOURS_PER_WEEK
from ordermon.agents.logic.windows import HOUR_MS, MINUTE_MS
from ordermon.devtools import realistic
from ordermon.devtools.operations import DAY_MS
from tests.unit.agents.hourly import hour_row, rhythm_of

POLICY = Policy()
DELIVERY = 1
# the carriers' day (UTC): a morning round 08-12 of 1,000 parcels an hour, then 300 an hour to
# 20:00, nothing at night
PACE = [0] * 8 + [1_000] * 4 + [300] * 8 + [0] * 4
WEEKS = 4
FIRST = 500_000 - 500_000 % HOURS_PER_WEEK  # an absolute hour at the start of a week


def carriers() -> list[list[int]]:
    return [
        hour_row(DELIVERY, PACE[h % HOURS_PER_DAY], PACE[h % HOURS_PER_DAY], 5_000)
        for h in range(WEEKS * HOURS_PER_WEEK)
    ]


def window_ending(hour: int, minute: int) -> int:
    """The end of a stall window at `hour`:`minute` of the last day."""
    day = FIRST + (WEEKS * 7 - 1) * HOURS_PER_DAY
    return (day + hour) * HOUR_MS + minute * MINUTE_MS


@pytest.mark.parametrize(
    ("hour", "minute", "per_hour"),
    [
        (9, 45, 1_000),  # within the morning round: its pace
        (11, 45, 300),  # its last hour: the hour after's pace, the round may end an hour early
        (12, 45, 300),  # the hour before is the round's: the afternoon's pace
        (8, 15, None),  # the hour before is night
        (9, 15, None),  # so is part of it: a round an hour late would still be picking up
        (19, 45, None),  # the hour after is night: not judged
        (3, 0, None),  # night
    ],
)
def test_the_normal_of_a_window_allows_an_hour_either_way(
    hour: int, minute: int, per_hour: int | None
) -> None:
    rhythm = rhythm_of(carriers()[: (WEEKS * 7 - 1) * HOURS_PER_DAY + hour], FIRST)
    queue = POLICY.queues["delivery"]
    expected = _expected_out(rhythm, "delivery", window_ending(hour, minute), queue, POLICY)
    assert expected == (None if per_hour is None else per_hour / 2)


@pytest.mark.parametrize("shift_h", [1, -1])
def test_the_simulator_moves_every_schedule_with_the_local_clock(shift_h: int) -> None:
    """`clock_forward` and `clock_back`: FRA-1's first dispatch of a Tuesday is at 06:00 UTC
    before the change (its shift starts at 06:00 local, UTC+0) and an hour earlier (forward) or
    later (back) after it."""
    build = realistic.clock_forward if shift_h > 0 else realistic.clock_back
    scenario = build(seed=0, days=16, scale=0.05)
    first: dict[int, int] = {}
    for m in scenario.run().messages():
        if m.topic == "dispatches" and m.key == b"FRA-1":
            day = (m.occurred_at_ms - scenario.start_ms) // DAY_MS
            first.setdefault(day, (m.occurred_at_ms % DAY_MS) // MINUTE_MS)
    tuesdays = (8, 15)  # day 0 is a Monday; the clock changes on day 13, a Sunday
    before, after = (first[d] // 60 for d in tuesdays)
    assert after - before == -shift_h
