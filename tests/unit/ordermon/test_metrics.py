"""ordermon.metrics: counters on an explicit registry, gauges read from the source at scrape."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pytest
from prometheus_client import CollectorRegistry, Enum, Gauge, Histogram, Info, Summary
from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ordermon.agents.logic.flow import QueueStatus, Snapshot
from ordermon.agents.worker.monitor import lean_monitor
from ordermon.metrics import (
    FAUST_PREFIX,
    Metrics,
    StatusCollector,
    exposition,
    text_format,
)
from ordermon.streams.errors import RejectReason
from ordermon.streams.flows import FLOWS, INPUT_TOPICS, QUEUE_NAMES
from ordermon.streams.outputs import Alert

NOW_S = 1_795_000_000.0  # the fixed processing clock, seconds
NOW_MS = int(NOW_S * 1000)


def queue(
    name: str,
    inflow: float = 0.0,
    outflow: float = 0.0,
    backlog: int = 0,
    pressure: float | None = None,
    hours: float | None = None,
) -> QueueStatus:
    return QueueStatus(name, inflow, outflow, backlog, pressure, hours)


def snap(
    warehouse: str, rates: Mapping[str, float] | None = None, **queues: QueueStatus
) -> Snapshot:
    all_rates = dict.fromkeys(FLOWS, 0.0)
    all_rates.update(rates or {})
    all_queues = {q: queues.get(q, queue(q)) for q in QUEUE_NAMES}
    return Snapshot(warehouse, NOW_MS, all_rates, dict.fromkeys(FLOWS, 0), all_queues, 0)


def alert(
    warehouse: str,
    kind: str,
    severity: str = "warning",
    state: str = "firing",
    live: bool | None = True,
) -> Alert:
    return Alert(
        alert_id=f"{kind}:{warehouse}",
        kind=kind,
        warehouse=warehouse,
        severity=severity,  # type: ignore[arg-type]
        state=state,  # type: ignore[arg-type]
        started_at_ms=NOW_MS,
        updated_at_ms=NOW_MS,
        summary="test",
        live=live,
    )


@dataclass
class FakeSource:
    snaps: list[Snapshot] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    newest: dict[str, int] = field(default_factory=dict)
    broken: bool = False

    def snapshots(self) -> Iterable[Snapshot]:
        if self.broken:
            raise RuntimeError("table is being recovered")
        return list(self.snaps)

    asked_at: list[int | None] = field(default_factory=list)

    def firing_alerts(self, now_ms: int | None = None) -> Iterable[Alert]:
        self.asked_at.append(now_ms)
        return list(self.alerts)

    def newest_event_ms(self) -> Mapping[str, int]:
        return dict(self.newest)


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


def collected(registry: CollectorRegistry, source: FakeSource) -> CollectorRegistry:
    registry.register(StatusCollector(source, clock=lambda: NOW_S))
    return registry


# ---- counters --------------------------------------------------------------------------------


def test_counters_count_with_contract_labels(registry: CollectorRegistry) -> None:
    m = Metrics.create(registry)
    m.events.labels(topic="orders", status="placed", warehouse="BJ1").inc(3)
    m.deadletters.labels(topic="orders", reason="not_json").inc()
    assert (
        registry.get_sample_value(
            "ordermon_events_total", {"topic": "orders", "status": "placed", "warehouse": "BJ1"}
        )
        == 3
    )
    assert (
        registry.get_sample_value(
            "ordermon_deadletter_total", {"topic": "orders", "reason": "not_json"}
        )
        == 1
    )


def test_known_label_sets_start_at_zero(registry: CollectorRegistry) -> None:
    """rate() and the alert rules need a series before the first increment."""
    Metrics.create(registry, sinks=("kafka", "webhook"))
    for topic in INPUT_TOPICS:
        for reason in RejectReason:
            labels = {"topic": topic, "reason": reason.value}
            assert registry.get_sample_value("ordermon_deadletter_total", labels) == 0
        assert registry.get_sample_value("ordermon_late_events_total", {"topic": topic}) == 0
        assert registry.get_sample_value("ordermon_duplicates_total", {"topic": topic}) == 0
    labels = {"kind": "cascade", "severity": "critical", "state": "resolved"}
    assert registry.get_sample_value("ordermon_alert_transitions_total", labels) == 0
    for sink in ("kafka", "webhook"):
        assert registry.get_sample_value("ordermon_alert_sink_failures_total", {"sink": sink}) == 0
    assert registry.get_sample_value("ordermon_alert_sink_failures_total", {"sink": "log"}) is None
    for output in ("deadletter", "changelog"):
        labels = {"output": output}
        assert registry.get_sample_value("ordermon_output_failures_total", labels) == 0
    # events are per warehouse: none until one is seen
    assert registry.get_sample_value("ordermon_events_total", {"topic": "orders"}) is None


def test_batch_histogram(registry: CollectorRegistry) -> None:
    m = Metrics.create(registry)
    m.batch_seconds.observe(0.003)
    assert registry.get_sample_value("ordermon_batch_seconds_count") == 1
    assert registry.get_sample_value("ordermon_batch_seconds_bucket", {"le": "0.0025"}) == 0
    assert registry.get_sample_value("ordermon_batch_seconds_bucket", {"le": "0.005"}) == 1


def test_the_process_and_the_build_are_on_the_page(registry: CollectorRegistry) -> None:
    """Memory and CPU of the worker, and which version runs, like any service's."""
    import platform

    from ordermon import __version__

    Metrics.create(registry)
    assert registry.get_sample_value("process_resident_memory_bytes", {}) > 0
    assert registry.get_sample_value("process_cpu_seconds_total", {}) >= 0
    labels = {"version": __version__, "python": platform.python_version()}
    assert registry.get_sample_value("ordermon_build_info", labels) == 1


