"""What the Faust layer receives from the composition root (ordermon.app): the engine, the
worker's settings, and the callables that reach the metrics and the alert sinks. The layer never
imports the runtime package; everything it needs comes in here."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ordermon.agents.engine import Engine, Outcome
from ordermon.streams.outputs import Alert


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """The settings the Faust layer reads (ordermon.config.Settings fields of the same names)."""

    partitions: int = 4
    batch_size: int = 2000
    batch_seconds: float = 0.05
    flush_seconds: float = 1.0
    consumer_path: str = "batch"  # "batch" (the consumer's batch path) or "stream" (Faust's)
    web_cache_seconds: float = 1.0  # how old a shared /warehouses answer may be while counting
    web_header_timeout_seconds: float = 10.0  # the HTTP server's header read timeout
    tick_seconds: float = 5.0  # how often minutes closed by the processing clock are evaluated


class Sink(Protocol):
    name: str

    async def send(self, alert: Alert) -> None: ...

    async def close(self) -> None: ...


class StartedSink(Sink, Protocol):
    """A sink with background tasks, started once the worker's event loop runs."""

    def start(self) -> None: ...

    def offer(self, firing: Iterable[Alert]) -> None:
        """The alerts firing now (`live` as of now): page the live ones not paged yet."""
        ...

    def retain(self, held: Callable[[str], bool]) -> None:
        """Forget, without resolving, the firing alerts of warehouses `held` rejects (moved to
        another worker by a rebalance: their new owner carries them on)."""
        ...


class Alerts(Protocol):
    """The alert fan-out: every transition to every sink; one sink's failure stops nothing."""

    async def publish_all(self, alerts: Sequence[Alert]) -> None:
        """A batch's transitions, each warehouse's in their order."""
        ...

    def add(self, sink: Sink) -> None: ...


@dataclass
class Deps:
    engine: Engine
    config: WorkerConfig
    alerts: Alerts
    observe: Callable[[Outcome, float], None]  # a batch's outcome and seconds -> the counters
    metrics_page: Callable[[], tuple[bytes, str]]  # GET /metrics: body, content type
    # an output given up after its retries (ordermon_output_failures_total{output})
    output_failed: Callable[[str], None] = lambda output: None
    monitor: Any = None  # Faust's sensor (agents.worker.monitor.lean_monitor), or None
    started_sinks: Sequence[StartedSink] = field(default_factory=tuple)  # Alertmanager
