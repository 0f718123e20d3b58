"""The Faust application. `create_app(settings)` builds it; the module-level `app` (from the
environment) is what the agents' decorators bind to, Faust's own pattern. Agents are found by
autodiscovery of the `agents` package, never by a static import."""

from __future__ import annotations

import os
from typing import Any

import faust

from ordermon.config import Settings
from ordermon.security import broker_credentials


def _register_rocksdict_store() -> None:
    """``rocksdict://``: Faust's RocksDB store on the `rocksdict` driver (a wheel, no C build),
    whichever RocksDB bindings are installed. ``rocksdb://`` picks rocksdict too when installed."""
    from faust.stores import STORES

    STORES.aliases.setdefault("rocksdict", "ordermon.stores:RocksDictStore")


def faust_options(settings: Settings) -> dict[str, Any]:
    store = settings.store
    if store.startswith(("rocksdb://", "rocksdict://")):
        # Faust's own rocksdb store needs a current event to place a write; the ingest agent
        # writes whole batches, so both schemes use ordermon.stores.RocksDictStore.
        _register_rocksdict_store()
        store = "rocksdict://" + store.split("://", 1)[1]
    return {
        "broker": settings.broker_url,
        "broker_credentials": broker_credentials(settings),
        "store": store,
        # Messages stay bytes until streams.codec decodes them: with Faust's default (json) a
        # value that is not JSON fails in Faust, before the agent, and stalls its partition.
        "key_serializer": "raw",
        "value_serializer": "raw",
        "autodiscover": ["agents"],
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


class App(faust.App):  # type: ignore[misc]
    """Faust's App on ordermon.transport (exact end offsets for recovery, the input batch path)
    when the broker is Kafka."""

    def _new_transport(self) -> Any:
        from ordermon.transport import Transport

        urls = self.conf.broker_consumer
        if urls and str(urls[0]).startswith(("kafka://", "aiokafka://")):
            return Transport(urls, self)
        return super()._new_transport()


def create_app(settings: Settings) -> faust.App:
    app = App(settings.app_id, **faust_options(settings))
    app.ordermon_settings = settings
    return app


settings = Settings.from_env(os.environ)
app = create_app(settings)
