"""What the worker shares between its agents and its HTTP views: the pipeline, the metrics
registry, the alert sinks. Built once per process from the settings."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry

from agents.logic.flow import Snapshot
from agents.pipeline import Evaluator, NoDetection, Outcome
from ordermon.delivery import deliver
from ordermon.metrics import Metrics, StatusCollector
from ordermon.sinks.base import AlertSink
from streams.outputs import Alert

if TYPE_CHECKING:
    from agents.pipeline import Pipeline

log = logging.getLogger(__name__)
SINK_NAMES = ("kafka", "log", "alertmanager")


class Runtime:
    def __init__(self, evaluator: Evaluator | None = None) -> None:
        self.registry = CollectorRegistry()
        self.metrics = Metrics.create(self.registry, sinks=SINK_NAMES)
        self.evaluator: Evaluator = evaluator or NoDetection()
        self.pipeline: Pipeline | None = None
        self.sinks: list[AlertSink] = []
        self.registry.register(StatusCollector(self))
        self.changes = 0  # batches recorded: what the HTTP views' Memo compares

    # ---- MetricsSource --------------------------------------------------------------------
    def snapshots(self) -> Iterable[Snapshot]:
        return self.pipeline.snapshots() if self.pipeline else []

    def firing_alerts(self) -> Iterable[Alert]:
        return self.pipeline.firing() if self.pipeline else []

    def newest_event_ms(self) -> Mapping[str, int]:
        return dict(self.pipeline.newest_event_ms) if self.pipeline else {}

    # ---- the agent's outcome --------------------------------------------------------------
    def record(self, outcome: Outcome, seconds: float) -> None:
        m = self.metrics
        self.changes += 1
        for (topic, status, warehouse), n in outcome.counted.items():
            m.events.labels(topic=topic, status=status, warehouse=warehouse).inc(n)
        for letter in outcome.deadletters:
            topic = self.pipeline.names.base(letter.source_topic) if self.pipeline else ""
            m.deadletters.labels(topic=topic, reason=letter.reason).inc()
        for topic, n in outcome.late.items():
            m.late_events.labels(topic=topic).inc(n)
        for topic, n in (outcome.duplicates + outcome.duplicate_ids).items():
            m.duplicates.labels(topic=topic).inc(n)
        for alert in outcome.alerts:
            m.alert_transitions.labels(
                kind=alert.kind, severity=alert.severity, state=alert.state
            ).inc()
        for warehouse in outcome.released:
            # a released warehouse leaves /metrics (its gauges go with its state)
            m.events.remove_by_labels({"warehouse": warehouse})
            m.released.inc()
            log.info(
                "warehouse %s released: no events within ORDERMON_WAREHOUSE_IDLE_MINUTES; its "
                "state, records and metric series are removed and its slot is free",
                warehouse,
            )
        m.batch_seconds.observe(seconds)

    def output_failed(self, output: str) -> None:
        self.metrics.output_failures.labels(output=output).inc()

    def _sink_failed(self, sink: str, _output: str) -> None:
        self.metrics.alert_sink_failures.labels(sink=sink).inc()

    async def publish(self, alert: Alert) -> None:
        # One sink's failure must not stop the stream or the others: bounded retries, then one
        # log line and ordermon_alert_sink_failures_total{sink}.
        for sink in self.sinks:
            await deliver(
                partial(sink.send, alert),
                output=f"the {sink.name} sink",
                what=f"alert {alert.kind} of {alert.warehouse} ({alert.state}, {alert.alert_id})",
                on_failure=partial(self._sink_failed, sink.name),
            )

    async def close(self) -> None:
        for sink in self.sinks:
            await sink.close()


runtime = Runtime()


def lean_monitor(registry: CollectorRegistry) -> Any:
    """Faust's Prometheus monitor (the same metrics, the same values, on `registry`) with the
    per-message and per-event hooks made cheap: the labelled children are looked up once per
    topic partition or stream instead of once per message (``labels()`` hashes and locks every
    time). Caches are dropped whenever Faust clears the partition metrics (a rebalance)."""
    from faust.sensors.monitor import Monitor
    from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor

    from ordermon.metrics import FAUST_PREFIX

    class LeanPrometheusMonitor(PrometheusMonitor):  # type: ignore[misc]
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._topic_children: dict[str, Any] = {}
            self._tp_children: dict[Any, tuple[Any, Any]] = {}
            self._stream_children: dict[int, Any] = {}
            self._sent_children: dict[str, Any] = {}

        def on_message_in(self, tp: Any, offset: int, message: Any) -> None:
            Monitor.on_message_in(self, tp, offset, message)
            m = self._metrics
            m.messages_received.inc()
            m.active_messages.inc()
            topic = self._topic_children.get(tp.topic)
            if topic is None:
                topic = self._topic_children[tp.topic] = m.messages_received_per_topics.labels(
                    topic=tp.topic
                )
            topic.inc()
            self._tp_child(tp)[0].set(offset)

        def on_batch_in(self, tp: Any, count: int, last_offset: int) -> None:
            """The batch path's `on_message_in` + `on_stream_event_in`, once per partition."""
            self.messages_received_total += count
            self.messages_received_by_topic[tp.topic] += count
            self.tp_read_offsets[tp] = last_offset
            self.stream_inbound_time[tp] = time.monotonic()
            m = self._metrics
            m.messages_received.inc(count)
            m.total_events.inc(count)
            topic = self._topic_children.get(tp.topic)
            if topic is None:
                topic = self._topic_children[tp.topic] = m.messages_received_per_topics.labels(
                    topic=tp.topic
                )
            topic.inc(count)
            self._tp_child(tp)[0].set(last_offset)

        def _tp_child(self, tp: Any) -> tuple[Any, Any]:
            children = self._tp_children.get(tp)
            if children is None:
                m = self._metrics
                children = self._tp_children[tp] = (
                    m.messages_received_per_topics_partition.labels(
                        topic=tp.topic, partition=tp.partition
                    ),
                    m.topic_partition_end_offset.labels(topic=tp.topic, partition=tp.partition),
                )
            return children

        def track_tp_end_offset(self, tp: Any, offset: int) -> None:
            Monitor.track_tp_end_offset(self, tp, offset)
            self._tp_child(tp)[1].set(offset)

        def on_stream_event_in(self, tp: Any, offset: int, stream: Any, event: Any) -> Any:
            state = Monitor.on_stream_event_in(self, tp, offset, stream, event)
            m = self._metrics
            m.total_events.inc()
            m.total_active_events.inc()
            child = self._stream_children.get(id(stream))
            if child is None:
                child = self._stream_children[id(stream)] = m.total_events_per_stream.labels(
                    stream=f"stream.{self._stream_label(stream)}.events"
                )
            child.inc()
            return state

        def on_send_initiated(
            self, producer: Any, topic: str, message: Any, keysize: int, valsize: int
        ) -> Any:
            child = self._sent_children.get(topic)
            if child is None:
                child = self._sent_children[topic] = self._metrics.topic_messages_sent.labels(
                    topic=f"topic.{topic}"
                )
            child.inc()
            return Monitor.on_send_initiated(self, producer, topic, message, keysize, valsize)

        def _clear_partition_related_metrics(self) -> None:
            super()._clear_partition_related_metrics()
            self._sent_children.clear()
            self._topic_children.clear()
            self._tp_children.clear()
            self._stream_children.clear()

    return LeanPrometheusMonitor(metrics=FaustMetrics.create(registry, FAUST_PREFIX))


