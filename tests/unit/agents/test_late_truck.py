"""Once a week is learned, a queue's growth is read at the end of the last complete hour and of
the hour before it, each number the less alarming of the two (`backpressure._learned_growth`):
a reading at the end of one hour is on one side of a carrier pickup, and a truck an hour late
(or a clock change, which moves every pickup an hour of UTC for the weeks learned before it)
puts it on the other: the backlog before the truck against the normal after it, a third of a
day of growth that the next hour does not show. Trucks that do not come show in both."""

from __future__ import annotations

import pytest

from ordermon.agents.logic.backpressure import Flows, fires, judge
from ordermon.agents.logic.policy import Policy
from ordermon.agents.logic.rhythm import BACKLOG, BASE, HOURS_PER_DAY, IN, OUT
from ordermon.agents.logic.windows import HOUR_MS
from ordermon.streams.timefmt import parse_rfc3339_ms
from tests.unit.agents.hourly import hour_row, rhythm_of

D0_HOUR = (parse_rfc3339_ms("2026-03-02T00:00:00Z") or 0) // HOUR_MS  # a Monday
PICKUPS = (10, 15, 20)
PER_HOUR = 400  # 9,600 orders a day
DAYS = 17  # two weeks and three days learned: judged on the last day
LAST_DAY = (DAYS - 1) * HOURS_PER_DAY


def backlogs(trucks: dict[int, int | None]) -> list[list[int]]:
    """Hourly rows of a pickup site's dispatch queue: orders every hour, a truck at each pickup
    hour that takes everything waiting; on the last day `trucks` moves a pickup (hour -> the
    hour it comes, None: it does not come)."""
    rows: list[list[int]] = []
    b = 0
    moved = {LAST_DAY + h: None if to is None else LAST_DAY + to for h, to in trucks.items()}
    comes = {h for h in range(DAYS * HOURS_PER_DAY) if h % HOURS_PER_DAY in PICKUPS}
    comes = (comes - set(moved)) | {to for to in moved.values() if to is not None}
    for h in range(DAYS * HOURS_PER_DAY):
        b += PER_HOUR
        low = b - PER_HOUR + PER_HOUR // 60
        out = b if h in comes else 0
        b -= out
        rows.append(hour_row(0, PER_HOUR, out, b, low=min(low, b)))
    return rows


def fires_after(rows: list[list[int]], hour: int) -> bool:
    """Whether dispatch fires at the first minute after `hour` (hours since D0), from what was
    known then."""
    known = rows[: hour + 1]
    day = known[-HOURS_PER_DAY:]
    flows = Flows(
        backlog=known[-1][BASE + BACKLOG],
        in_stall=PER_HOUR // 2,
        out_stall=known[-1][BASE + OUT] // 2,
        in_day=sum(r[BASE + IN] for r in day),
        out_day=sum(r[BASE + OUT] for r in day),
    )
    policy = Policy()
    queue = policy.queues["dispatch"]
    at = (D0_HOUR + hour + 1) * HOUR_MS + 60_000
    j = judge(rhythm_of(known, D0_HOUR), "dispatch", flows, at, queue, policy)
    assert j.learned
    return fires(j, queue)


@pytest.mark.parametrize("hour", [10, 11, 12, 15, 16])
def test_a_truck_an_hour_late_is_no_backpressure(hour: int) -> None:
    rows = backlogs({10: 11})
    assert not fires_after(rows, LAST_DAY + hour)


def test_trucks_that_do_not_come_are() -> None:
    """The 10:00 and 15:00 trucks do not come: at the end of the 15:00 pickup hour (a working
    hour of the queue) the backlog, and that of the hour before it, hold most of a day's orders
    more than normal."""
    rows = backlogs({10: None, 15: None})
    assert not fires_after(rows, LAST_DAY + 9)
    assert fires_after(rows, LAST_DAY + 15)


def test_the_same_site_on_time_never_fires() -> None:
    rows = backlogs({})
    assert not any(fires_after(rows, LAST_DAY + h) for h in range(HOURS_PER_DAY - 1))
