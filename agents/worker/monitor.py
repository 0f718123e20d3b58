"""Faust's own metrics (messages in and out, commit and produce latency, rebalances, end and
committed offsets per partition) on the worker's registry, names prefixed `prefix`: Faust's
Prometheus monitor, made cheap per message. The worker serves one /metrics page for everything
(Faust's `setup_prometheus_sensors` would add a second page on the global registry)."""

from __future__ import annotations

import time
from typing import Any

from faust.sensors.monitor import Monitor
from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from prometheus_client import CollectorRegistry


class LeanPrometheusMonitor(PrometheusMonitor):  # type: ignore[misc]
    """Faust's Prometheus monitor (the same metrics, the same values, on `registry`) with the
    per-message and per-event hooks made cheap: the labelled children are looked up once per
    topic partition or stream instead of once per message (``labels()`` hashes and locks every
    time). Caches are dropped whenever Faust clears the partition metrics (a rebalance)."""

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


def lean_monitor(registry: CollectorRegistry, prefix: str) -> LeanPrometheusMonitor:
    return LeanPrometheusMonitor(metrics=FaustMetrics.create(registry, prefix))
