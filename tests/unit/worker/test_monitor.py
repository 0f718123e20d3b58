"""The worker's Faust monitor (agents.worker.monitor.lean_monitor) caches labelled metric
children to be cheap per message; it must record exactly what Faust's PrometheusMonitor records,
also across a rebalance (when Faust clears the partition metrics)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from faust.types import TP
from prometheus_client import CollectorRegistry

from ordermon.agents.worker.monitor import lean_monitor
from ordermon.metrics import FAUST_PREFIX


def samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in registry.collect():
        for s in family.samples:
            if "latency" in s.name or "runtime_ms_sum" in s.name or s.name.endswith("_created"):
                continue  # timings differ between two runs; creation stamps too
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


class FakeOwner:
    pass


class FakeStream:
    shortlabel = "Stream: ordermon.ingest"

    def __init__(self) -> None:
        self.task_owner = FakeOwner()


def drive(monitor: Any, stream: Any) -> None:
    """The hooks a worker calls, in a worker's order: messages in on two partitions of two topics,
    stream events, sends, commits, end offsets; a rebalance clears; then more of the same."""
    for round_ in range(2):
        for topic in ("t.orders", "t.dispatches"):
            for partition in (0, 1):
                tp = TP(topic, partition)
                monitor.track_tp_end_offset(tp, 100 * (round_ + 1) + partition)
                for offset in range(3):
                    message = SimpleNamespace(time_in=None, time_out=None, time_total=None)
                    monitor.on_message_in(tp, offset + 10 * round_, message)
                    state = monitor.on_stream_event_in(tp, offset, stream, None)
                    monitor.on_stream_event_out(tp, offset, stream, None, state)
                    monitor.on_message_out(tp, offset, message)
                monitor.on_send_initiated(None, f"{topic}-changelog", None, 3, 10)
                monitor.on_tp_commit({tp: 2 + round_})
        if round_ == 0:
            monitor._clear_partition_related_metrics()


def test_the_lean_monitor_records_what_faust_records() -> None:
    faust_registry, lean_registry = CollectorRegistry(), CollectorRegistry()
    reference = PrometheusMonitor(metrics=FaustMetrics.create(faust_registry, FAUST_PREFIX))
    lean = lean_monitor(lean_registry, FAUST_PREFIX)
    assert isinstance(lean, PrometheusMonitor)
    stream = FakeStream()
    drive(reference, stream)
    drive(lean, stream)
    expected = samples(faust_registry)
    assert expected == samples(lean_registry)
    # the test would notice a monitor that recorded nothing
    labels = (("partition", "1"), ("topic", "t.orders"))
    assert expected[(f"{FAUST_PREFIX}_topic_partition_end_offset", labels)] == 201
    assert expected[(f"{FAUST_PREFIX}_messages_received_total", ())] == 24
