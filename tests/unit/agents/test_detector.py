"""The detector through flow counting: a synthetic shift site day by day (its rhythm learned,
nights and Sundays silent, a stall and an overload caught), the forecast, the network rules,
state round trips, and properties (chunking and restarts do not matter)."""

from __future__ import annotations

import itertools
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ordermon.agents.engine import Engine
from ordermon.agents.logic.alerts import Episode
from ordermon.agents.logic.backpressure import Flows, counting_noise, judge
from ordermon.agents.logic.detector import (
    DetectorState,
    NetworkState,
    evaluate_minute,
    evaluate_network,
    firing,
    forecast_observation,
)
from ordermon.agents.logic.flow import FLOW_INDEX, Bucket, FlowConfig, WarehouseState, expire
from ordermon.agents.logic.policy import Policy
from ordermon.agents.logic.rhythm import Rhythm, at_least
from ordermon.agents.logic.trend import DAY_MS, MINUTES_PER_DAY, Day
from ordermon.streams.events import ComplaintEvent, DispatchEvent, Event, OrderEvent, RefundEvent
from ordermon.streams.outputs import Alert
from ordermon.streams.timefmt import format_rfc3339_ms, parse_rfc3339_ms
from tests.unit.agents.offline import feed, replay

M = 60_000
T0 = parse_rfc3339_ms("2026-11-22T08:00:00Z") or 0

# Rates over 5 minutes and no lateness keep the arithmetic of the tables small.
FLOW = FlowConfig(horizon_ms=5 * M, lateness_ms=0)
POLICY = Policy.from_mapping(
    {
        "for_ms": "5m",
        "clear_hold_ms": "3m",
        "renotify_ms": "30m",
        "queues": {
            "dispatch": {
                "min_backlog": 20,
                "drained_backlog": 10,
                "sla_hours": 0.5,
                "critical_margin_hours": 0.25,
            },
            "service": {
                "min_backlog": 20,
                "drained_backlog": 10,
                "sla_hours": 2,
                "critical_margin_hours": 0.25,
                "warmup_ms": 0,  # the tables start with a working service team
            },
        },
    }
)

# ---- event factories --------------------------------------------------------------------------

_serial = itertools.count()


def make_event(flow: str, warehouse: str, at_ms: int) -> Event:
    """One valid contract event of `flow` (e.g. "orders_placed") at event time `at_ms`."""
    topic, status = flow.split("_", 1)
    n = next(_serial)
    ids = {
        "event_id": f"e{n}",
        "order_id": f"o{n}",
        "warehouse": warehouse,
        "occurred_at_ms": at_ms,
    }
    if topic == "orders":
        return OrderEvent(status=status, **ids)  # type: ignore[arg-type]
    if topic == "dispatches":
        return DispatchEvent(status=status, **ids)  # type: ignore[arg-type]
    if topic == "complaints":
        return ComplaintEvent(status=status, complaint_id=f"c{n}", **ids)  # type: ignore[arg-type]
    return RefundEvent(status=status, refund_id=f"r{n}", amount=10.0, **ids)  # type: ignore[arg-type]


