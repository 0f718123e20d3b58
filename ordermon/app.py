"""The Faust application. `create_app(settings)` builds it; the module-level `app` (from the
environment) is what the agents' decorators bind to, Faust's own pattern. Agents are found by
autodiscovery of the `agents` package, never by a static import."""

from __future__ import annotations

import os
from typing import Any

import faust

from ordermon.config import Settings


def faust_options(settings: Settings) -> dict[str, Any]:
    return {
        "broker": settings.broker_url,
        "store": settings.store,
        "autodiscover": ["agents"],
        "datadir": settings.data_dir,
        "web_bind": settings.web_host,
        "web_host": settings.web_host,
        "web_port": settings.web_port,
        "web_enabled": True,
        "broker_session_timeout": settings.session_timeout_seconds,
        "broker_heartbeat_interval": min(3.0, settings.session_timeout_seconds / 3),
        "consumer_auto_offset_reset": "earliest",
        "topic_partitions": settings.partitions,
        "topic_replication_factor": settings.replication_factor,
        "producer_acks": -1,
        "processing_guarantee": "at_least_once",  # exactly_once: refused by the embedded broker
        "table_standby_replicas": 0,
        "stream_wait_empty": False,
    }


def create_app(settings: Settings) -> faust.App:
    app = faust.App(settings.app_id, **faust_options(settings))
    app.ordermon_settings = settings
    return app


settings = Settings.from_env(os.environ)
app = create_app(settings)
