"""Table stores beyond Faust's registry (`ORDERMON_STORE`): ``rocksdict://``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from faust.stores.rocksdb import Store
from faust.streams import current_event


def warehouse_of(key: bytes) -> str:
    """The warehouse of an ordermon table key: ``<warehouse>`` (heads) or
    ``<warehouse>@<minute>`` (minutes); a warehouse id never holds ``@``."""
    return key.split(b"@", 1)[0].decode("utf-8", "replace")


class RocksDictStore(Store):  # type: ignore[misc]
    """Faust's RocksDB store with the driver forced to `rocksdict` (``rocksdict://``).

    Tables live under ``ORDERMON_DATA_DIR``, one database per changelog partition, and each
    database remembers the changelog offset it holds, so a restarted worker reads only the
    changelog written since, not all of it.

    Faust's store finds the partition of a write from the current stream event. The ingest agent
    writes a whole batch (`take_events`) with no current event, so here the partition is the one
    the engine last saw the record's warehouse on (`App.partition_of`, set by
    agents.worker.register): the partition its changelog record goes to
    (agents.engine.Write.partition)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["driver"] = "rocksdict"
        super().__init__(*args, **kwargs)
        self.restored = 0  # changelog records applied by recoveries since the process started

    def apply_changelog_batch(
        self, batch: Iterable[Any], to_key: Callable[[Any], Any], to_value: Callable[[Any], Any]
    ) -> None:
        events = list(batch)
        self.restored += len(events)
        super().apply_changelog_batch(events, to_key, to_value)

    def _partition_for(self, key: bytes) -> int:
        event = current_event()
        if event is not None:
            return int(event.message.partition)
        partition = self.app.partition_of(warehouse_of(key))
        if partition is None:
            known = self._key_index.get(key)
            if known is None:
                raise LookupError(f"no partition known for table key {key!r}")
            return int(known)
        return int(partition)

    def _set(self, key: bytes, value: bytes | None) -> None:
        partition = self._partition_for(key)
        old = self._key_index.get(key)
        if old is not None and old != partition:  # the warehouse moved partition: one copy only
            self._db_for_partition(old).delete(key)
        self._key_index[key] = partition
        self._db_for_partition(partition).put(key, value)

    def _get(self, key: bytes) -> bytes | None:
        # Always look the key up in whichever partition holds it: a current event of another
        # partition must not hide it.
        found = self._get_bucket_for_key(key)
        return None if found is None else bytes(found.value)
