"""Prometheus metrics of a worker: counters that the agents update, gauges read at scrape time.

Everything lives on one explicit `CollectorRegistry` (never the global one), so tests and several
apps in one process do not share state. Two kinds of metric:

- `Metrics`: counters and a histogram that the stream glue increments as events pass.
  Label sets that are known in advance (topics, reject reasons, alert kinds) are created at zero,
  so `rate()` and the alert rules see a series from the first scrape instead of none.
- `process_*` (memory, CPU, open files, start time) and `ordermon_build_info{version,python}`,
  so the monitor's own health can be watched like any service's.
- `StatusCollector`: the per-warehouse gauges of the contract, computed from a `MetricsSource` at
  each scrape, so a warehouse that leaves the state leaves ``/metrics`` with it.

Faust's own sensor (messages, commits, offsets, rebalances) joins the same registry
(agents.worker.monitor.lean_monitor, names prefixed `FAUST_PREFIX`); the worker serves one page for
all of it (`exposition`).
"""

from __future__ import annotations

import logging
import math
import platform
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Protocol, cast

from prometheus_client import CollectorRegistry, Counter, Histogram, Info, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.openmetrics.exposition import escape_label_name, escape_metric_name
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample, Timestamp
from prometheus_client.utils import floatToGoString

from ordermon import __version__
from ordermon.agents.engine import Outcome
from ordermon.agents.logic.flow import Snapshot
from ordermon.streams.errors import RejectReason
from ordermon.streams.flows import INPUT_TOPICS
from ordermon.streams.outputs import ALERT_KINDS, Alert
from ordermon.streams.topics import TopicNames

log = logging.getLogger(__name__)

SEVERITIES: Final = ("warning", "critical")
ALERT_STATES: Final = ("firing", "resolved")
OUTPUTS: Final = ("deadletter", "changelog")  # the `output` label of ordermon_output_failures_total

#: Prefix of Faust's sensor metrics. Fixed (not the app id, Faust's default) so that dashboards
#: and rules do not change when ORDERMON_APP_ID does.
FAUST_PREFIX: Final = "ordermon_faust"

#: Seconds one batch of events takes through decode, count and evaluate. A batch is at most
#: ORDERMON_BATCH_SIZE events (2,000 by default): a few ms is normal, and anything near a second
#: delays alerts and the consumer's heartbeat, so the buckets are dense below 1 s.
BATCH_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


LIVE_LABELS: Final = ("true", "false")
BACKSLASH, ESCAPED_BACKSLASH = "\\", "\\\\"
NEWLINE, ESCAPED_NEWLINE = "\n", "\\n"
QUOTE, ESCAPED_QUOTE = '"', '\\"'


def _live_label(live: bool | None) -> str:
    return "true" if live else "false"


class MetricsSource(Protocol):
    """What the status collector reads at scrape time. Must be cheap and must not block."""

    def snapshots(self) -> Iterable[Snapshot]:
        """One snapshot per warehouse held by this worker."""
        ...

    def firing_alerts(self, now_ms: int | None = None) -> Iterable[Alert]:
        """The alerts currently firing on this worker, `live` as of the clock `now_ms`."""
        ...

    def newest_event_ms(self) -> Mapping[str, int]:
        """Contract topic name (no prefix) -> newest `occurred_at` seen, epoch ms."""
        ...


