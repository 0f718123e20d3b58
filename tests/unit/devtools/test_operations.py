"""The traffic model of warehouse operations: contract, determinism, arrival order, calendars,
teams serving in order at capacity, and the faults' ground truth."""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from dataclasses import replace

import orjson
import pytest

from ordermon.devtools import realistic
from ordermon.devtools.operations import (
    DAY_MS,
    HOUR_MS,
    LAG_MAX_MS,
    MINUTE_MS,
    START_MS,
    Calendar,
    Message,
    Scenario,
    Site,
    hours,
    week,
)
from ordermon.streams.codec import decode
from ordermon.streams.events import Event
from ordermon.streams.flows import FLOWS
from ordermon.streams.validation import Rejection

SMALL = 0.05  # 125-900 orders a day: quick, and every mechanism still at work


def _messages(scenario: Scenario) -> list[Message]:
    return list(scenario.run().messages())


@pytest.fixture(scope="module")
def healthy() -> list[Message]:
    return _messages(realistic.healthy(days=9, scale=SMALL))


def _decoded(messages: list[Message]) -> list[Event]:
    out = []
    for m in messages:
        event = decode(m.topic, m.key, m.value)
        assert not isinstance(event, Rejection), (event, m)
        out.append(event)
    return out


def test_every_message_is_a_valid_contract_event_keyed_by_its_warehouse(
    healthy: list[Message],
) -> None:
    events = _decoded(healthy)
    assert {e.warehouse for e in events} == {"FRA-1", "LYS-2", "MIL-3", "WRO-4"}
    assert len({(e.topic, e.event_id) for e in events}) == len(events)
    flows = Counter(e.flow for e in events)
    for flow in FLOWS:
        assert flows[flow] > 0, flow


def test_the_same_seed_gives_the_same_bytes_and_another_seed_does_not() -> None:
    def digest(seed: int) -> str:
        h = hashlib.sha256()
        for topic, key, value in realistic.healthy(seed=seed, days=2, scale=SMALL).wire():
            h.update(topic.encode() + key + value)
        return h.hexdigest()

    assert digest(1) == digest(1)
    assert digest(1) != digest(2)


def test_arrival_order_keeps_each_topic_in_order_and_is_at_most_a_minute_late(
    healthy: list[Message],
) -> None:
    last_arrival = 0
    last_by_stream: dict[tuple[str, bytes], int] = {}
    out_of_order = 0
    newest = 0
    for m in healthy:
        assert m.arrival_ms >= last_arrival
        last_arrival = m.arrival_ms
        assert 0 <= m.arrival_ms - m.occurred_at_ms <= LAG_MAX_MS + MINUTE_MS
        assert m.occurred_at_ms >= last_by_stream.get((m.topic, m.key), 0)
        last_by_stream[m.topic, m.key] = m.occurred_at_ms
        if m.occurred_at_ms < newest:
            out_of_order += 1
            assert newest - m.occurred_at_ms <= LAG_MAX_MS + MINUTE_MS
        newest = max(newest, m.occurred_at_ms)
    assert out_of_order > 0  # across topics, arrival is not event-time order


def test_causality_and_fifo_dispatch(healthy: list[Message]) -> None:
    """placed < cancelled | dispatched < delivered | failed; each order once per status; the
    dispatch team packs in order, so parcels of one site are dispatched in order placed (up to
    the 20-minute spread of a pickup's scans)."""
    events = sorted(_decoded(healthy), key=lambda e: e.occurred_at_ms)
    seen: dict[str, dict[str, int]] = defaultdict(dict)
    for e in events:
        statuses = seen[e.order_id]
        if e.topic in ("orders", "dispatches"):
            assert e.status not in statuses, e
            statuses[e.status] = e.occurred_at_ms
        if e.status == "dispatched":
            assert "placed" in statuses and "cancelled" not in statuses, e
        if e.status == "cancelled":
            assert "placed" in statuses and "dispatched" not in statuses, e
        if e.status in ("delivered", "failed"):
            assert statuses.get("dispatched", 1 << 62) + DAY_MS <= e.occurred_at_ms
    order_of_placing = {
        oid: s["placed"] for oid, s in seen.items() if "dispatched" in s and "placed" in s
    }
    by_site: dict[str, list[int]] = defaultdict(list)
    for e in events:
        if e.status == "dispatched":
            by_site[e.warehouse].append(order_of_placing[e.order_id])
    for wh, placed in by_site.items():
        assert placed == sorted(placed), wh


