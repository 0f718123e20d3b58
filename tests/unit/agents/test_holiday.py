"""A holiday declared in the policy (`[warehouses.<id>.calendar] holidays`) is a day nobody
works: no sustained alert starts in it, growth is not judged across it (the days after it hold
the orders of a day nobody worked, which the learned week never held, while the team works them
off), and the carriers' rounds a day or two later, thin because nothing was handed over on it,
are not a stall. Undeclared, the same day is what it looks like: the team stopped. A healthy
site of the realistic suite with one declared holiday was paged twice (dispatch growth on the
day, a carriers' "stall" two days later) and warned four times."""

from __future__ import annotations

from datetime import date

import pytest

from ordermon.agents.logic.backpressure import Flows, fires, judge
from ordermon.agents.logic.policy import Policy
from ordermon.agents.logic.rhythm import BASE, HOURS_PER_DAY, IN, OUT, WIDTH, Rhythm
from ordermon.agents.logic.schedule import DAY_MS, Calendar
from ordermon.agents.logic.windows import HOUR_MS
from ordermon.streams.timefmt import parse_rfc3339_ms
from tests.unit.agents.hourly import hour_row, rhythm_of

D0 = parse_rfc3339_ms("2026-03-02T00:00:00Z") or 0  # a Monday
D0_HOUR = D0 // HOUR_MS
HOLIDAY = 15  # day 15, a Tuesday, after two weeks learned
DAYS = 19
# orders by hour of the day (x100), the team at 15% above the mean hour around the clock
CURVE = (4, 3, 2, 2, 2, 3, 5, 8, 10, 11, 11, 12, 13, 12, 11, 11, 12, 13, 15, 18, 21, 21, 16, 10)
PACE = 1.15 * sum(CURVE) * 100 / HOURS_PER_DAY
TRANSIT_DAYS = 2