def test_registries_are_independent() -> None:
    a, b = CollectorRegistry(), CollectorRegistry()
    Metrics.create(a).events.labels(topic="orders", status="placed", warehouse="X").inc()
    Metrics.create(b)
    labels = {"topic": "orders", "status": "placed", "warehouse": "X"}
    assert a.get_sample_value("ordermon_events_total", labels) == 1
    assert b.get_sample_value("ordermon_events_total", labels) is None


def test_default_registry_is_fresh_not_global() -> None:
    from prometheus_client import REGISTRY

    m = Metrics.create()
    assert m.registry is not REGISTRY
    assert REGISTRY.get_sample_value("ordermon_batch_seconds_count") is None


# ---- gauges from the source ------------------------------------------------------------------


def test_flow_rates_are_per_second(registry: CollectorRegistry) -> None:
    source = FakeSource(snaps=[snap("BJ1", {"orders_placed": 120.0, "dispatches_dispatched": 30})])
    collected(registry, source)
    value = registry.get_sample_value
    assert (
        value("ordermon_flow_rate_per_second", {"warehouse": "BJ1", "flow": "orders_placed"}) == 2
    )
    flow = {"warehouse": "BJ1", "flow": "dispatches_dispatched"}
    assert value("ordermon_flow_rate_per_second", flow) == 0.5
    # every flow of the contract is there, zero or not
    for name in FLOWS:
        assert (
            value("ordermon_flow_rate_per_second", {"warehouse": "BJ1", "flow": name}) is not None
        )


@pytest.mark.parametrize(
    ("status", "pressure", "seconds"),
    [
        # (queue status, expected ordermon_pressure_ratio, expected ordermon_time_to_clear_seconds)
        (queue("dispatch", 30, 20, 600, 1.5, 0.5), 1.5, 1800.0),  # 600 left at 20/min: 30 min
        (queue("dispatch", 30, 0, 600, math.inf, None), math.inf, None),  # nothing leaves
        (queue("dispatch", 0, 0, 0, None, 0.0), 0.0, 0.0),  # idle, empty: ratio 0, clear now
        (queue("dispatch", 0, 0, 5, None, None), 0.0, None),  # idle with a backlog: no flow
    ],
)
def test_queue_gauges(
    registry: CollectorRegistry, status: QueueStatus, pressure: float | None, seconds: float | None
) -> None:
    collected(registry, FakeSource(snaps=[snap("SH2", dispatch=status)]))
    labels = {"warehouse": "SH2", "queue": "dispatch"}
    assert registry.get_sample_value("ordermon_backlog", labels) == status.backlog
    assert registry.get_sample_value("ordermon_pressure_ratio", labels) == pressure
    assert registry.get_sample_value("ordermon_time_to_clear_seconds", labels) == seconds


def test_infinite_pressure_is_exposed_as_plus_inf(registry: CollectorRegistry) -> None:
    collected(
        registry, FakeSource(snaps=[snap("SH2", dispatch=queue("dispatch", 3, 0, 9, math.inf))])
    )
    body, content_type = exposition(registry)
    assert content_type.startswith("text/plain")
    line = 'ordermon_pressure_ratio{queue="dispatch",warehouse="SH2"} +Inf'
    assert line in body.decode()


def test_every_queue_of_every_warehouse(registry: CollectorRegistry) -> None:
    collected(registry, FakeSource(snaps=[snap("A"), snap("B")]))
    for wh in ("A", "B"):
        for name in QUEUE_NAMES:
            labels = {"warehouse": wh, "queue": name}
            assert registry.get_sample_value("ordermon_backlog", labels) == 0
    assert registry.get_sample_value("ordermon_warehouses") == 2