def _local_minute(ms: int) -> int:
    return (ms % DAY_MS) // MINUTE_MS


def test_teams_work_only_on_duty_and_pickups_only_at_pickup_times(
    healthy: list[Message],
) -> None:
    events = _decoded(healthy)
    for e in events:
        minute = _local_minute(e.occurred_at_ms)
        weekday = ((e.occurred_at_ms - START_MS) // DAY_MS) % 7  # the start is a Monday
        if e.status == "dispatched":
            if e.warehouse in ("LYS-2", "MIL-3"):  # carrier pickups at 10, 15 and 20
                assert any(p <= minute < p + 21 for p in realistic.PICKUPS), e
            elif e.warehouse == "FRA-1":  # two shifts, closed on Sunday
                assert 7 * 60 <= minute < 23 * 60 + 1 and weekday != 6, e
        if e.status == "resolved":
            assert 9 * 60 <= minute < 21 * 60 + 1, e
        if e.status == "completed":
            assert 10 * 60 <= minute < 18 * 60 + 1 and weekday < 5, e


def test_orders_follow_the_daily_curve_and_weekends_are_busier(healthy: list[Message]) -> None:
    per_hour: Counter[int] = Counter()
    weekend = weekday = 0
    for e in _decoded(healthy):
        if e.status == "placed" and e.warehouse == "FRA-1":
            per_hour[(e.occurred_at_ms % DAY_MS) // HOUR_MS] += 1
            day = ((e.occurred_at_ms - START_MS) // DAY_MS) % 7
            if day >= 5:
                weekend += 1
            else:
                weekday += 1
    assert per_hour[21] > 3 * per_hour[4]  # evening peak, quiet night
    assert per_hour[12] > per_hour[10]  # lunch bump
    # days 0-8: 7 weekdays and 2 weekend days at x1.2
    assert 1.05 < (weekend / 2) / (weekday / 7) < 1.4


def test_a_fault_has_its_ground_truth_and_the_run_says_when_it_cleared() -> None:
    scenario = realistic.stall(days=11, scale=SMALL)
    run = scenario.run()
    assert all(t.cleared_ms is None for t in run.truths)
    for _ in run.wire():
        pass
    (truth,) = run.truths
    assert (truth.kind, truth.warehouse) == ("dispatch_backpressure", "FRA-1")
    assert truth.fault_end_ms is not None and truth.cleared_ms is not None
    assert truth.fault_end_ms <= truth.cleared_ms < truth.fault_end_ms + DAY_MS


def test_a_stall_slows_the_sites_dispatches() -> None:
    """FRA-1 packs at 20% from 11:00 to 15:00 on day 10: far fewer parcels leave in those hours
    than the day before."""

    def scans(messages: list[Message], day: int) -> int:
        start = START_MS + day * DAY_MS + 11 * HOUR_MS
        return sum(
            1
            for m in messages
            if m.key == b"FRA-1"
            and b'"dispatched"' in m.value
            and start <= m.occurred_at_ms < start + 4 * HOUR_MS
        )

    stalled = _messages(realistic.stall(days=11, scale=SMALL))
    healthy = _messages(realistic.healthy(days=11, scale=SMALL))
    assert scans(stalled, 10) < 0.4 * scans(stalled, 9)
    assert scans(healthy, 10) > 0.7 * scans(healthy, 9)


def test_complaints_surge_to_eight_percent() -> None:
    scenario = realistic.complaint_surge(days=14, scale=SMALL)
    at = scenario.truths[0].fault_start_ms
    opened: Counter[bool] = Counter()
    delivered: Counter[bool] = Counter()
    for m in scenario.run().messages():
        if m.key != b"MIL-3":
            continue
        after = m.occurred_at_ms >= at + DAY_MS
        if m.topic == "complaints" and b'"opened"' in m.value:
            opened[after] += 1
        elif m.topic == "dispatches" and b'"delivered"' in m.value:
            delivered[after] += 1
    before_share = opened[False] / delivered[False]
    after_share = opened[True] / delivered[True]
    assert 0.01 < before_share < 0.035
    assert 0.06 < after_share < 0.10


def test_a_silent_site_sends_nothing_after_it_goes_silent() -> None:
    scenario = realistic.silent(days=10, scale=SMALL)
    at = scenario.truths[0].fault_start_ms
    late = [m for m in scenario.run().messages() if m.key == b"WRO-4" and m.occurred_at_ms >= at]
    assert late == []


def test_growth_and_fixed_capacity_cross_on_the_declared_day() -> None:
    scenario = realistic.demand_growth(scale=SMALL)
    site = scenario.sites[0]
    assert site.warehouse == "FRA-1" and site.growth_per_day == 0.02
    assert site.weekly_orders(20) / 7 == pytest.approx(site.capacity_per_day())
    forecast = scenario.truths[0]
    assert forecast.kind == "forecast_overload"
    assert forecast.value == pytest.approx(site.capacity_per_day())


def test_the_desk_and_finance_cross_their_fixed_pace_on_their_own_day() -> None:
    """The desk and finance are sized from the first week's load and keep that pace: their
    tolerated backpressure starts on the day the grown load reaches it (day 20.5 at +2% a day
    and half as much again), not on the dispatch team's day 20."""
    scenario = realistic.demand_growth(scale=SMALL)
    site = scenario.sites[0]
    teams = {t.kind: t for t in scenario.truths[2:]}
    assert set(teams) == {"service_backpressure", "refund_backpressure"}
    for truth, headroom in (
        (teams["service_backpressure"], site.desk_headroom),
        (teams["refund_backpressure"], site.finance_headroom),
    ):
        day = (truth.fire_from_ms - scenario.start_ms) / DAY_MS
        assert 20 < day < 21
        assert site.weekly_orders(day) == pytest.approx(headroom * site.weekly_orders(0), rel=1e-3)
        assert not truth.required and truth.warehouse == "FRA-1"


@pytest.mark.parametrize(
    ("days", "why"),
    [
        ((((7 * 60, 15 * 60),),) * 6, "7 weekdays"),
        ((((7 * 60, 15 * 60), (14 * 60, 20 * 60)),) * 7, "overlapping"),
        ((((7 * 60, 25 * 60),),) * 7, "within one day"),
    ],
)
def test_a_bad_calendar_is_refused_with_a_reason(
    days: tuple[tuple[tuple[int, int], ...], ...], why: str
) -> None:
    with pytest.raises(ValueError, match=why):
        Calendar(days)


def test_week_builds_calendars_and_names_a_bad_weekday() -> None:
    cal = Calendar(week(hours((7, 15)), closed=(6,), sat=hours((8, 12))))
    assert cal.days[0] == ((420, 900),) and cal.days[5] == ((480, 720),) and cal.days[6] == ()
    assert cal.minutes_per_week() == 5 * 480 + 240
    with pytest.raises(ValueError, match="unknown weekday 'sunday'"):
        week(hours((7, 15)), sunday=())


def test_a_site_closed_on_a_holiday_dispatches_nothing_that_day() -> None:
    site = Site("H-1", 2_000, dispatch=Calendar(week(hours((7, 23))), holidays=(2,)))
    scenario = Scenario("holiday", "", (site,), 4)
    day2 = (START_MS + 2 * DAY_MS, START_MS + 3 * DAY_MS)
    dispatched = [
        m
        for m in scenario.run().messages()
        if m.topic == "dispatches"
        and b'"dispatched"' in m.value
        and day2[0] <= m.occurred_at_ms < day2[1]
    ]
    assert dispatched == []


def test_values_are_compact_json_objects_with_the_contract_fields() -> None:
    first = next(iter(realistic.healthy(days=1, scale=SMALL).wire()))
    topic, key, value = first
    obj = orjson.loads(value)
    assert topic == "orders" and obj["warehouse"] == key.decode()
    assert set(obj) >= {"event_id", "status", "order_id", "warehouse", "occurred_at"}
    assert replace(realistic.fleet()[0], orders_per_day=1).orders_per_day == 1


def test_a_team_with_a_backlog_works_at_its_capacity(healthy: list[Message]) -> None:
    """Monday morning at FRA-1 (closed on Sunday): the backlog keeps the team busy, so it
    dispatches what its capacity allows, no more and not much less."""
    site = realistic.fleet(SMALL)[0]
    per_hour = site.capacity_per_working_day() / 16  # two shifts, 07-23
    start = START_MS + 7 * DAY_MS + 8 * HOUR_MS  # second Monday, 08:00-11:00
    sent = sum(
        1
        for m in healthy
        if m.key == b"FRA-1"
        and b'"dispatched"' in m.value
        and start <= m.occurred_at_ms < start + 3 * HOUR_MS
    )
    assert 0.85 * 3 * per_hour < sent < 1.15 * 3 * per_hour


def test_at_a_pickup_site_an_overload_clears_when_the_pickup_takes_the_parcels() -> None:
    """LYS-2 (pickups 10:00, 15:00, 20:00) catches up after its overload; the backlog the
    monitor sees clears only when the next pickup's scans are done."""
    run = realistic.dispatch_overload(days=13, scale=SMALL).run()
    for _ in run.wire():
        pass
    (truth,) = run.truths
    assert truth.cleared_ms is not None and truth.fault_end_ms is not None
    assert truth.cleared_ms > truth.fault_end_ms
    minute = _local_minute(truth.cleared_ms)
    assert minute in {p + 20 for p in realistic.PICKUPS}


def test_a_warm_start_sends_parcels_already_in_flight_but_nothing_before_the_start() -> None:
    cold = realistic.healthy(days=1, scale=SMALL)
    warm = replace(cold, warmup_days=3)
    cold_flows = Counter(orjson.loads(m.value)["status"] for m in cold.run().messages())
    warm_messages = list(warm.run().messages())
    warm_flows = Counter(orjson.loads(m.value)["status"] for m in warm_messages)
    assert min(m.occurred_at_ms for m in warm_messages) >= START_MS
    assert cold_flows["delivered"] == 0 < warm_flows["delivered"]  # carriers take 1-3 days
    assert warm_flows["resolved"] > 0


def test_a_burst_is_exactly_n_messages_of_every_flow_in_about_half_an_hour() -> None:
    whs = ["A-1", "B-2", "C-3"]
    messages = realistic.burst(3000, whs, seed=3)
    assert len(messages) == 3000
    assert {m.key.decode() for m in messages} == set(whs)
    flows = {(m.topic, orjson.loads(m.value)["status"]) for m in messages}
    assert len(flows) == 9  # all four topics, every status
    span = max(m.occurred_at_ms for m in messages) - min(m.occurred_at_ms for m in messages)
    assert 15 * MINUTE_MS < span < 60 * MINUTE_MS
    assert min(m.occurred_at_ms for m in messages) >= realistic.BURST_START_MS
    with pytest.raises(ValueError, match="at least one warehouse"):
        realistic.burst(10, [])


def test_a_bad_order_curve_or_malformed_share_is_refused() -> None:
    with pytest.raises(ValueError, match="24 non-negative hourly weights"):
        Site("X-1", 100, curve=(1.0,) * 23)
    with pytest.raises(ValueError, match="malformed_share"):
        Scenario("s", "s", (Site("X-1", 100),), 1, malformed_share=1.0)


def test_late_parcels_bring_late_complaints() -> None:
    """A site that cannot keep up (capacity at half the orders): parcels wait for days, and with
    `late_complaints` the customers complain about late deliveries far more than the base 2%."""
    base = Site("X-1", 2000, dispatch_per_day=1000, day_noise=0, block_noise=0)
    counts = {}
    for late in (0.0, 0.012):
        sc = Scenario("late", "late", (replace(base, late_complaints=late),), 8)
        events = _decoded(_messages(sc))
        delivered = sum(1 for e in events if e.flow == "dispatches_delivered")
        late_opened = sum(
            1 for e in events if e.flow == "complaints_opened" and e.reason == "late_delivery"
        )
        counts[late] = late_opened / max(1, delivered)
    assert counts[0.0] < 0.02 < 0.1 < counts[0.012]