def minute_events(warehouse: str, minute: int, counts: Mapping[str, int]) -> list[Event]:
    """counts[flow] events spread over minute `minute` after T0, in time order."""
    start = T0 + minute * M
    out = [
        make_event(flow, warehouse, start + (2 * j + 1) * M // (2 * n))
        for flow, n in counts.items()
        for j in range(n)
    ]
    return sorted(out, key=lambda e: e.occurred_at_ms)


def scenario(
    segments: Sequence[tuple[int, Mapping[str, int]]], warehouse: str = "BJ-01", first: int = 0
) -> list[Event]:
    """Segments of (minutes, counts per minute), then one more minute with an event on every
    topic used, so that the watermark passes the last minute of the segments."""
    out: list[Event] = []
    minute = first
    for length, counts in segments:
        for _ in range(length):
            out += minute_events(warehouse, minute, counts)
            minute += 1
    flows = {f: 1 for _, counts in segments for f, n in counts.items() if n}
    out += minute_events(warehouse, minute, flows)
    return out


def orders(o: int, d: int, **more: int) -> dict[str, int]:
    """Per-minute counts: o orders, d parcels dispatched (and delivered, so the delivery queue
    stays balanced), plus any other flows."""
    return {"orders_placed": o, "dispatches_dispatched": d, "dispatches_delivered": d, **more}


def hhmm(ms: int) -> str:
    return format_rfc3339_ms(ms)[11:16]


def transitions(alerts: Iterable[Alert]) -> list[tuple[str, str, str, str]]:
    return [(hhmm(a.updated_at_ms), a.kind, a.state, a.severity) for a in alerts]


# ---- a synthetic shift site -------------------------------------------------------------------

DISPATCH = "dispatch_backpressure"
SERVICE = "service_backpressure"
SITE_FLOW = FlowConfig()  # the defaults of a deployment: 15-minute horizon, a day of minutes
MONDAY = parse_rfc3339_ms("2026-03-02T00:00:00Z") or 0
DAY_MIN = 24 * 60


def order_rate(minute: int) -> int:
    """Orders a minute: 2 at night (00-07), 4 by day, 6 in the evening peak (19-22)."""
    hour = minute % DAY_MIN // 60
    return 2 if hour < 7 else 6 if 19 <= hour < 22 else 4


def run_site(
    days: int,
    capacity: Callable[[int], int],
    *,
    closed_sundays: bool = False,
) -> tuple[list[Alert], DetectorState]:
    """Drive evaluate_minute over `days` of a site whose team works 07:00-23:00 and dispatches
    in order, at most `capacity(minute)` parcels a minute; every parcel dispatched is delivered
    the same minute (the delivery queue stays balanced). Counts go straight into the minute
    buckets, as flow counting would leave them."""
    state, det = WarehouseState("W1"), DetectorState()
    policy = Policy()
    backlog = 0
    alerts: list[Alert] = []
    for minute in range(days * DAY_MIN):
        hour = minute % DAY_MIN // 60
        sunday = minute // DAY_MIN % 7 == 6
        working = 7 <= hour < 23 and not (closed_sundays and sunday)
        placed = order_rate(minute)
        sent = min(backlog + placed, capacity(minute)) if working else 0
        backlog += placed - sent
        counts = [0] * len(FLOW_INDEX)
        counts[FLOW_INDEX["orders_placed"]] = placed
        counts[FLOW_INDEX["dispatches_dispatched"]] = sent
        counts[FLOW_INDEX["dispatches_delivered"]] = sent
        start = MONDAY + minute * M
        state.minutes[start] = Bucket(counts=counts)
        state.totals = [t + c for t, c in zip(state.totals, counts, strict=True)]
        state.newest_by_topic = {"orders": start, "dispatches": start}
        state.closed_through_ms = start
        alerts += evaluate_minute(det, state, SITE_FLOW, start + M, policy)
        if minute % 60 == 0:
            expire(state, SITE_FLOW)
    return alerts, det


def normal_capacity(minute: int) -> int:
    return 6  # 16 h x 6 = 96 parcels an hour of shift against 92 orders a day-hour: it keeps up


def day_of(ms: int) -> float:
    return (ms - MONDAY) / DAY_MS


def test_a_healthy_shift_site_pages_nobody() -> None:
    """Orders around the clock, a team 07:00-23:00 that keeps up: the backlog builds every
    night and is gone by noon. Judged against its own rhythm, over whole days: no alert."""
    alerts, det = run_site(10, normal_capacity)
    assert alerts == []
    assert det.rhythm.since[0] is not None  # the dispatch queue's week is learned


def test_a_closed_sunday_pages_nobody() -> None:
    alerts, _ = run_site(16, lambda minute: 9, closed_sundays=True)  # 6 days of 16 h carry 7
    assert [a for a in alerts if a.kind != "forecast_overload"] == []


def test_a_stall_in_working_hours_fires_within_the_hour() -> None:
    """Day 9 (a Wednesday) from 11:00 the team dispatches 1 parcel a minute instead of up to 6:
    outflow far below this hour's normal while orders go on."""
    stall_from = 9 * DAY_MIN + 11 * 60

    def capacity(minute: int) -> int:
        return 1 if stall_from <= minute < stall_from + 3 * 60 else 6

    alerts, _ = run_site(10, capacity)
    fired = [a for a in alerts if a.kind == DISPATCH and a.state == "firing"]
    assert fired
    first = fired[0]
    assert first.signals["reason"] == "stall"
    minutes_after = (first.updated_at_ms - (MONDAY + stall_from * M)) / M
    assert 0 < minutes_after <= 60
    assert {a.kind for a in alerts} <= {DISPATCH}
    # rates per hour, as in the view and the README (the status keeps per minute)
    assert re.match(r"W1: orders [\d,.]+/h, dispatch [\d,.]+/h \(", first.summary), first.summary
    assert "/min" not in first.summary


def test_a_sustained_overload_fires_within_a_day_and_holds_while_it_grows() -> None:
    """From day 9 07:00 the team can do 4 a minute (64 an hour of shift, against 92 orders a
    day-hour): the backlog is higher every morning than the last."""
    start = 9 * DAY_MIN + 7 * 60

    def capacity(minute: int) -> int:
        return 4 if minute >= start else 6

    alerts, _ = run_site(12, capacity)
    dispatch = [a for a in alerts if a.kind == DISPATCH]
    assert dispatch and dispatch[0].state == "firing"
    assert day_of(dispatch[0].updated_at_ms) - 9 - 7 / 24 <= 1.0
    assert all(a.state == "firing" for a in dispatch)  # never resolved while it grows
    assert len({a.alert_id for a in dispatch}) == 1
    # parcels wait hours, not yet the day of the SLA: a warning, no page yet
    assert dispatch[0].severity == "warning"
    hours = dispatch[-1].signals["hours_to_clear"]
    assert isinstance(hours, float) and hours < 24


def test_detector_state_round_trips_exactly_and_stays_compact() -> None:
    _, det = run_site(9, normal_capacity)
    wire = json.dumps(det.to_json())
    again = DetectorState.from_json(json.loads(wire))
    assert again == det
    assert again.to_json() == det.to_json()
    # hourly rollups of 4 weeks at most, not minutes: well under 100 kB for a site
    assert len(wire) < 100_000
    assert len(det.rhythm.rows) <= 4 * 168
    with pytest.raises(ValueError, match="version"):
        DetectorState.from_json({**det.to_json(), "v": 99})


def test_minutes_already_evaluated_are_skipped() -> None:
    state = WarehouseState("BJ-01")
    det = DetectorState()
    evaluate_minute(det, state, FLOW, T0 + M, POLICY)
    before = det.to_json()
    assert evaluate_minute(det, state, FLOW, T0 + M, POLICY) == []
    assert evaluate_minute(det, state, FLOW, T0, POLICY) == []
    assert det.to_json() == before


# ---- forecast ---------------------------------------------------------------------------------

D0 = parse_rfc3339_ms("2026-11-01T00:00:00Z") or 0


@pytest.mark.parametrize(
    ("mapping", "dispatched", "backlog_end", "source"),
    [
        # a configured capacity of 3,000 parcels a day
        ({"warehouses": {"BJ-01": {"dispatch_capacity_per_day": 3000}}}, 1000, 0, "configured"),
        # observed: 3,000 a day dispatched while the backlog grew every day (by 400 each day)
        ({}, 3000, -1, "observed"),
    ],
)
def test_forecast_fires_when_the_trend_crosses_capacity_within_the_lookahead(
    mapping: dict[str, object], dispatched: int, backlog_end: int, source: str
) -> None:
    policy = Policy.from_mapping({"for_ms": "5m", **mapping})
    det = DetectorState()
    # 14 complete days of orders growing 5 % a day from 1,000: 1000 * 1.05**t reaches 3,000 at
    # t = ln 3 / ln 1.05 = 22.5 days after day 0 began, about 8.5 days after day 14 begins.
    det.daily.days = [
        Day(
            D0 + i * DAY_MS,
            round(1000 * 1.05**i),
            dispatched,
            MINUTES_PER_DAY,
            500 + 400 * i if backlog_end < 0 else backlog_end,
        )
        for i in range(14)
    ]
    state = WarehouseState("BJ-01")
    out: list[Alert] = []
    for minute in range(1, 8):
        out += evaluate_minute(det, state, FLOW, D0 + 14 * DAY_MS + minute * M, policy)
    assert transitions(out) == [("00:06", "forecast_overload", "firing", "warning")]
    signals = out[0].signals
    assert signals["capacity_source"] == source
    assert signals["capacity_per_day"] == 3000
    # no noise: the cautious growth is the fitted one
    assert signals["days_to_cross"] == pytest.approx(22.52 - 14, abs=0.05)
    # day 0 + 22.5 days: 23 November at noon
    assert str(signals["crosses_at"]).startswith("2026-11-2")
    assert "will pass the " + source + " dispatch capacity of 3,000/day in " in out[0].summary


def test_forecast_without_capacity_or_days_stays_quiet() -> None:
    det = DetectorState()
    det.daily.days = [Day(D0 + i * DAY_MS, 1000 * 2**i, 500, MINUTES_PER_DAY, 0) for i in range(14)]
    # no configured capacity, and no day ended with a backlog: nothing is known about capacity
    obs = forecast_observation("BJ-01", det, D0 + 14 * DAY_MS, Policy())
    assert not obs.active and obs.clear and "no dispatch capacity known" in obs.summary
    # counting demand-limited days as capacity, orders are "already above" what was dispatched,
    # but the backlog does not grow day over day: that was demand, not capacity; no alert
    loose = Policy.from_mapping({"capacity_requires_backlog": False})
    obs = forecast_observation("BJ-01", det, D0 + 14 * DAY_MS, loose)
    assert not obs.active and "backlog is not growing" in obs.summary


# ---- the network ------------------------------------------------------------------------------


def det_firing(warehouse: str, *kinds: str, severity: str = "critical") -> DetectorState:
    det = DetectorState(warehouse=warehouse)
    for kind in kinds:
        det.episodes[kind] = Episode(
            kind,
            warehouse,
            "firing",
            since_ms=T0,
            updated_ms=T0,
            severity=severity,  # type: ignore[arg-type]
        )
    return det


def test_network_cascade_table() -> None:
    net = NetworkState()
    policy = Policy()
    names = ["A", "B", "C", "D", "E"]
    # (minute, warehouses in backpressure, warehouses with traffic, expected transition)
    rows: list[tuple[int, set[str], list[str], tuple[str, str] | None]] = [
        (0, {"A", "B"}, names[:4], None),  # 2 of 4: half, but fewer than 3 warehouses
        (1, {"A", "B", "C"}, names[:4], ("firing", "critical")),  # 3 of 4 = 75 %: critical
        (2, {"A", "B", "C"}, names, ("firing", "warning")),  # 3 of 5 = 60 % < 62.5 %: warning
        (3, {"A", "B", "C"}, names, None),  # no change
        (4, {"A", "B"}, names, ("resolved", "warning")),  # 2 of 5: over
    ]
    for minute, hit, present, expected in rows:
        at = T0 + minute * M
        inputs = {w: (det_firing(w, *([DISPATCH] if w in hit else [])), at - M) for w in present}
        out = [a for a in evaluate_network(net, inputs, at, policy) if a.kind == "cascade"]
        got = (out[0].state, out[0].severity) if out else None
        assert got == expected, f"minute {minute}"
        assert all(a.warehouse == "*" for a in out)


def test_a_network_cascade_is_made_of_pages_only() -> None:
    """Warnings do not page on their own, so three warehouses with warnings are no cascade."""
    net = NetworkState()
    names = ["A", "B", "C", "D"]
    inputs = {w: (det_firing(w, DISPATCH, severity="warning"), T0) for w in names}
    assert evaluate_network(net, inputs, T0 + M, Policy()) == []
    det = det_firing("A", DISPATCH, SERVICE, severity="warning")
    assert firing(det) != [] and in_cascade(det) is False


def in_cascade(det: DetectorState) -> bool:
    from ordermon.agents.logic.detector import cascade_observation
    from ordermon.agents.logic.flow import snapshot

    snap = snapshot(WarehouseState("A"), FLOW, T0)
    return cascade_observation("A", det, snap, Policy()).active


def test_warehouse_silent_table() -> None:
    net = NetworkState()
    policy = Policy()  # silent after 30 min, critical after 2 h
    # (minute, newest event minute of A, B and C (None: no traffic), expected transitions of A)
    rows: list[tuple[int, dict[str, int | None], list[tuple[str, str]]]] = [
        (0, {"A": 0, "B": 0, "C": None}, []),  # everyone current; C never sent anything
        (30, {"A": 0, "B": 29, "C": None}, []),  # A lags exactly 30 min: not more than it
        (31, {"A": 0, "B": 30, "C": None}, [("firing", "warning")]),  # 31 min while B sends
        (121, {"A": 0, "B": 120, "C": None}, [("firing", "critical")]),  # more than 2 h
        (122, {"A": 122, "B": 121, "C": None}, [("resolved", "critical")]),  # A is back
        (200, {"A": 122, "B": 122, "C": None}, []),  # all quiet: nobody moves on, no alert
    ]
    for minute, newest, expected in rows:
        at = T0 + minute * M
        inputs = {
            w: (DetectorState(), None if n is None else T0 + n * M) for w, n in newest.items()
        }
        out = evaluate_network(net, inputs, at, policy)
        assert all(a.kind == "warehouse_silent" and a.warehouse == "A" for a in out), out
        assert [(a.state, a.severity) for a in out] == expected, f"minute {minute}"
    # a warehouse no longer handed in (moved to another worker) leaves no episode behind
    evaluate_network(net, {"A": (DetectorState(), T0)}, T0 + 300 * M, policy)
    evaluate_network(net, {"B": (DetectorState(), T0 + 300 * M)}, T0 + 301 * M, policy)
    assert all(e.warehouse != "A" for e in net.episodes.values())


def test_network_state_round_trips() -> None:
    net = NetworkState()
    inputs = {"A": (DetectorState(), T0), "B": (DetectorState(), T0 + 60 * M)}
    assert evaluate_network(net, inputs, T0 + 60 * M, Policy())
    again = NetworkState.from_json(json.loads(json.dumps(net.to_json())))
    assert again == net
    assert [a.to_wire() for a in firing(again)] == [a.to_wire() for a in firing(net)]


# ---- properties -------------------------------------------------------------------------------


def check_alternation(alerts: Iterable[Alert]) -> dict[tuple[str, str], int]:
    """Per (kind, warehouse): fired, then firing repeats or changes, then resolved; a new
    episode gets an id never seen before. Returns the number of episodes of each."""
    open_ids: dict[tuple[str, str], str | None] = defaultdict(lambda: None)
    episodes: dict[tuple[str, str], int] = defaultdict(int)
    seen: set[str] = set()
    for a in alerts:
        key = (a.kind, a.warehouse)
        if open_ids[key] is None:
            assert a.state == "firing", f"{a.alert_id} resolved without a fire"
            assert a.alert_id not in seen, f"{a.alert_id} reused"
            seen.add(a.alert_id)
            open_ids[key] = a.alert_id
            episodes[key] += 1
        else:
            assert a.alert_id == open_ids[key], "a second fire within one episode"
            if a.state == "resolved":
                open_ids[key] = None
    return episodes


segment = st.tuples(
    st.integers(1, 25),  # minutes
    st.fixed_dictionaries(
        {
            "orders_placed": st.integers(0, 12),
            "orders_cancelled": st.integers(0, 2),
            "dispatches_dispatched": st.integers(0, 10),
            "dispatches_delivered": st.integers(0, 10),
            "complaints_opened": st.integers(0, 6),
            "complaints_resolved": st.integers(0, 4),
        }
    ),
)
traffic = st.lists(segment, min_size=1, max_size=8)


def interleave(*streams: list[Event]) -> list[Event]:
    return sorted(itertools.chain(*streams), key=lambda e: e.occurred_at_ms)


def per_warehouse(alerts: Iterable[Alert]) -> dict[str, list[dict[str, object]]]:
    """The alerts evaluate_minute made, per warehouse, in order (network ones left out: they
    are evaluated once per batch, so their timing depends on the batches by design)."""
    out: dict[str, list[dict[str, object]]] = defaultdict(list)
    for a in alerts:
        if a.warehouse != "*" and a.kind != "warehouse_silent":
            out[a.warehouse].append(a.to_wire())
    return dict(out)


@given(traffic, traffic, st.lists(st.integers(1, 400), min_size=1, max_size=30))
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_chunking_gives_the_same_alerts(
    a: list[tuple[int, dict[str, int]]], b: list[tuple[int, dict[str, int]]], cuts: list[int]
) -> None:
    events = interleave(scenario(a, "BJ-01"), scenario(b, "SH-02", first=3))
    whole = replay(events, FLOW, POLICY)
    check_alternation(whole)

    # The same events in batches of the sizes in `cuts` (cycled), with the detector and network
    # states written to JSON and read back between batches, as a restarted worker would.
    # A batch also ends after each warehouse's first event: a warehouse's first close_minutes
    # starts at its watermark, so minutes inside its first batch are never evaluated (a rule of
    # ordermon.agents.logic.flow, not of the detector).
    firsts = {w: i for i, e in reversed(list(enumerate(events))) if (w := e.warehouse)}
    ends = set(itertools.accumulate(itertools.islice(itertools.cycle(cuts), len(events))))
    ends |= {i + 1 for i in firsts.values()}
    engine = Engine.offline(FLOW, POLICY)
    chunked: list[Alert] = []
    start = 0
    for end in [*sorted(e for e in ends if e < len(events)), len(events)]:
        chunked += feed(engine, events[start:end])
        start = end
        engine.detectors = {
            w: DetectorState.from_json(json.loads(json.dumps(d.to_json())))
            for w, d in engine.detectors.items()
        }
        engine.network = NetworkState.from_json(json.loads(json.dumps(engine.network.to_json())))
    check_alternation(chunked)
    assert per_warehouse(chunked) == per_warehouse(whole)


def _day_site(days: int, start_ms: int) -> DetectorState:
    """A site whose flows come 08:00-20:00 only (20 a minute), learned from `days` days."""
    det = DetectorState()
    for minute in range(days * 24 * 60):
        end = start_ms + (minute + 1) * M
        busy = 8 <= (end - M) // (60 * M) % 24 < 20
        det.rhythm.fold(end, [(20, 20, 5) if busy else (0, 0, 0)] + [(0, 0, 0)] * 3, 0, 10_000)
    return det


@pytest.mark.parametrize("history_days", [2, 8])  # before a week: the previous days' hours
def test_warehouse_silent_not_at_hours_the_site_is_normally_quiet(history_days: int) -> None:
    """Silent 40 minutes at night (normally no flow then): no alert; silent 40 minutes at 14:00
    (normally 800 arrivals then: the orders, not their dispatch): silent, with what it sends
    then at the least in the summary."""
    start = T0 - T0 % (24 * 60 * M) - history_days * 24 * 60 * M  # midnight, days before
    det = _day_site(history_days, start)
    day = start + history_days * 24 * 60 * M
    policy = Policy()
    for quiet_from, fires in ((2 * 60, False), (14 * 60, True)):
        net = NetworkState()
        since = day + quiet_from * M
        at = since + 40 * M
        inputs = {"A": (det, since), "B": (DetectorState(), at)}
        out = evaluate_network(net, inputs, at, policy)
        assert [a.kind for a in out] == (["warehouse_silent"] if fires else []), quiet_from
        if fires:
            # 1,200 orders an hour on each of the days (and the week) before, 40 minutes of it:
            # what those counts show at the least (a Poisson bound on their sum)
            n = min(history_days, 6) + (history_days >= 7)  # the days, and the week
            expected = at_least(1200 * n) / n * 40 / 60
            assert f"normally sends about {expected:,.0f} in that time" in out[0].summary
            assert out[0].signals["expected_events"] == round(expected, 1)
            assert 750 < expected < 800  # the orders (1,200/h), not their dispatch


def test_replay_reports_a_warehouse_that_goes_quiet() -> None:
    busy = scenario([(60, orders(10, 10))], "BJ-01")  # sends 08:00-09:00
    quiet = scenario([(10, orders(10, 10))], "SH-02")  # last event 08:10:30 (its final minute)
    alerts = replay(interleave(busy, quiet), FLOW, POLICY)
    # The network is evaluated whenever the newest closed minute moves on, at that minute's end
    # (as the warehouse alerts are): BJ-01 closes 08:40 at 08:41. SH-02's last event, 08:10:30,
    # is then more than 30 min old.
    assert transitions(alerts) == [("08:41", "warehouse_silent", "firing", "warning")]
    assert alerts[0].warehouse == "SH-02"
    assert alerts[0].updated_at_ms == T0 + 41 * M
    # the network reads each warehouse's newest event at minute precision (its last minute with
    # data before the minute evaluated: agents.engine.NetworkInputs)
    assert alerts[0].signals["last_event_at"] == "2026-11-22T08:10:00Z"


def test_logic_imports_no_io_or_framework() -> None:
    import ast
    from pathlib import Path

    from ordermon.agents import logic

    allowed = {"__future__", "collections", "dataclasses", "typing", "math", "re", "agents"}
    allowed |= {"streams", "json", "tomllib", "pathlib"}  # the last three: Policy.from_file
    allowed |= {"bisect", "statistics", "datetime", "itertools", "functools", "array"}
    folder = Path(logic.__file__).parent

    def root(module: str) -> str:  # ordermon.agents.x -> agents; ordermon.config -> config
        return module.removeprefix("ordermon.").split(".")[0]

    names = ("policy", "alerts", "detector", "trend", "rhythm", "backpressure")
    for name in (*names, "schedule", "errors"):
        tree = ast.parse((folder / f"{name}.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = {root(a.name) for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                roots = {root(node.module or "")}
            else:
                continue
            assert roots <= allowed, f"{name}.py imports {roots - allowed}"


@pytest.mark.parametrize(
    ("first", "second", "per_day", "noise"),
    [
        (300, 300, 250, 3 * 600**0.5 / 250),  # a small site: 0.29 days, above fire_growth
        (3000, 3000, 2500, 3 * 6000**0.5 / 2500),  # ten times the size: 0.09 days
        (0, 0, 250, 0.0),
        (300, 300, 0, 0.0),  # no inflow: no scale to judge it in
    ],
)
def test_growth_is_judged_against_its_counting_noise(
    first: float, second: float, per_day: float, noise: float
) -> None:
    assert counting_noise(per_day, first, second) == pytest.approx(noise)


def _steady(rhythm: Rhythm, start: int, minutes: int, per_minute: Callable[[int], int]) -> None:
    for m in range(minutes):
        n = per_minute(m)
        rhythm.fold(start + (m + 1) * M, [(n, n, 0)] + [(0, 0, 0)] * 3, 0, 10_000)


@pytest.mark.parametrize(("others_fall_quiet", "fires"), [(False, True), (True, False)])
def test_a_site_quiet_on_its_first_day_is_silent_only_if_the_others_kept_their_pace(
    others_fall_quiet: bool, fires: bool
) -> None:
    """A has sent 2 orders a minute for two hours, then nothing for 40 minutes (no day of
    history: its normal at this hour is unknown). B kept its pace: A is silent. B's pace fell
    to a tenth as well (the night falls on every site): A is not called silent."""
    start = T0 - T0 % (60 * M)
    a, b = DetectorState(), DetectorState()
    _steady(a.rhythm, start, 120, lambda m: 2)
    quiet = 120 if others_fall_quiet else 10_000
    _steady(b.rhythm, start, 160, lambda m: 2 if m < quiet else int(m % 5 == 0))
    at = start + 160 * M
    out = evaluate_network(NetworkState(), {"A": (a, start + 120 * M), "B": (b, at)}, at, Policy())
    assert [a.kind for a in out] == (["warehouse_silent"] if fires else [])


@pytest.mark.parametrize(
    ("in_day", "out_day", "judged"),
    [
        (1440, 1440, True),  # a typical day
        (5760, 2160, True),  # a surge of arrivals at a desk working at its pace: judged
        (1440, 2880, True),  # a team working harder than usual
        (1440, 0, False),  # a closed day: no rhythm to tell it from a stall before a week
        (1440, 720, False),  # a short day (half a shift)
        (480, 480, False),  # a day with a third of the arrivals (a closed sender)
    ],
)
def test_before_a_week_a_day_is_judged_when_its_team_did_a_typical_day_s_work(
    in_day: int, out_day: int, judged: bool
) -> None:
    """Four whole days of one item a minute in and out; the last 24 hours as given. A surge of
    arrivals (four times the typical day, the team serving all it can) is judged by day, where
    before it was taken for a different kind of day and left to wait for a learned week."""
    start = T0 - T0 % DAY_MS
    rhythm = Rhythm()
    _steady(rhythm, start, 4 * MINUTES_PER_DAY, lambda m: 1)
    at = start + 4 * DAY_MS + M
    policy = Policy()
    flows = Flows(0, 30, 30, in_day, out_day)
    j = judge(rhythm, "dispatch", flows, at, policy.queues["dispatch"], policy)
    assert not j.learned
    assert j.judged is judged