@dataclass(frozen=True, slots=True)
class Metrics:
    """The worker's counters. Label values: `topic` is the contract's topic name without the
    deployment prefix; `reason` a `RejectReason`; `sink` an `AlertSink.name`."""

    registry: CollectorRegistry
    events: Counter  # ordermon_events_total{topic,status,warehouse}: valid events counted
    deadletters: Counter  # ordermon_deadletter_total{topic,reason}
    late_events: Counter  # ordermon_late_events_total{topic}: valid, older than the retention
    duplicates: Counter  # ordermon_duplicates_total{topic}: redelivered offsets skipped
    alert_transitions: Counter  # ordermon_alert_transitions_total{kind,severity,state}
    alert_sink_failures: Counter  # ordermon_alert_sink_failures_total{sink}
    batch_seconds: Histogram  # ordermon_batch_seconds: processing time of one batch
    output_failures: Counter  # ordermon_output_failures_total{output}: sends given up on
    released: Counter  # ordermon_warehouses_released_total: idle warehouses that gave a slot back

    @classmethod
    def create(
        cls, registry: CollectorRegistry | None = None, *, sinks: Iterable[str] = ("kafka", "log")
    ) -> Metrics:
        """Register the counters on `registry` (a fresh one when None). `sinks` names the alert
        sinks whose failure counter starts at zero."""
        reg = registry if registry is not None else CollectorRegistry()
        metrics = cls(
            registry=reg,
            events=Counter(
                "ordermon_events_total",
                "Valid input events counted, by topic, status and warehouse.",
                ["topic", "status", "warehouse"],
                registry=reg,
            ),
            deadletters=Counter(
                "ordermon_deadletter_total",
                "Input messages rejected to the dead-letter topic, by source topic and reason.",
                ["topic", "reason"],
                registry=reg,
            ),
            late_events=Counter(
                "ordermon_late_events_total",
                "Valid events older than the retention: in the backlog, in no minute's rate.",
                ["topic"],
                registry=reg,
            ),
            duplicates=Counter(
                "ordermon_duplicates_total",
                "Redelivered messages skipped because their offset was already applied.",
                ["topic"],
                registry=reg,
            ),
            alert_transitions=Counter(
                "ordermon_alert_transitions_total",
                "Alert messages emitted (fired, severity changed, re-notified, resolved).",
                ["kind", "severity", "state"],
                registry=reg,
            ),
            alert_sink_failures=Counter(
                "ordermon_alert_sink_failures_total",
                "Alert messages that a sink failed to deliver.",
                ["sink"],
                registry=reg,
            ),
            batch_seconds=Histogram(
                "ordermon_batch_seconds",
                "Processing time of one batch of input events, in seconds.",
                buckets=BATCH_BUCKETS,
                registry=reg,
            ),
            output_failures=Counter(
                "ordermon_output_failures_total",
                "Dead letters and changelog records that could not be sent after bounded "
                "retries (each also logged once, naming its source offset or key).",
                ["output"],
                registry=reg,
            ),
            released=Counter(
                "ordermon_warehouses_released_total",
                "Warehouses released after ORDERMON_WAREHOUSE_IDLE_MINUTES without events: state, "
                "records and series removed, the slot free again.",
                registry=reg,
            ),
        )
        metrics._start_at_zero(sinks)
        ProcessCollector(registry=reg)
        Info("ordermon_build", "The running ordermon: version and Python.", registry=reg).info(
            {"version": __version__, "python": platform.python_version()}
        )
        return metrics

    def record(self, outcome: Outcome, seconds: float, names: TopicNames) -> None:
        """Count one batch's outcome (`names` maps a dead letter's topic to the contract's)."""
        for (topic, status, warehouse), n in outcome.counted.items():
            self.events.labels(topic=topic, status=status, warehouse=warehouse).inc(n)
        for letter in outcome.deadletters:
            topic = names.base(letter.source_topic)
            self.deadletters.labels(topic=topic, reason=letter.reason).inc()
        for topic, n in outcome.late.items():
            self.late_events.labels(topic=topic).inc(n)
        for topic, n in (outcome.duplicates + outcome.duplicate_ids).items():
            self.duplicates.labels(topic=topic).inc(n)
        for alert in outcome.alerts:
            self.alert_transitions.labels(
                kind=alert.kind, severity=alert.severity, state=alert.state
            ).inc()
        for warehouse in outcome.released:
            # a released warehouse leaves /metrics (its gauges go with its state)
            self.events.remove_by_labels({"warehouse": warehouse})
            self.released.inc()
            log.info(
                "warehouse %s released: no events within ORDERMON_WAREHOUSE_IDLE_MINUTES; its "
                "state, records and metric series are removed and its slot is free",
                warehouse,
            )
        self.batch_seconds.observe(seconds)

    def output_failed(self, output: str) -> None:
        """An output given up after its retries: `output` is one of OUTPUTS."""
        self.output_failures.labels(output=output).inc()

    def _start_at_zero(self, sinks: Iterable[str]) -> None:
        for topic in INPUT_TOPICS:
            self.late_events.labels(topic=topic)
            self.duplicates.labels(topic=topic)
            for reason in RejectReason:
                self.deadletters.labels(topic=topic, reason=reason.value)
        for output in OUTPUTS:
            self.output_failures.labels(output=output)
        for kind in ALERT_KINDS:
            for severity in SEVERITIES:
                for state in ALERT_STATES:
                    self.alert_transitions.labels(kind=kind, severity=severity, state=state)
        for sink in sinks:
            self.alert_sink_failures.labels(sink=sink)


