"""What the worker shares between its agents and its HTTP views: the pipeline, the metrics
registry, the alert sinks. Built once per process from the settings."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry

from agents.logic.flow import Snapshot
from agents.pipeline import Evaluator, NoDetection, Outcome
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
        m.batch_seconds.observe(seconds)

    async def publish(self, alert: Alert) -> None:
        for sink in self.sinks:
            try:
                await sink.send(alert)
            except Exception:  # one sink's failure must not stop the stream or the others
                self.metrics.alert_sink_failures.labels(sink=sink.name).inc()
                log.exception("alert sink %s failed", sink.name)

    async def close(self) -> None:
        for sink in self.sinks:
            await sink.close()


runtime = Runtime()


def configure(app: Any, alerts_topic: Any, settings: Any) -> Runtime:
    """Attach the sinks (the contract's alerts topic, a log line, Alertmanager when configured)
    and Faust's own sensors; start the Alertmanager sink once the worker runs."""
    from ordermon.metrics import install_faust_sensors
    from ordermon.sinks.alertmanager import AlertmanagerSink
    from ordermon.sinks.kafka import KafkaSink
    from ordermon.sinks.log import LogSink

    runtime.sinks = [KafkaSink(alerts_topic), LogSink()]
    alertmanager = AlertmanagerSink.from_settings(
        settings,
        on_failure=lambda name: runtime.metrics.alert_sink_failures.labels(sink=name).inc(),
    )
    install_faust_sensors(app, runtime.registry)
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