def configure(app: Any, alerts_topic: Any, settings: Any) -> Runtime:
    """Attach the sinks (the contract's alerts topic, a log line, Alertmanager when configured)
    and Faust's own sensors; start the Alertmanager sink once the worker runs."""
    from ordermon.sinks.alertmanager import AlertmanagerSink
    from ordermon.sinks.kafka import KafkaSink
    from ordermon.sinks.log import LogSink

    runtime.sinks = [KafkaSink(alerts_topic), LogSink()]
    alertmanager = AlertmanagerSink.from_settings(
        settings,
        on_failure=lambda name: runtime.metrics.alert_sink_failures.labels(sink=name).inc(),
    )
    # Faust's own metrics (as ordermon.metrics.install_faust_sensors), cheaper per message.
    app.monitor = lean_monitor(runtime.registry)
    if alertmanager is None:
        return runtime

    @app.task
    async def start_alertmanager_sink() -> None:
        alertmanager.start()
        runtime.sinks.append(alertmanager)
        # After a restart Alertmanager must hear again about what is still firing (its endsAt
        # would otherwise lapse until the next re-notify): once the tables are recovered, hand
        # it the firing alerts.
        recovery = getattr(app.tables, "recovery", None)
        deadline = time.monotonic() + 600
        while recovery is not None and not recovery.completed.is_set():
            if time.monotonic() > deadline:
                return
            await asyncio.sleep(0.5)
        for alert in runtime.firing_alerts():
            await alertmanager.send(alert)

    @app.on_before_shutdown.connect
    async def close_alertmanager_sink(sender: Any, **kwargs: Any) -> None:
        await alertmanager.close()

    return runtime
