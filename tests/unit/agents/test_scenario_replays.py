"""The detector on the simulator's scenarios, replayed offline through the worker's engine
(agents.engine, in batches as the worker takes them): the 2008 story is caught early, benign
traffic pages nobody."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import pytest

from ordermon.agents.logic.flow import FlowConfig
from ordermon.agents.logic.policy import Policy
from ordermon.agents.logic.trend import DAY_MS
from ordermon.devtools.catalogue import events
from ordermon.devtools.malformed import Malformed
from ordermon.devtools.operations import Scenario
from ordermon.devtools.scenarios import JD2008_CROSSING_DAY, build, stall
from ordermon.streams.events import Event
from ordermon.streams.outputs import Alert
from tests.unit.agents.offline import replay as replay_events

FLOW = FlowConfig()  # the defaults of a deployment
POLICY = Policy()


def events_of(scenario: Scenario) -> Iterable[Event]:
    return (e for e in events(scenario) if not isinstance(e, Malformed))


def replay(scenario: Scenario, batch: int = 500) -> list[Alert]:
    """Feed the events in batches, the way the worker takes them from Kafka."""
    return replay_events(events_of(scenario), FLOW, POLICY, batch)


@pytest.mark.parametrize(
    "name",
    ["steady", "flash_sale", "night_lull", "noisy_steady"],
)
def test_benign_traffic_raises_no_critical_alert(name: str) -> None:
    alerts = replay(build(name))
    assert [a for a in alerts if a.severity == "critical"] == []
    print(f"{name}: {len(alerts)} alert messages")


def test_a_weekend_dip_raises_no_critical_alert() -> None:
    alerts = replay(build("weekend_dip"))
    assert [a for a in alerts if a.severity == "critical"] == []


def test_a_dispatch_stall_fires_for_that_warehouse_only() -> None:
    # 9.5 days, the stall from day 8.25 (06:00, into the morning): a site is judged for a
    # stall against its learned week, and only in hours whose normal half hour holds
    # `min_events` dispatches (SH-02 reaches that from 08:00)
    scenario = stall(days=9.5, from_day=8.25)
    alerts = replay(scenario)
    fired = {(a.warehouse, a.kind) for a in alerts if a.state == "firing"}
    # that warehouse only (its catch-up afterwards may also hand carriers a day's worth at once)
    assert ("SH-02", "dispatch_backpressure") in fired
    assert {w for w, _ in fired} == {"SH-02"}
    assert [
        a for a in alerts if a.severity == "critical" and a.kind != "dispatch_backpressure"
    ] == []
    first = next(a for a in alerts if a.kind == "dispatch_backpressure")
    assert first.signals["reason"] == "stall"
    assert first.updated_at_ms < scenario.start_ms + round((8.25 + 6 / 24) * DAY_MS)


def test_a_silent_warehouse_is_reported() -> None:
    alerts = replay(build("silent"))  # GZ-03 stops sending at the midpoint
    silent = [a for a in alerts if a.kind == "warehouse_silent" and a.state == "firing"]
    assert silent and {a.warehouse for a in silent} == {"GZ-03"}
    assert [a for a in alerts if a.kind != "warehouse_silent"] == []


@pytest.mark.timeout(1200)  # 60 days of three sites, every minute evaluated: minutes of CPU
def test_jd2008_forecast_and_backpressure_come_before_the_crossing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Three of the 2008 sites (their daily demand crosses dispatch capacity on days 24, 30 and
    40): `forecast_overload` must fire before the crossing, and `dispatch_backpressure` while
    the parcels' wait is still under the 24 h service level."""
    full = build("jd2008")
    keep = ("BJ-01", "CD-04", "WH-05")
    sites = tuple(s for s in full.sites if s.warehouse in keep)
    scenario = dataclasses.replace(full, sites=sites)
    alerts = replay(scenario)

    def day(ms: int) -> float:
        return (ms - scenario.start_ms) / DAY_MS

    lines = []
    for wh in keep:
        crossing = JD2008_CROSSING_DAY[wh]
        forecast = next(a for a in alerts if (a.warehouse, a.kind) == (wh, "forecast_overload"))
        dispatch = next(a for a in alerts if (a.warehouse, a.kind) == (wh, "dispatch_backpressure"))
        assert day(forecast.started_at_ms) < crossing, wh
        hours = dispatch.signals["hours_to_clear"]
        assert isinstance(hours, float) and hours < POLICY.queues["dispatch"].sla_hours, wh
        lines.append(
            f"{wh}: demand crosses capacity on day {crossing:.0f}; forecast_overload fired on "
            f"day {day(forecast.updated_at_ms):.1f} ({crossing - day(forecast.updated_at_ms):.1f}"
            f" days ahead); dispatch_backpressure on day {day(dispatch.updated_at_ms):.1f} with "
            f"{hours:.1f} h to clear"
        )
    # the cascade of 2008: service and refunds fall behind after dispatch, somewhere
    kinds = {a.kind for a in alerts if a.state == "firing"}
    assert {"service_backpressure", "cascade"} <= kinds
    with capsys.disabled():
        print("\n" + "\n".join(lines))