class WarehouseGauges(GaugeMetricFamily):
    """A gauge family by warehouse and one more label, kept as rows (warehouse, label, value):
    some 21,000 series at 1,000 warehouses, made at every scrape. As rows they cost a tuple each
    instead of a `Sample` and its labels' dict, and `text_format` writes them without making the
    samples at all; anything else that reads the family (`generate_latest`, a registry's
    `get_sample_value`) gets the samples, made when it asks."""

    def __init__(self, name: str, documentation: str, label: str) -> None:
        super().__init__(name, documentation, labels=["warehouse", label])
        self.label = label
        self.rows: list[tuple[str, str, float]] = []

    @property  # type: ignore[override]
    def samples(self) -> list[Sample]:
        name, label = self.name, self.label
        return [Sample(name, {"warehouse": w, label: v}, x, None, None) for w, v, x in self.rows]

    @samples.setter
    def samples(self, value: list[Sample]) -> None:
        if value:  # Metric.__init__ sets none; rows are added with `add_metric` or to `rows`
            raise TypeError("WarehouseGauges takes rows, not samples")

    def add_metric(
        self, labels: Sequence[str], value: float, timestamp: Timestamp | float | None = None
    ) -> None:
        """As a gauge family's, without a timestamp (the status gauges have none)."""
        if timestamp is not None:
            raise TypeError("WarehouseGauges rows carry no timestamp")
        warehouse, other = labels
        self.rows.append((warehouse, other, value))

    def lines(self) -> Iterator[str]:
        """The family's sample lines of the text format, as `_sample_line` writes them."""
        name, label, text = self.name, self.label, _float_text
        for warehouse, other, value in self.rows:
            line = _cached_series(name, (("warehouse", warehouse), (label, other)))
            yield f"{line} {text(value)}\n"


