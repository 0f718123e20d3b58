"""Before a week is learned, the wait is read over whole days: from the lowest backlog of the
last two days, at the pace the team keeps on the days it works.

A site closed on Sundays holds, on a Sunday evening, Saturday night's leftovers and Sunday's
orders for Monday's shift. Read from what waits now over the last 24 hours' outflow (Saturday
evening's work only) that wait is days, or infinite once Saturday's shift ended more than a day
ago, and even at the working pace it passes the SLA at a site with little headroom: a healthy
site paged on its first Sunday, for its calendar. Without a week there is no normal for the
hour; the floor of two days is what the site could not serve on its working days."""

from __future__ import annotations

import pytest

from ordermon.agents.logic.backpressure import Flows, judge
from ordermon.agents.logic.policy import Policy
from ordermon.agents.logic.rhythm import HOURS_PER_DAY, IN, OUT
from ordermon.agents.logic.windows import HOUR_MS
from ordermon.streams.timefmt import parse_rfc3339_ms
from tests.unit.agents.hourly import hour_row, rhythm_of

MONDAY_HOUR = (parse_rfc3339_ms("2026-03-02T00:00:00Z") or 0) // HOUR_MS
ORDERS_PER_HOUR = 200  # 4,800 a day, every day
SHIFT = range(7, 23)  # dispatch 07-23, Monday to Saturday, 300 an hour: 4,800 a day


def closed_sunday_site(hours: int, per_hour: int = 300) -> tuple[list[list[int]], int]:
    """Hourly dispatch rows from Monday 00:00 and the backlog at the end: orders every hour,
    `per_hour` served in the shift, closed on Sunday."""
    rows: list[list[int]] = []
    backlog = 0
    for h in range(hours):
        day, hour = divmod(h, HOURS_PER_DAY)
        backlog += ORDERS_PER_HOUR
        out = min(backlog, per_hour) if day % 7 != 6 and hour in SHIFT else 0
        backlog -= out
        rows.append(hour_row(0, ORDERS_PER_HOUR, out, backlog))
    return rows, backlog


def judged(hours: int, per_hour: int = 300) -> tuple[float, int, float]:
    """The wait judged at the end of `hours`, the backlog then, and the queue's SLA."""
    rows, backlog = closed_sunday_site(hours, per_hour)
    rhythm = rhythm_of(rows, MONDAY_HOUR)
    end = MONDAY_HOUR + hours
    flows = Flows(
        backlog=backlog,
        in_stall=ORDERS_PER_HOUR // 2,
        out_stall=0,
        in_day=rhythm.total(0, IN, end, HOURS_PER_DAY) or 0,
        out_day=rhythm.total(0, OUT, end, HOURS_PER_DAY) or 0,
    )
    policy = Policy()
    at = end * HOUR_MS + 60_000
    j = judge(rhythm, "dispatch", flows, at, policy.queues["dispatch"], policy)
    assert not j.learned
    return j.wait_hours, backlog, policy.queues["dispatch"].sla_hours


@pytest.mark.parametrize("sunday_hour", [16, 20, 22, 23])
def test_a_closed_sunday_is_read_over_whole_days(sunday_hour: int) -> None:
    """Sunday evening at a site closed on Sundays waits for Monday's shift: read from its
    lowest backlog of the last two days (Saturday night), not from the day of orders that waits
    now, whose wait at the working pace passes the SLA from about 22:00 on."""
    wait, backlog, sla = judged(6 * HOURS_PER_DAY + sunday_hour)
    assert wait < sla / 4 < backlog / (300 * len(SHIFT)) * 24


def test_a_site_that_cannot_keep_up_waits_past_the_sla_from_its_floor() -> None:
    """Serving 200 an hour (3,200 of 4,800 orders a day) from Monday: by Saturday even the
    lowest backlog of two days holds more than a day of its work."""
    wait, _, sla = judged(5 * HOURS_PER_DAY + 12, per_hour=200)
    assert wait > sla
