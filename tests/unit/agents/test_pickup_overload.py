"""Before a week is learned, a site that falls short is judged like with like: its backlog at
the end of an hour against the same hour a day earlier, once its floor (the lowest backlog of a
day) has risen. A carrier-pickup site whose trucks take 10% less than its orders from 10:00 is
seen after one cycle, at the next day's 10:00 pickup; the floor of a whole day alone showed it
only a day later. The same site at its normal pace is never judged to grow."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ordermon.agents.logic.backpressure import Flows, fires, judge
from ordermon.agents.logic.policy import Policy
from ordermon.agents.logic.rhythm import BASE, HOURS_PER_DAY, IN, OUT, Rhythm
from ordermon.agents.logic.windows import HOUR_MS
from ordermon.streams.timefmt import parse_rfc3339_ms
from tests.unit.agents.hourly import hour_row, rhythm_of

D0_HOUR = (parse_rfc3339_ms("2026-03-02T00:00:00Z") or 0) // HOUR_MS
PICKUPS = (10, 15, 20)
PER_HOUR = 400  # 9,600 orders a day
# what each truck takes on a normal day: the orders since the truck before
NORMAL_LOAD = {10: 14 * PER_HOUR, 15: 5 * PER_HOUR, 20: 5 * PER_HOUR}


def site(
    days: int, short_from: int | None, share: float = 0.9, noise: list[int] | None = None
) -> tuple[Rhythm, list[int]]:
    """Hourly rows of a pickup site's dispatch queue: orders every hour, trucks at the pickup
    hours that take everything waiting, or from hour `short_from` on only `share` of what each
    takes on a normal day. Returns the rhythm and the backlog at the end of each hour."""
    rows: list[list[int]] = []
    backlogs: list[int] = []
    b = 0
    for h in range(days * HOURS_PER_DAY):
        inflow = PER_HOUR + (noise[h % len(noise)] if noise else 0)
        low = b + inflow // 60  # the lowest at the end of a minute of the hour
        b += inflow
        out = 0
        if h % HOURS_PER_DAY in PICKUPS:
            cap = b if short_from is None or h < short_from else share * NORMAL_LOAD[h % 24]
            out = min(b, round(cap))
            b -= out
            low = b  # the truck came
        rows.append(hour_row(0, inflow, out, b, low=low))
        backlogs.append(b)
    return rhythm_of(rows, D0_HOUR), backlogs


def judged_at(rhythm: Rhythm, backlogs: list[int], hour: int) -> bool:
    """Whether dispatch fires at the end of `hour` (hours since D0), judged at the first
    minute after it."""
    at = (D0_HOUR + hour + 1) * HOUR_MS + 60_000
    rows = rhythm.rows[hour + 1 - HOURS_PER_DAY : hour + 1]
    flows = Flows(
        backlog=backlogs[hour],
        in_stall=PER_HOUR // 2,
        out_stall=0,
        in_day=sum(r[BASE + IN] for r in rows),
        out_day=sum(r[BASE + OUT] for r in rows),
    )
    rhythm.rows = rhythm.rows[: hour + 1]  # what was known then
    policy = Policy()
    j = judge(rhythm, "dispatch", flows, at, policy.queues["dispatch"], policy)
    assert not j.learned
    return fires(j, policy.queues["dispatch"])


def test_a_pickup_site_short_of_trucks_is_seen_after_one_cycle() -> None:
    short = 4 * HOURS_PER_DAY + 10  # day 4, 10:00
    rhythm, backlogs = site(6, short)
    assert judged_at(rhythm, backlogs, 5 * HOURS_PER_DAY + 10)  # the next day's 10:00 pickup


@pytest.mark.parametrize("hour", [4 * HOURS_PER_DAY + p for p in PICKUPS])
def test_not_before_a_whole_cycle(hour: int) -> None:
    rhythm, backlogs = site(6, 4 * HOURS_PER_DAY + 10)
    assert not judged_at(rhythm, backlogs, hour)


@settings(deadline=None, max_examples=25)
@given(
    st.lists(st.integers(-60, 60), min_size=5, max_size=30),
    st.integers(3 * HOURS_PER_DAY, 6 * HOURS_PER_DAY - 1),
)
def test_a_site_at_its_pace_never_grows(noise: list[int], hour: int) -> None:
    """Orders varying by up to 15% from hour to hour, every truck taking all that waits: the
    floor comes back to zero at every pickup, whatever the hour judged."""
    rhythm, backlogs = site(6, None, noise=noise)
    assert not judged_at(rhythm, backlogs, hour)