def test_a_warehouse_that_leaves_the_source_leaves_the_page(registry: CollectorRegistry) -> None:
    source = FakeSource(snaps=[snap("A"), snap("B")], alerts=[alert("B", "cascade")])
    collected(registry, source)
    labels = {"warehouse": "B", "queue": "dispatch"}
    assert registry.get_sample_value("ordermon_backlog", labels) == 0
    source.snaps = [snap("A")]
    source.alerts = []
    assert registry.get_sample_value("ordermon_backlog", labels) is None
    assert b'warehouse="B"' not in exposition(registry)[0]
    assert registry.get_sample_value("ordermon_warehouses") == 1


def test_alert_active_for_firing_alerts_only(registry: CollectorRegistry) -> None:
    source = FakeSource(
        alerts=[
            alert("BJ1", "dispatch_backpressure", "critical"),
            alert("BJ1", "cascade", "warning"),
            alert("SH2", "service_backpressure", "warning", state="resolved"),
            alert("*", "forecast_overload", "warning"),
            alert("GZ3", "dispatch_backpressure", "critical", live=False),  # a replay's
        ]
    )
    collected(registry, source)

    def active(wh: str, kind: str, severity: str, live: str = "true") -> float | None:
        labels = {"warehouse": wh, "kind": kind, "severity": severity, "live": live}
        return registry.get_sample_value("ordermon_alert_active", labels)

    assert active("BJ1", "dispatch_backpressure", "critical") == 1
    assert active("BJ1", "dispatch_backpressure", "warning") is None
    assert active("BJ1", "cascade", "warning") == 1
    assert active("SH2", "service_backpressure", "warning") is None  # resolved: gone
    assert active("*", "forecast_overload", "warning") == 1  # the network key
    # not live: shown (an added label), but under live="false", which nothing pages on
    assert active("GZ3", "dispatch_backpressure", "critical", "false") == 1
    assert active("GZ3", "dispatch_backpressure", "critical") is None
    firing = registry.get_sample_value
    assert firing("ordermon_alerts_firing", {"severity": "critical", "live": "true"}) == 1
    assert firing("ordermon_alerts_firing", {"severity": "critical", "live": "false"}) == 1
    assert firing("ordermon_alerts_firing", {"severity": "warning", "live": "true"}) == 2
    # the collector asks with its clock, in ms: the engine decides what is live as of it
    assert source.asked_at and set(source.asked_at) == {NOW_MS}


def test_alerts_firing_is_zero_when_quiet(registry: CollectorRegistry) -> None:
    collected(registry, FakeSource())
    for severity in ("warning", "critical"):
        for live in ("true", "false"):
            labels = {"severity": severity, "live": live}
            assert registry.get_sample_value("ordermon_alerts_firing", labels) == 0
    assert registry.get_sample_value("ordermon_warehouses") == 0


def test_event_time_lag_uses_the_injected_clock(registry: CollectorRegistry) -> None:
    source = FakeSource(newest={"orders": NOW_MS - 90_000, "refunds": NOW_MS - 500})
    collected(registry, source)
    assert registry.get_sample_value("ordermon_event_time_lag_seconds", {"topic": "orders"}) == 90
    assert registry.get_sample_value("ordermon_event_time_lag_seconds", {"topic": "refunds"}) == 0.5
    assert (
        registry.get_sample_value("ordermon_event_time_lag_seconds", {"topic": "dispatches"})
        is None
    )


def test_a_failing_source_does_not_fail_the_scrape(registry: CollectorRegistry) -> None:
    m = Metrics.create(registry)
    m.events.labels(topic="orders", status="placed", warehouse="A").inc()
    source = FakeSource(snaps=[snap("A")], alerts=[alert("A", "cascade")], broken=True)
    collected(registry, source)
    body, _ = exposition(registry)  # does not raise
    assert b"ordermon_events_total" in body
    assert (
        registry.get_sample_value("ordermon_backlog", {"warehouse": "A", "queue": "refund"}) is None
    )
    labels = {"warehouse": "A", "kind": "cascade", "severity": "warning", "live": "true"}
    assert registry.get_sample_value("ordermon_alert_active", labels) == 1  # the rest still out
    assert registry.get_sample_value("ordermon_status_errors_total") >= 1  # type: ignore[operator]
    source.broken = False
    assert registry.get_sample_value("ordermon_backlog", {"warehouse": "A", "queue": "refund"}) == 0


def test_registering_does_not_read_the_source(registry: CollectorRegistry) -> None:
    class Exploding(FakeSource):
        def snapshots(self) -> Iterable[Snapshot]:
            raise AssertionError("read at registration")

    registry.register(StatusCollector(Exploding()))  # describe() lists names only


def test_collector_names_clash_is_detected(registry: CollectorRegistry) -> None:
    registry.register(StatusCollector(FakeSource()))
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        registry.register(StatusCollector(FakeSource()))


