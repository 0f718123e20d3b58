"""The Faust application class of the worker: Faust's App on agents.worker.transport (exact end
offsets for recovery, the input batch path) when the broker is Kafka, and the table store
``rocksdict://``. `create_app` builds one; nothing is registered on it here (see `register`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import faust

from ordermon.agents.worker.transport import BatchHandler, Transport

ROCKSDICT_STORE = "ordermon.agents.worker.store:RocksDictStore"


class App(faust.App):  # type: ignore[misc]
    # Set by agents.worker.register: the consumer's batch path (topics, handler), the partition
    # a warehouse's records belong to (the on-disk store's writes need it), and the counter of
    # outputs given up (ordermon_output_failures_total{output}: changelog records).
    batch_path: tuple[frozenset[str], BatchHandler] | None = None
    partition_of: Callable[[str], int | None] = staticmethod(lambda warehouse: None)
    output_failed: Callable[[str], None] = staticmethod(lambda output: None)

    def _new_transport(self) -> Any:
        urls = self.conf.broker_consumer
        if urls and str(urls[0]).startswith(("kafka://", "aiokafka://")):
            return Transport(urls, self)
        return super()._new_transport()


def store_url(store: str) -> str:
    """``rocksdb://`` and ``rocksdict://`` both mean agents.worker.store.RocksDictStore (Faust's
    own rocksdb store needs a current event to place a write; the ingest agent writes whole
    batches); any other URL is Faust's."""
    if not store.startswith(("rocksdb://", "rocksdict://")):
        return store
    from faust.stores import STORES

    STORES.aliases.setdefault("rocksdict", ROCKSDICT_STORE)
    return "rocksdict://" + store.split("://", 1)[1]


def create_app(app_id: str, options: Mapping[str, Any]) -> App:
    return App(app_id, **{**options, "store": store_url(str(options.get("store", "memory://")))})