class StatusCollector(Collector):
    """The contract's per-warehouse gauges, computed from `source` at every scrape.

    `clock` is the processing clock (seconds since the epoch) for the event-time lag. A source
    that raises does not fail the scrape (the counters and Faust's sensor still go out): its
    gauges are left out and ``ordermon_status_errors_total`` counts it."""

    def __init__(self, source: MetricsSource, clock: Callable[[], float] = time.time) -> None:
        self._source = source
        self._clock = clock
        self._errors = 0

    def describe(self) -> Iterable[Metric]:
        # Names only: lets the registry detect clashes without reading the source.
        return list(self._families())

    def collect(self) -> Iterable[Metric]:
        return list(self._collect())

    def _collect(self) -> Iterator[Metric]:
        flow, backlog, pressure, to_clear, warehouses, active, firing, lag, errors = (
            self._families()
        )
        try:
            snaps = list(self._source.snapshots())
        except Exception:
            log.exception("metrics: reading the warehouse snapshots failed")
            self._errors += 1
        else:
            for snap in snaps:
                self._add_snapshot(snap, flow, backlog, pressure, to_clear)
            warehouses.add_metric([], len({snap.warehouse for snap in snaps}))
            yield from (flow, backlog, pressure, to_clear, warehouses)
        try:
            alerts = list(self._source.firing_alerts(int(self._clock() * 1000)))
        except Exception:
            log.exception("metrics: reading the firing alerts failed")
            self._errors += 1
        else:
            keys = {
                (a.warehouse, a.kind, a.severity, _live_label(a.live))
                for a in alerts
                if a.state == "firing"
            }
            for key in sorted(keys):
                active.add_metric(list(key), 1.0)
            for severity in SEVERITIES:
                for live in LIVE_LABELS:
                    count = sum(1 for key in keys if key[2] == severity and key[3] == live)
                    firing.add_metric([severity, live], count)
            yield from (active, firing)
        try:
            newest = dict(self._source.newest_event_ms())
        except Exception:
            log.exception("metrics: reading the newest event times failed")
            self._errors += 1
        else:
            now = self._clock()
            for topic, newest_ms in sorted(newest.items()):
                lag.add_metric([topic], now - newest_ms / 1000)
            yield lag
        errors.add_metric([], self._errors)
        yield errors

    @staticmethod
    def _add_snapshot(
        snap: Snapshot,
        flow: WarehouseGauges,
        backlog: WarehouseGauges,
        pressure: WarehouseGauges,
        to_clear: WarehouseGauges,
    ) -> None:
        wh = snap.warehouse
        flow.rows.extend((wh, name, per_minute / 60) for name, per_minute in snap.rates.items())
        backlogs, pressures, to_clears = backlog.rows, pressure.rows, to_clear.rows
        for name, queue in snap.queues.items():
            backlogs.append((wh, name, queue.backlog))
            # +Inf: in, nothing out; 0 when nothing flowed in or out over the horizon (nothing
            # piles up), so a quiet queue shows as calm rather than as a gap
            pressures.append((wh, name, 0.0 if queue.pressure is None else queue.pressure))
            hours = queue.hours_to_clear
            if hours is not None and not math.isnan(hours):
                to_clears.append((wh, name, hours * 3600))

    @staticmethod
    def _families() -> tuple[
        WarehouseGauges,
        WarehouseGauges,
        WarehouseGauges,
        WarehouseGauges,
        GaugeMetricFamily,
        GaugeMetricFamily,
        GaugeMetricFamily,
        GaugeMetricFamily,
        CounterMetricFamily,
    ]:
        g = GaugeMetricFamily
        return (
            WarehouseGauges(
                "ordermon_flow_rate_per_second",
                "Events per second of event time over the horizon, by warehouse and flow.",
                "flow",
            ),
            WarehouseGauges(
                "ordermon_backlog",
                "Inflow minus outflow since the stream began (at least 0), by queue.",
                "queue",
            ),
            WarehouseGauges(
                "ordermon_pressure_ratio",
                "Inflow rate / outflow rate over the horizon; +Inf when nothing flows out.",
                "queue",
            ),
            WarehouseGauges(
                "ordermon_time_to_clear_seconds",
                "Backlog / outflow rate: seconds to clear the queue at the current outflow.",
                "queue",
            ),
            g("ordermon_warehouses", "Warehouses tracked by this worker.", labels=[]),
            g(
                "ordermon_alert_active",
                "1 while an alert of this kind and severity fires for the warehouse; live: "
                "whether it pages (evaluated live, not history replayed or caught up with).",
                labels=["warehouse", "kind", "severity", "live"],
            ),
            g(
                "ordermon_alerts_firing",
                "Alerts firing on this worker, by severity and live (whether they page).",
                labels=["severity", "live"],
            ),
            g(
                "ordermon_event_time_lag_seconds",
                "Processing clock minus the newest event time seen, by topic.",
                labels=["topic"],
            ),
            CounterMetricFamily(
                "ordermon_status_errors",
                "Scrapes at which reading the worker's state for the gauges failed.",
                labels=[],
            ),
        )


def exposition(registry: Collector) -> tuple[bytes, str]:
    """Body and content type of ``GET /metrics`` (the classic text format, version 0.0.4, which
    every Prometheus version reads)."""
    return text_format(registry.collect()), CONTENT_TYPE_PLAIN_0_0_4


# Munging from OpenMetrics into the classic format: (name suffix, type) by OpenMetrics type.
_CLASSIC: Final = {
    "counter": ("_total", "counter"),
    "info": ("_info", "gauge"),
    "stateset": ("", "gauge"),
    "gaugehistogram": ("", "histogram"),
    "unknown": ("", "untyped"),
}
_OM_SUFFIXES: Final = ("_created", "_gsum", "_gcount")


