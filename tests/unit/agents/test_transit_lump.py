"""A queue whose items wait days (parcels with the carriers) holds the inflow of several days:
its backlog is measured against the mean day of the last three at the least, so a day of
catch-up handed over at once (after a closed Sunday, after an overload cleared) does not read
as a carrier falling behind the next day, while a carrier that stops delivering does."""

from __future__ import annotations

import pytest

from ordermon.agents.logic.backpressure import Flows, fires, judge
from ordermon.agents.logic.policy import Policy
from ordermon.agents.logic.rhythm import (
    BASE,
    HOURS_PER_DAY,
    IN,
    OUT,
    WIDTH,
    Rhythm,
)
from ordermon.agents.logic.windows import HOUR_MS, MINUTE_MS
from tests.unit.agents.hourly import hour_row, rhythm_of

DELIVERY = 1  # queue index: dispatch, delivery, service, refund
PER_HOUR = 100  # 2,400 parcels handed to the carriers a day
TRANSIT_HOURS = 48


def carriers(days: int, lump_day: int | None, stop_day: int | None) -> tuple[Rhythm, list[int]]:
    """Hand-overs of `PER_HOUR` an hour (1.5 times that on `lump_day`: a day of catch-up),
    each parcel delivered `TRANSIT_HOURS` later (none from `stop_day` on: the carrier stops)."""
    hours = days * HOURS_PER_DAY
    inflow = [
        PER_HOUR * 3 // 2 if lump_day is not None and h // HOURS_PER_DAY == lump_day else PER_HOUR
        for h in range(hours)
    ]
    rows, backlogs, b = [], [], 0
    for h in range(hours):
        delivered = inflow[h - TRANSIT_HOURS] if h >= TRANSIT_HOURS else 0
        if stop_day is not None and h // HOURS_PER_DAY >= stop_day:
            delivered = 0
        b += inflow[h] - delivered
        rows.append(hour_row(DELIVERY, inflow[h], delivered, b))
        backlogs.append(b)
    return rhythm_of(rows), backlogs


def judged(rhythm: Rhythm, backlogs: list[int], hour: int) -> tuple[float | None, bool]:
    """(growth, fires) of the delivery queue at the end of `hour`."""
    rhythm.rows = rhythm.rows[: hour + 1]
    day = rhythm.rows[hour + 1 - HOURS_PER_DAY :]
    base = BASE + WIDTH * DELIVERY
    flows = Flows(
        backlog=backlogs[hour],
        in_stall=PER_HOUR // 2,
        out_stall=PER_HOUR // 2,
        in_day=sum(r[base + IN] for r in day),
        out_day=sum(r[base + OUT] for r in day),
    )
    policy = Policy()
    qp = policy.queues["delivery"]
    j = judge(rhythm, "delivery", flows, (hour + 1) * HOUR_MS + MINUTE_MS, qp, policy)
    assert j.learned
    return j.growth, fires(j, qp)


LUMP = 22  # a Wednesday of the fourth week: three weeks learned


@pytest.mark.parametrize("hour", [(LUMP + 1) * HOURS_PER_DAY + h for h in (6, 12, 18, 23)])
def test_a_day_of_catch_up_in_transit_is_not_a_carrier_falling_behind(hour: int) -> None:
    rhythm, backlogs = carriers(LUMP + 3, LUMP, None)
    growth, fired = judged(rhythm, backlogs, hour)
    assert not fired
    assert growth is not None and growth < Policy().queues["delivery"].fire_growth


def test_a_carrier_that_stops_delivering_is_seen_within_the_day() -> None:
    rhythm, backlogs = carriers(LUMP + 3, None, LUMP)
    growth, fired = judged(rhythm, backlogs, LUMP * HOURS_PER_DAY + 20)
    assert fired and growth is not None and growth > 0.5
