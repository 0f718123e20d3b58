"""Before a week is learned, a team that falls behind is caught within its first day: a site that
served a full day (at least its typical day) and still ends an hour higher than the same hour a
day earlier, its floor risen too, is read like with like against how far that reading wandered
on the days before (`backpressure._same_hour_spread`). Found on data from a generator written
apart from the project's: a 10% overload from a Saturday at a site with 15% headroom was caught
after 46 hours, where its floor (the lowest backlog of a day) rose by a third of the half mark
on the first day."""

from __future__ import annotations

from ordermon.agents.logic.backpressure import Flows, fires, judge
from ordermon.agents.logic.policy import Policy
from ordermon.agents.logic.rhythm import BASE, HOURS_PER_DAY, IN, OUT, Rhythm
from ordermon.agents.logic.windows import HOUR_MS
from ordermon.streams.timefmt import parse_rfc3339_ms
from tests.unit.agents.hourly import hour_row, rhythm_of

D0_HOUR = (parse_rfc3339_ms("2026-03-02T00:00:00Z") or 0) // HOUR_MS  # a Monday
# orders an hour over the day: quiet at night, busy by day, the peak at 20-22 (12,200 a day)
CURVE = (300, 300, 150, 150, 150, 150, 400, 400, 400, 400, *([600] * 10), 1000, 1000, 700, 700)
DAY = sum(CURVE)
SHIFT = range(7, 23)  # two shifts, 07-23


def site(factors: list[float], held: list[int] | None = None) -> tuple[Rhythm, list[int]]:
    """Day d's team packs up to `factors[d]` times the day's orders over its 16 hours on
    shift, in order; `held[d]` parcels wait all day d whatever it does (picked, not scanned).
    Returns the rhythm and the backlog at the end of each hour."""
    rows, backlogs = [], []
    held = held or [0] * len(factors)
    b = 0
    for h in range(len(factors) * HOURS_PER_DAY):
        day, hour = divmod(h, HOURS_PER_DAY)
        start = b
        b += CURVE[hour]
        pace = factors[day] * DAY / len(SHIFT)
        out = max(0, min(round(pace), b - held[day])) if hour in SHIFT else 0
        b -= out
        rows.append(hour_row(0, CURVE[hour], out, b, low=min(start, b)))
        backlogs.append(b)
    return rhythm_of(rows, D0_HOUR), backlogs


def fires_at(factors: list[float], hour: int, held: list[int] | None = None) -> bool:
    """Whether dispatch backpressure fires a minute after absolute `hour` (from day 0) ends."""
    rhythm, backlogs = site(factors, held)
    rhythm.rows = rhythm.rows[: hour + 1]
    day = rhythm.rows[hour + 1 - HOURS_PER_DAY : hour + 1]
    flows = Flows(
        backlog=backlogs[hour],
        in_stall=sum(CURVE) // 48,
        out_stall=0,
        in_day=sum(r[BASE + IN] for r in day),
        out_day=sum(r[BASE + OUT] for r in day),
    )
    policy = Policy()
    at = (D0_HOUR + hour + 1) * HOUR_MS + 60_000
    j = judge(rhythm, "dispatch", flows, at, policy.queues["dispatch"], policy)
    assert not j.learned
    return fires(j, policy.queues["dispatch"])


HEADROOM = [1.15] * 5
FAULT_DAY = 5
SHIFT_HOURS = [FAULT_DAY * HOURS_PER_DAY + h for h in SHIFT]


def test_an_overload_from_day_5_fires_on_its_first_day() -> None:
    """Packing 90% of the orders from day 5 on: caught before that day's shifts end."""
    assert any(fires_at([*HEADROOM, 0.9], h) for h in SHIFT_HOURS)


def test_the_same_site_with_its_headroom_never_fires() -> None:
    for h in range(2 * HOURS_PER_DAY, 6 * HOURS_PER_DAY):
        assert not fires_at([*HEADROOM, 1.15], h), h


def test_a_reading_that_wandered_on_the_days_before_needs_more() -> None:
    """The same overload at a site whose same-hour backlog wandered by a tenth of a day from one
    day to the next (parcels held back on alternate days): the first day's growth is within that
    wander, and the floor, which rose less than half the mark, says nothing yet."""
    held = [0, 1_500, 0, 1_500, 0, 0]
    assert not any(fires_at([*HEADROOM, 0.9], h, held) for h in SHIFT_HOURS)