class _Names(dict[str, str]):
    """A name escaped as prometheus_client escapes it (`escape` of it), each name once: the names
    and label names of a page are few, its samples many."""

    def __init__(self, escape: Callable[[str], str]) -> None:
        super().__init__()
        self._escape = escape

    def __missing__(self, name: str) -> str:
        self[name] = escaped = self._escape(name)
        return escaped


_METRIC_NAMES: Final = _Names(escape_metric_name)
_float_text: Final = cast(Callable[[float], str], floatToGoString)
_LABEL_NAMES: Final = _Names(escape_label_name)


def _label_value(value: str) -> str:
    return (
        value.replace(BACKSLASH, ESCAPED_BACKSLASH)
        .replace(NEWLINE, ESCAPED_NEWLINE)
        .replace(QUOTE, ESCAPED_QUOTE)
    )


def _series(name: str, labels: Mapping[str, str]) -> str:
    """`prometheus_client.exposition.generate_latest`'s name and labels of a sample (escaping
    names with underscores, label values as UTF-8)."""
    if not labels:
        return _METRIC_NAMES[name]
    names = _LABEL_NAMES
    pairs = [f'{names[k]}="{_label_value(v)}"' for k, v in sorted(labels.items())]
    return _METRIC_NAMES[name] + "{" + ",".join(pairs) + "}"


#: The series of the last pages (`_series` by name and labels): a page's series are mostly those
#: of the page before. Emptied when it holds more than SERIES_CACHE_MAX (warehouses come and go).
_SERIES: Final[dict[tuple[str, tuple[tuple[str, str], ...]], str]] = {}
SERIES_CACHE_MAX: Final = 500_000


def _cached_series(name: str, labels: tuple[tuple[str, str], ...]) -> str:
    """`_series` of a name and its labels (in the order they were given), from `_SERIES`."""
    key = (name, labels)
    line = _SERIES.get(key)
    if line is None:
        if len(_SERIES) >= SERIES_CACHE_MAX:
            _SERIES.clear()
        line = _SERIES[key] = _series(name, dict(labels))
    return line


def _sample_line(s: Sample) -> str:
    line = _cached_series(s.name, tuple(s.labels.items()))
    timestamp = "" if s.timestamp is None else f" {int(float(s.timestamp) * 1000):d}"
    return f"{line} {_float_text(s.value)}{timestamp}\n"


def text_format(metrics: Iterable[Metric]) -> bytes:
    """The page `prometheus_client.exposition.generate_latest` writes of `metrics`, byte for byte
    (tests/unit/ordermon/test_metrics.py), at a fraction of its cost: it validates every label
    name of every sample against a regular expression, here each name is escaped once. A worker
    of 1,000 warehouses serves some 30,000 samples a scrape."""
    output: list[str] = []
    for metric in metrics:
        name = metric.name
        suffix, mtype = _CLASSIC.get(metric.type, ("", metric.type))
        mname = _METRIC_NAMES[name + suffix]
        doc = metric.documentation.replace(BACKSLASH, ESCAPED_BACKSLASH).replace(
            NEWLINE, ESCAPED_NEWLINE
        )
        output.append(f"# HELP {mname} {doc}\n# TYPE {mname} {mtype}\n")
        if isinstance(metric, WarehouseGauges):
            output.extend(metric.lines())
            continue
        om_samples: dict[str, list[str]] = {}
        om_names = {name + om: om for om in _OM_SUFFIXES}
        for s in metric.samples:
            om = om_names.get(s.name)
            if om is None:
                output.append(_sample_line(s))
            else:  # OpenMetrics specific sample, put in a gauge at the end
                om_samples.setdefault(om, []).append(_sample_line(s))
        for om, lines in sorted(om_samples.items()):
            gauge = _METRIC_NAMES[name + om]
            output.append(f"# HELP {gauge} {doc}\n# TYPE {gauge} gauge\n")
            output.extend(lines)
    return "".join(output).encode("utf-8")
