"""The composition root: `build(settings, policy)` makes the Faust app and everything it runs on
(engine, metrics registry, sinks) and registers the Faust layer (agents.worker) on it. Nothing
happens at import time; `ordermon worker` calls `build` once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry

from ordermon.agents.engine import Engine, Outcome
from ordermon.agents.logic.policy import Policy
from ordermon.agents.worker import Deps, Worker, WorkerConfig, create_app, register
from ordermon.agents.worker.monitor import lean_monitor
from ordermon.agents.worker.tables import register_tables
from ordermon.agents.worker.topics import register_topics
from ordermon.config import Settings
from ordermon.metrics import FAUST_PREFIX, Metrics, StatusCollector, exposition
from ordermon.security import broker_credentials
from ordermon.sinks.alertmanager import AlertmanagerSink
from ordermon.sinks.fanout import Fanout
from ordermon.sinks.kafka import KafkaSink
from ordermon.sinks.log import LogSink
from ordermon.streams.topics import TopicNames

SINK_NAMES = ("kafka", "log", "alertmanager")


def faust_options(settings: Settings) -> dict[str, Any]:
    return {
        "broker": settings.broker_url,
        "broker_credentials": broker_credentials(settings),
        "store": settings.store,
        # Messages stay bytes until streams.codec decodes them: with Faust's default (json) a
        # value that is not JSON fails in Faust, before the agent, and stalls its partition.
        "key_serializer": "raw",
        "value_serializer": "raw",
        "autodiscover": False,  # everything is registered by agents.worker.register
        "datadir": settings.data_dir,
        "web_bind": settings.web_host,
        "web_host": settings.web_host,
        "web_port": settings.web_port,
        # what the other members see in the assignor's metadata: /warehouses fans out to them
        "canonical_url": settings.advertised_url,
        "web_enabled": True,
        "broker_session_timeout": settings.session_timeout_seconds,
        "broker_heartbeat_interval": min(3.0, settings.session_timeout_seconds / 3),
        "consumer_auto_offset_reset": "earliest",
        "topic_partitions": settings.partitions,
        "topic_replication_factor": settings.replication_factor,
        "producer_acks": -1,
        "processing_guarantee": "at_least_once",  # exactly_once: refused by the embedded broker
        "table_standby_replicas": 0,
        "recovery_consistency_check": settings.recovery_consistency_check,
        "stream_wait_empty": False,
        "stream_buffer_maxsize": 16384,
        "broker_max_poll_records": 4000,
    }


def worker_config(settings: Settings) -> WorkerConfig:
    return WorkerConfig(
        partitions=settings.partitions,
        batch_size=settings.batch_size,
        batch_seconds=settings.batch_seconds,
        flush_seconds=settings.flush_seconds,
        consumer_path=settings.consumer_path,
        web_cache_seconds=settings.web_cache_seconds,
        web_header_timeout_seconds=settings.web_header_timeout_seconds,
    )


@dataclass(frozen=True, slots=True)
class Built:
    app: Any  # agents.worker.App
    engine: Engine
    registry: CollectorRegistry
    metrics: Metrics
    alerts: Fanout
    worker: Worker


def build(settings: Settings, policy: Policy) -> Built:
    """One worker's app and dependencies, from the settings and the detection policy."""
    app = create_app(settings.app_id, faust_options(settings))
    names = TopicNames(settings.topic_prefix)
    topics = register_topics(app, names)
    store = register_tables(app, settings.partitions)
    engine = Engine(
        settings.flow,
        policy,
        store,
        names=names,
        max_warehouses=settings.max_warehouses,
        max_future_ms=settings.max_future_seconds * 1000,
        release_after_ms=settings.warehouse_idle_ms,
        live_max_age_ms=settings.live_max_age_seconds * 1000,
        confirmed_deletes=True,  # the tick says when the changelogs hold a flush (Ingest.tick)
    )
    registry = CollectorRegistry()
    metrics = Metrics.create(registry, sinks=SINK_NAMES)
    registry.register(StatusCollector(engine))

    def sink_failed(name: str) -> None:
        metrics.alert_sink_failures.labels(sink=name).inc()

    alerts = Fanout([KafkaSink(topics.alerts), LogSink()], sink_failed)
    alertmanager = AlertmanagerSink.from_settings(settings, on_failure=sink_failed)

    def observe(outcome: Outcome, seconds: float) -> None:
        metrics.record(outcome, seconds, names)

    deps = Deps(
        engine=engine,
        config=worker_config(settings),
        alerts=alerts,
        observe=observe,
        metrics_page=lambda: exposition(registry),
        output_failed=metrics.output_failed,
        monitor=lean_monitor(registry, FAUST_PREFIX),
        started_sinks=() if alertmanager is None else (alertmanager,),
    )
    worker = register(app, deps, topics, store)
    return Built(app, engine, registry, metrics, alerts, worker)
