"""Before a week is learned, the backlog at the end of an hour is read against the same hour a
day earlier only once the floor (the lowest backlog of a day) has risen by half the mark: a
floor a few hundred parcels higher at a large site is beyond the counting noise but not beyond
the wander of a day, and the same-hour reading of a short Saturday (the shift ends at 16:00)
against Friday (until 23:00) is the week's rhythm, not a team falling behind. It paged a healthy
site of the realistic suite on its first Saturday evening."""

from __future__ import annotations

from ordermon.agents.logic.backpressure import Flows, fires, judge
from ordermon.agents.logic.policy import Policy
from ordermon.agents.logic.rhythm import BASE, HOURS_PER_DAY, IN, OUT, Rhythm
from ordermon.agents.logic.windows import HOUR_MS
from ordermon.streams.timefmt import parse_rfc3339_ms
from tests.unit.agents.hourly import hour_row, rhythm_of

D0_HOUR = (parse_rfc3339_ms("2026-03-02T00:00:00Z") or 0) // HOUR_MS  # a Monday
SATURDAY = 5
CAPACITY = 1_600  # parcels an hour on shift


def site(floors: list[int]) -> tuple[Rhythm, list[int]]:
    """A site of about 19,000 orders a day (800 an hour, 960 on Saturday), two shifts 07-23
    Monday to Friday, and on Saturday 08-16 and a carrier's collection at 20:00 (the hour
    20:00-21:00 is a working hour), serving at `CAPACITY`; `floors[d]` parcels always wait on
    day d (picked but not yet scanned). Returns the rhythm up to Saturday 21:00 and the backlog
    at the end of each hour."""
    rows, backlogs = [], []
    b = floors[0]
    for h in range((SATURDAY + 1) * HOURS_PER_DAY):
        day, hour = divmod(h, HOURS_PER_DAY)
        inflow = 960 if day == SATURDAY else 800
        on = (8 <= hour < 16 or hour == 20) if day == SATURDAY else 7 <= hour < 23
        start = b
        b += inflow
        out = min(CAPACITY, b - floors[day]) if on else 0
        b -= max(out, 0)
        rows.append(hour_row(0, inflow, max(out, 0), b, low=min(start, b)))
        backlogs.append(b)
    return rhythm_of(rows, D0_HOUR), backlogs


def fires_at(rhythm: Rhythm, backlogs: list[int], hour: int) -> bool:
    at = (D0_HOUR + hour + 1) * HOUR_MS + 60_000
    day = rhythm.rows[hour + 1 - HOURS_PER_DAY : hour + 1]
    flows = Flows(
        backlog=backlogs[hour],
        in_stall=400,
        out_stall=0,
        in_day=sum(r[BASE + IN] for r in day),
        out_day=sum(r[BASE + OUT] for r in day),
    )
    rhythm.rows = rhythm.rows[: hour + 1]
    policy = Policy()
    j = judge(rhythm, "dispatch", flows, at, policy.queues["dispatch"], policy)
    assert not j.learned and j.judged
    return fires(j, policy.queues["dispatch"])


SATURDAY_21 = SATURDAY * HOURS_PER_DAY + 20  # the hour 20:00-21:00


def test_a_short_saturday_evening_is_not_growth() -> None:
    """Friday's floor 600 parcels above Thursday's (3% of a day: past the counting noise of
    ~1%, below half the 8% mark)."""
    rhythm, backlogs = site([2_000, 2_000, 2_000, 2_000, 2_600, 2_600])
    assert not fires_at(rhythm, backlogs, SATURDAY_21)


def test_a_floor_that_rose_by_the_mark_is_read_like_with_like() -> None:
    """The same Saturday evening once Friday's floor is 2,000 parcels (a tenth of a day) above
    Thursday's: the queue no longer comes back to its floor, and the evening's backlog against
    Friday's says how far."""
    rhythm, backlogs = site([2_000, 2_000, 2_000, 2_000, 4_000, 4_000])
    assert fires_at(rhythm, backlogs, SATURDAY_21)
