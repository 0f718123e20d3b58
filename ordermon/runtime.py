"""What the worker shares between its agents and its HTTP views: the pipeline, the metrics
registry, the alert sinks and the readiness flag. Built once per process from the settings."""

from __future__ import annotations

import logging
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


class Runtime:
    def __init__(self, evaluator: Evaluator | None = None) -> None:
        self.registry = CollectorRegistry()
        self.metrics = Metrics.create(self.registry)
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
        events = self.metrics.events
        for (topic, status, warehouse), n in outcome.counted.items():
            events.labels(topic=topic, status=status, warehouse=warehouse).inc(n)
        dead = self.metrics.deadletters
        for letter in outcome.deadletters:
            topic = self.pipeline.names.base(letter.source_topic) if self.pipeline else ""
            dead.labels(topic=topic, reason=letter.reason).inc()

    async def publish(self, alert: Alert) -> None:
        for sink in self.sinks:
            try:
                await sink.send(alert)
            except Exception:  # one sink's failure must not stop the stream or the others
                log.exception("alert sink %s failed", sink.name)

    async def close(self) -> None:
        for sink in self.sinks:
            await sink.close()


runtime = Runtime()


def configure(app: Any, alerts_topic: Any) -> Runtime:
    """Attach the sinks that need the app (the contract's alerts topic) and Faust's sensors."""
    from ordermon.metrics import install_faust_sensors
    from ordermon.sinks.kafka import KafkaSink
    from ordermon.sinks.log import LogSink

    runtime.sinks = [KafkaSink(alerts_topic), LogSink()]
    install_faust_sensors(app, runtime.registry)
    return runtime