def test_exposition_parses_as_prometheus_text(registry: CollectorRegistry) -> None:
    Metrics.create(registry)
    collected(registry, FakeSource(snaps=[snap("A")], newest={"orders": NOW_MS}))
    body, content_type = exposition(registry)
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    names = {f.name for f in text_string_to_metric_families(body.decode())}
    assert {"ordermon_events", "ordermon_backlog", "ordermon_event_time_lag_seconds"} <= names


def test_the_page_is_prometheus_clients_byte_for_byte(registry: CollectorRegistry) -> None:
    """`text_format` writes what `generate_latest` writes: every metric type, escaped label values
    and help texts, infinities, timestamps, the OpenMetrics-only samples; twice (its cache)."""
    m = Metrics.create(registry)
    for wh in ("BJ-01", 'odd"\\name\nhere', "é"):
        m.events.labels(topic="orders", status="placed", warehouse=wh).inc(3)
    Histogram("h_seconds", "a\\histogram\nover lines", ["x"], registry=registry).labels("1")
    Summary("s_seconds", "a summary", registry=registry).observe(0.25)
    Gauge("g", "a gauge", ["a", "b"], registry=registry).labels("2", "1").set(1e22)
    Info("i", "an info", registry=registry).info({"k": "v"})
    Enum("e", "an enum", states=["on", "off"], registry=registry)
    fixed = GaugeMetricFamily("fixed", "at a time", labels=["l"])
    for i, value in enumerate((math.inf, -math.inf, math.nan, 12345678.9, 0.1, -3, 7)):
        fixed.add_metric([str(i)], value, timestamp=NOW_S + i / 3)
    gauge_histogram = GaugeHistogramMetricFamily("gh", "a gauge histogram")
    gauge_histogram.add_metric([], [("1.0", 2), ("+Inf", 3)], gsum_value=4.0)
    odd = 'odd"\\wh\nhere'  # the status gauges' rows are escaped as any label value
    source = FakeSource(snaps=[snap("A"), snap("B"), snap(odd)], newest={"orders": NOW_MS})
    collected(registry, source)

    class Fixed:
        def __init__(self) -> None:
            self.metrics = [*registry.collect(), fixed, gauge_histogram]

        def collect(self) -> list[Metric]:
            return self.metrics

    page = Fixed()
    for _ in range(2):
        assert text_format(page.collect()) == generate_latest(page)  # type: ignore[arg-type]


# ---- Faust's sensor --------------------------------------------------------------------------


class FakeApp:
    monitor: object = None


def test_faust_sensors_on_the_same_registry_without_a_page(registry: CollectorRegistry) -> None:
    from faust.sensors.prometheus import PrometheusMonitor

    app = FakeApp()
    app.monitor = lean_monitor(registry, FAUST_PREFIX)
    assert isinstance(app.monitor, PrometheusMonitor)
    assert registry.get_sample_value(f"{FAUST_PREFIX}_messages_received_total") == 0
    assert registry.get_sample_value(f"{FAUST_PREFIX}_total_rebalances") == 0
    assert registry.get_sample_value(f"{FAUST_PREFIX}_consumer_commit_latency_count") == 0


def test_faust_sensors_record_offsets(registry: CollectorRegistry) -> None:
    from faust.types import TP

    app = FakeApp()
    app.monitor = lean_monitor(registry, FAUST_PREFIX)
    monitor = app.monitor
    tp = TP("orders", 0)
    monitor.track_tp_end_offset(tp, 120)  # type: ignore[attr-defined]
    monitor.on_tp_commit({tp: 100})  # type: ignore[attr-defined]
    labels = {"topic": "orders", "partition": "0"}
    assert registry.get_sample_value(f"{FAUST_PREFIX}_topic_partition_end_offset", labels) == 120
    assert (
        registry.get_sample_value(f"{FAUST_PREFIX}_topic_partition_offset_commited", labels) == 100
    )


def test_faust_app_gets_no_page_and_the_global_registry_nothing(
    registry: CollectorRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    import faust
    from faust.sensors.prometheus import PrometheusMonitor
    from prometheus_client import REGISTRY

    app = faust.App("ordermon-metrics-test", broker="memory://", web_enabled=False)
    pages: list[str] = []
    monkeypatch.setattr(app, "page", lambda path, **kw: pages.append(path))
    app.monitor = lean_monitor(registry, FAUST_PREFIX)
    assert pages == []  # we serve /metrics ourselves, from `registry`
    assert isinstance(app.monitor, PrometheusMonitor)
    assert registry.get_sample_value(f"{FAUST_PREFIX}_total_sent_messages_total") == 0
    assert REGISTRY.get_sample_value(f"{FAUST_PREFIX}_total_sent_messages_total") is None
