"""Before a week is learned, the wait is read at the pace the team keeps on the days it works.

A site closed on Sundays holds, on a Sunday afternoon, Saturday evening's leftovers and
Sunday's orders for Monday's shift. Its last 24 hours served only Saturday evening's work: the
wait read over them (backlog / last 24 hours' outflow) is days, or infinite at a site whose
Saturday shift ended more than a day ago, and would page a healthy site every first Sunday.
At the pace of its typical working day the wait is what the backlog is worth in working days."""

from __future__ import annotations

import math

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


def closed_sunday_site(hours: int) -> tuple[list[list[int]], int]:
    """Hourly dispatch rows from Monday 00:00 and the backlog at the end."""
    rows: list[list[int]] = []
    backlog = 0
    for h in range(hours):
        day, hour = divmod(h, HOURS_PER_DAY)
        backlog += ORDERS_PER_HOUR
        out = min(backlog, 300) if day % 7 != 6 and hour in SHIFT else 0
        backlog -= out
        rows.append(hour_row(0, ORDERS_PER_HOUR, out, backlog))
    return rows, backlog


@pytest.mark.parametrize("sunday_hour", [16, 20, 22])
def test_a_closed_sunday_waits_its_working_days_not_the_last_24_hours(sunday_hour: int) -> None:
    hours = 6 * HOURS_PER_DAY + sunday_hour
    rows, backlog = closed_sunday_site(hours)
    rhythm = rhythm_of(rows, MONDAY_HOUR)
    end = MONDAY_HOUR + hours
    flows = Flows(
        backlog=backlog,
        in_stall=ORDERS_PER_HOUR // 2,
        out_stall=0,
        in_day=rhythm.total(0, IN, end, HOURS_PER_DAY) or 0,
        out_day=rhythm.total(0, OUT, end, HOURS_PER_DAY) or 0,
    )
    sla = Policy().queues["dispatch"].sla_hours
    # over the last 24 hours (Saturday evening's work only) the wait passes the SLA
    assert flows.out_day == 0 or flows.backlog / flows.out_day * 24 > sla
    policy = Policy()
    at = (MONDAY_HOUR + hours) * HOUR_MS + 60_000
    j = judge(rhythm, "dispatch", flows, at, policy.queues["dispatch"], policy)
    assert not j.learned
    typical_day = 300 * len(SHIFT)
    assert j.wait_hours == pytest.approx(backlog / typical_day * 24)
    assert math.isfinite(j.wait_hours) and j.wait_hours < sla