def declared(day: int = HOLIDAY) -> Policy:
    return Policy(calendar=Calendar(holidays=frozenset({D0 // DAY_MS + day})))


def site() -> tuple[Rhythm, list[list[int]]]:
    """Hourly rows of a site working around the clock, closed on `HOLIDAY`: its dispatch queue
    (orders on `CURVE`, served at `PACE` but not on the holiday) and its delivery queue (each
    parcel delivered two days after it was handed over)."""
    rows = []
    b = 0.0
    handed: list[float] = []
    in_transit = 0.0
    for h in range(DAYS * HOURS_PER_DAY):
        day, hour = divmod(h, HOURS_PER_DAY)
        inflow = CURVE[hour] * 100
        out = 0.0 if day == HOLIDAY else min(PACE, b + inflow)
        start = b
        b += inflow - out
        handed.append(out)
        due = handed[h - TRANSIT_DAYS * HOURS_PER_DAY] if h >= TRANSIT_DAYS * 24 else out
        in_transit += out - due
        row = hour_row(0, round(inflow), round(out), round(b), low=round(min(start, b)))
        delivery = BASE + WIDTH
        row[delivery : delivery + 4] = [round(out), round(due), round(in_transit + 2 * 24 * PACE)]
        row[delivery + 3] = row[delivery + 2]  # its floor: the backlog at the hour's end
        rows.append(row)
    return rhythm_of(rows, D0_HOUR), rows


def judged(queue: str, hour: int, policy: Policy, stall: bool = False) -> bool:
    """Whether `queue` fires at the end of `hour` (hours since D0), judged a minute after; with
    `stall`, its last half hour served half its normal while the inflow went on."""
    rhythm, rows = site()
    rhythm.rows = rhythm.rows[: hour + 1]
    base = BASE + WIDTH * (0 if queue == "dispatch" else 1)
    day = rows[hour + 1 - HOURS_PER_DAY : hour + 1]
    last = rows[hour]
    flows = Flows(
        backlog=last[base + 2],
        in_stall=last[base + IN] // 2,
        out_stall=last[base + OUT] // (4 if stall else 2),
        in_day=sum(r[base + IN] for r in day),
        out_day=sum(r[base + OUT] for r in day),
    )
    at = (D0_HOUR + hour + 1) * HOUR_MS + 60_000
    j = judge(rhythm, queue, flows, at, policy.queues[queue], policy)
    assert j.learned
    return fires(j, policy.queues[queue])


@pytest.mark.parametrize("hour", [10, 16, 22])
def test_no_growth_alert_on_a_declared_holiday(hour: int) -> None:
    at = HOLIDAY * HOURS_PER_DAY + hour
    assert judged("dispatch", at, Policy())  # undeclared: the team stopped, the backlog grows
    assert not judged("dispatch", at, declared())


@pytest.mark.parametrize("hour", [8, 14])
def test_no_growth_alert_the_day_after_while_the_team_works_it_off(hour: int) -> None:
    at = (HOLIDAY + 1) * HOURS_PER_DAY + hour
    assert judged("dispatch", at, Policy())
    assert not judged("dispatch", at, declared())


def test_a_holiday_a_week_ago_changes_nothing_today() -> None:
    """Judged a week later, the declaration of a holiday long past does not silence a team
    that stops today (the stall's own signal)."""
    at = (HOLIDAY + 3) * HOURS_PER_DAY + 14
    assert judged("dispatch", at, Policy(), stall=True)
    assert judged("dispatch", at, declared(HOLIDAY - 7), stall=True)


def test_the_carriers_thin_rounds_after_a_declared_holiday_are_not_a_stall() -> None:
    """Two days after the holiday the carriers deliver what was handed over on it: nothing."""
    at = (HOLIDAY + TRANSIT_DAYS) * HOURS_PER_DAY + 14
    assert judged("delivery", at, Policy(), stall=True)
    assert not judged("delivery", at, declared(), stall=True)


def test_holiday_between_is_the_local_date() -> None:
    day = date(2026, 12, 25).toordinal() - date(1970, 1, 1).toordinal()
    cal = Calendar(utc_offset_ms=8 * HOUR_MS, holidays=frozenset({day}))
    christmas_utc = day * DAY_MS
    assert cal.holiday_between(christmas_utc - 8 * HOUR_MS, christmas_utc - 7 * HOUR_MS)
    assert not cal.holiday_between(christmas_utc - 9 * HOUR_MS, christmas_utc - 8 * HOUR_MS)
    assert cal.holiday_between(christmas_utc + 15 * HOUR_MS, christmas_utc + 16 * HOUR_MS)
    assert not cal.holiday_between(christmas_utc + 16 * HOUR_MS, christmas_utc + 17 * HOUR_MS)
    assert not cal.holiday_between(christmas_utc, christmas_utc)


@pytest.mark.parametrize(("days_after", "judged_surge"), [(1, False), (3, False), (4, True)])
def test_no_surge_is_judged_while_the_upstream_echoes_a_holiday(
    monkeypatch: pytest.MonkeyPatch, days_after: int, judged_surge: bool
) -> None:
    """Complaints per delivery, refund requests per resolution: for as long as a parcel
    travels (up to three days) and the surge's window more after a declared holiday, the
    stream upstream is the holiday's echo (a refund surge of 1.8 times the day after a desk
    reopened, in the realistic suite); then surges are judged again."""
    calls: list[int] = []

    def surge(rhythm: Rhythm, queue: str, at_ms: int, policy: Policy) -> None:
        calls.append(at_ms)

    monkeypatch.setattr("ordermon.agents.logic.backpressure.judge_surge", surge)
    rhythm, _ = site()
    hour = (HOLIDAY + days_after) * HOURS_PER_DAY + 12
    rhythm.rows = rhythm.rows[: hour + 1]
    at = (D0_HOUR + hour + 1) * HOUR_MS + 60_000
    policy = declared()
    judge(rhythm, "service", Flows(0, 0, 0, 0, 0), at, policy.queues["service"], policy)
    assert bool(calls) is judged_surge
    judge(rhythm, "service", Flows(0, 0, 0, 0, 0), at, Policy().queues["service"], Policy())
    assert calls  # undeclared, always judged
