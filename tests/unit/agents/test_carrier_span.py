"""Before a week is learned, the parcels with the carriers are judged over whole days in days
of the hand-overs they hold: two days in transit are two days of hand-overs, so one quiet day
of hand-overs does not make the same parcels read as a quarter of a day of growth (it paged a
healthy carrier queue on the eleventh day of the realistic suite), while carriers that leave a
share of their parcels undelivered are still seen."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ordermon.agents.logic.backpressure import Flows, fires, judge
from ordermon.agents.logic.policy import Policy
from ordermon.agents.logic.rhythm import BASE, HOURS_PER_DAY, IN, OUT, WIDTH, Rhythm
from ordermon.agents.logic.windows import HOUR_MS
from ordermon.streams.timefmt import parse_rfc3339_ms
from tests.unit.agents.hourly import hour_row, rhythm_of

D0_HOUR = (parse_rfc3339_ms("2026-03-02T00:00:00Z") or 0) // HOUR_MS
DELIVERY = 1
TRANSIT_HOURS = 2 * HOURS_PER_DAY
DAYS = 6


def carriers(per_day: list[int], delivered: float = 1.0, short_from: int = 0) -> Rhythm:
    """Hourly rows of a delivery queue (its mark: a quarter of a day of growth a day):
    `per_day[d]` parcels handed over on day d, evenly over its hours, each delivered two days
    later; from hour `short_from` on only `delivered` of what is due is delivered (the rest
    stays with the carrier)."""
    rows = []
    handed = [per_day[h // HOURS_PER_DAY] // HOURS_PER_DAY for h in range(DAYS * HOURS_PER_DAY)]
    # a site already running: the two days before the first hold the first day's hand-overs
    backlog = TRANSIT_HOURS * handed[0]
    for h, inflow in enumerate(handed):
        due = handed[h - TRANSIT_HOURS] if h >= TRANSIT_HOURS else handed[0]
        out = round(due * (delivered if h >= short_from else 1.0))
        backlog += inflow - out
        rows.append(hour_row(DELIVERY, inflow, out, backlog))
    return rhythm_of(rows, D0_HOUR)


def fires_at_end(rhythm: Rhythm) -> bool:
    """Whether delivery fires at the end of the last hour, judged at the first minute after."""
    hours = len(rhythm.rows)
    at = (D0_HOUR + hours) * HOUR_MS + 60_000
    day = rhythm.rows[-HOURS_PER_DAY:]
    base = BASE + WIDTH * DELIVERY
    flows = Flows(
        backlog=rhythm.rows[-1][base + 2],
        in_stall=sum(r[base + IN] for r in day) // 48,
        out_stall=sum(r[base + OUT] for r in day) // 48,
        in_day=sum(r[base + IN] for r in day),
        out_day=sum(r[base + OUT] for r in day),
    )
    policy = Policy()
    j = judge(rhythm, "delivery", flows, at, policy.queues["delivery"], policy)
    assert not j.learned
    return fires(j, policy.queues["delivery"])


def test_a_quiet_day_of_hand_overs_is_not_growth() -> None:
    assert not fires_at_end(carriers([9_000, 9_000, 9_000, 9_000, 9_000, 6_800]))


@settings(deadline=None, max_examples=30)
@given(st.lists(st.integers(7_200, 10_800), min_size=DAYS, max_size=DAYS))
def test_carriers_that_deliver_what_is_due_never_grow(per_day: list[int]) -> None:
    """Hand-overs varying by a fifth from day to day, every parcel delivered on time."""
    assert not fires_at_end(carriers(per_day))


def test_carriers_that_leave_parcels_undelivered_are_seen() -> None:
    short = carriers([9_000] * DAYS, delivered=0.7, short_from=4 * HOURS_PER_DAY)
    assert fires_at_end(short)
