"""Faust tables keyed by warehouse (storage only: the meaning lives in agents.logic).

`heads`: one record per warehouse; `minutes`: one record per (warehouse, hour of event time)
holding its minute buckets; `network`: one record per network-wide episode (`warehouse_silent` of
a warehouse, in its partition; `cascade` of ``*``, in partition 0). All are backed by changelog
topics with the input topics' partition count, so a warehouse's records live in the partition its
events come from. `TableStore` is the engine's `Store` over them."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from ordermon.agents.engine import HEADS, MINUTES, NETWORK, Write
from ordermon.agents.logic.persist import RECORD_MAX_BYTES

log = logging.getLogger(__name__)

HEADS_TABLE = "warehouse-heads"
MINUTES_TABLE = "warehouse-minutes"
NETWORK_TABLE = "network-episodes"


class TableStore:
    """The engine's Store over the Faust tables."""

    def __init__(self, app: Any, heads: Any, minutes: Any, network: Any) -> None:
        self.app = app  # App.output_failed counts a record kept out of the changelog
        self.heads = heads
        self.minutes = minutes
        self.network = network
        self._tables: dict[str, Any] = {HEADS: heads, MINUTES: minutes, NETWORK: network}

    def get(self, table: str, key: bytes) -> bytes | None:
        value = self._tables[table].data.get(key)
        return value if value is None else bytes(value)

    def keys(self, table: str) -> Iterable[bytes]:
        return list(self._tables[table].data.keys())

    def write(self, write: Write) -> None:
        """Store a record and send it to the changelog partition of the warehouse's events.

        (Faust's `table[key] = value` finds the partition from the current event, which a batch
        taken with `take_events` does not set; so the partition is passed explicitly.)"""
        table = self._tables[write.table]
        if write.value is None:
            if write.key in table.data:
                del table.data[write.key]
                table.send_changelog(write.partition, write.key, None, value_serializer="raw")
        else:
            table.data[write.key] = write.value
            if len(write.value) + len(write.key) > RECORD_MAX_BYTES:
                # Kafka would refuse it and Faust's producer would crash the worker: keep it in
                # the local table, say so once, count it (a crash before its next write loses it).
                self.app.output_failed("changelog")
                log.error(
                    "table record %r of %s is %d bytes, over the %d a changelog record may hold: "
                    "kept in memory, not sent to the changelog",
                    write.key[:80],
                    write.table,
                    len(write.value),
                    RECORD_MAX_BYTES,
                )
                return
            table.send_changelog(write.partition, write.key, write.value)


def register_tables(app: Any, partitions: int) -> TableStore:
    def table(name: str, help: str) -> Any:
        return app.Table(name, key_type=bytes, value_type=bytes, partitions=partitions, help=help)

    heads_help = "per-warehouse totals, offsets applied, watermark inputs and detector state"
    return TableStore(
        app,
        table(HEADS_TABLE, heads_help),
        table(MINUTES_TABLE, "per-warehouse per-minute counts in event time"),
        table(NETWORK_TABLE, "network-wide alert episodes (cascade of *, silent warehouses)"),
    )
