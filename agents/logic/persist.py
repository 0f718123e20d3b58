"""WarehouseState <-> changelog records. A warehouse is one *head* record (totals, offsets applied,
watermark inputs, detector state) plus one record per hour of event time holding its minute
buckets; each bucket carries the offsets applied to it, so each record is idempotent on its own
(see agents.logic.flow). An hour, not a minute: a catch-up writes one record where it wrote up to
60, and a restart reads 24 a warehouse-day instead of 1,440. A network-wide episode
(`cascade` of ``*``, `warehouse_silent` of a warehouse) is one record of its own, so that it keeps
its alert id across a restart or a rebalance and ends with a `resolved` message."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from ordermon.agents.logic.alerts import Episode
from ordermon.agents.logic.detector import DetectorState
from ordermon.agents.logic.flow import (
    N_FLOWS,
    Bucket,
    WarehouseState,
    applied_items,
)
from ordermon.agents.logic.rhythm import Rhythm
from ordermon.agents.logic.windows import HOUR_MS
from ordermon.streams.codec import dumps, loads

VERSION = 1
#: Largest record written to a changelog: under Kafka's default 1,000,000-byte message limit, with
#: room for the key and the record overhead. The minute buckets' event ids (kept for the
#: de-duplication horizon) are the only part that grows with traffic; an hour that would exceed
#: this is written without them (its counts and offsets stay exact; after a restart, a redelivered
#: copy of one of its events with a new offset would be counted again).
RECORD_MAX_BYTES = 900_000


def _kept(raw: bytes) -> bytes:
    """A copy of a record that a table keeps: exactly its length. orjson (3.13) returns its bytes
    in a buffer of at least 4 KiB, and a minute's record of about 100 bytes is held for the whole
    retention: 4 KiB a warehouse-minute, 5.5 GiB for 1,000 warehouses over a day."""
    return bytes(memoryview(raw))


def _counts(raw: Any) -> list[int]:
    counts = [int(c) for c in raw][:N_FLOWS]
    return counts + [0] * (N_FLOWS - len(counts))


def head_to_bytes(state: WarehouseState, detector: Any = None) -> bytes:
    """`detector`: the detector's `to_json()`, or `detector_json` of it."""
    record = {
        "v": VERSION,
        "totals": state.totals,
        "applied": state.applied,
        "newest": state.newest_by_topic,
        "late": state.late,
        "dup": state.duplicates,
        "dupid": state.duplicate_ids,
        "idsfloor": state.ids_floor_ms,
        "closed": state.closed_through_ms,
        "p": state.partition,
        "det": detector,
        # nothing closed yet: the minutes held may lie anywhere (a sparse topic read days
        # ahead), so the head names them; once a minute closed, they lie within the
        # retention back from it (see `held_minutes`)
        **({"held": sorted(state.minutes)} if state.closed_through_ms is None else {}),
    }
    return _kept(dumps(record))


def detector_json(detector: DetectorState, split: int | None = None) -> Any:
    """`detector.to_json(split)` for `head_to_bytes`, encoded once per minute evaluated (and
    split): a head is written at every flush its warehouse counted events in, and its detector
    changes only when a minute is evaluated (`evaluate_minute` ends by moving `last_at_ms` on).
    The head's bytes are the same as with the dict."""
    cached = detector.encoded
    key = (detector.last_at_ms, split)
    if cached is None or cached[0] != key:
        encoded = orjson.Fragment(dumps(detector.to_json(split)))
        cached = detector.encoded = (key, encoded)
    return cached[1]


#: Hours of a warehouse's rhythm per record of their own (`rhythm_key`). The rhythm keeps weeks
#: of hourly rows (`rhythm_weeks` + 1: 672 hours at the default), and a head is written at every
#: flush its warehouse changed in: with every row in it a month-old busy warehouse's head was
#: 26 KB, rewritten every flush. A row never changes once its hour has passed, so the rows of
#: every block of hours that has passed are written once, in a record of the block, and the
#: head carries only the rows after the last block whose record is durable.
RHYTHM_BLOCK_HOURS = 6


def rhythm_key(warehouse: str, block: int) -> bytes:
    """``<warehouse>@r<block>``: the rhythm's rows of absolute hours ``block * 6`` to
    ``block * 6 + 5`` (hours since the epoch), in the minutes' table beside the hours'."""
    return f"{warehouse}@r{block}".encode()


def rhythm_block_to_bytes(rhythm: Rhythm, block: int) -> bytes:
    """The rows of `block` the rhythm holds (those of hours before its first row are gone)."""
    assert rhythm.first_hour is not None
    first = max(rhythm.first_hour, block * RHYTHM_BLOCK_HOURS)
    end = (block + 1) * RHYTHM_BLOCK_HOURS
    rows = rhythm.rows[first - rhythm.first_hour : end - rhythm.first_hour]
    return _kept(dumps({"v": VERSION, "first": first, "rows": [list(r) for r in rows]}))


def join_rhythm(
    det: dict[str, Any], get: Callable[[int], bytes | None]
) -> tuple[list[int], int | None]:
    """A head's detector JSON whose rhythm was written with a split (`Rhythm.to_json`): its
    rows before the split put back, in place, from the records of their blocks (`get(block)`:
    the record's bytes, or None). An hour no record holds (a record lost) comes back as an
    hour not seen, which the rhythm learns nothing from. Returns the blocks whose record was
    found (those after the split too: written while the head still held their rows), and the
    split (None: the head held every row)."""
    rhythm = det.get("rhythm")
    if not rhythm or rhythm.get("first") is None:
        return [], None
    split = rhythm.pop("split", None)
    first = int(rhythm["first"])
    start = first if split is None else int(split)  # the head's rows begin here
    end = start + len(rhythm["rows"])
    found: list[int] = []
    rows: dict[int, Any] = {}
    # every block there is, up to the head's last row: one written after the head began to hold
    # them (not in the changelog yet when the head was written) is known, and deleted in its time
    for block in range(first // RHYTHM_BLOCK_HOURS, (end - 1) // RHYTHM_BLOCK_HOURS + 1):
        raw = get(block)
        if raw is None:
            continue
        found.append(block)
        if block * RHYTHM_BLOCK_HOURS < start:
            record = loads(raw)
            begin = int(record["first"])
            rows.update((begin + i, row) for i, row in enumerate(record["rows"]))
    if split is not None:
        rhythm["rows"] = [rows.get(hour, []) for hour in range(first, start)] + rhythm["rows"]
    return found, None if split is None else start


def head_from_bytes(warehouse: str, raw: bytes) -> tuple[WarehouseState, dict[str, Any] | None]:
    obj = loads(raw)
    state = WarehouseState(
        warehouse=warehouse,
        totals=_counts(obj["totals"]),
        applied={str(k): int(v) for k, v in obj["applied"].items()},
        newest_by_topic={str(k): int(v) for k, v in obj["newest"].items()},
        late=int(obj["late"]),
        duplicates=int(obj.get("dup", 0)),
        duplicate_ids=int(obj.get("dupid", 0)),
        ids_floor_ms=obj.get("idsfloor"),
        closed_through_ms=obj["closed"],
        partition=obj.get("p"),
    )
    return state, obj.get("det")


def held_minutes(raw: bytes) -> list[int] | None:
    """The minutes a head written before any minute of its warehouse closed says it holds (None:
    not named, the retention back from the newest event holds them)."""
    held = loads(raw).get("held")
    return None if held is None else [int(m) for m in held]


def _bucket_json(bucket: Bucket, ids: bool = True) -> dict[str, Any]:
    applied = applied_items(bucket)
    if ids and bucket.ids:
        return {"c": bucket.counts, "a": applied, "i": bucket.ids}
    return {"c": bucket.counts, "a": applied}


def _bucket(obj: Any) -> Bucket:
    ids = obj.get("i")
    return Bucket(
        counts=_counts(obj["c"]),
        applied=[x for k, v in obj["a"].items() for x in (str(k), int(v))],
        ids={str(k): str(v) for k, v in ids.items()} if ids else None,
    )


def hour_of(minute_ms: int) -> int:
    """The start of the hour (of event time) a minute lies in: its record's."""
    return minute_ms - minute_ms % HOUR_MS


def bucket_fragment(bucket: Bucket) -> orjson.Fragment:
    """A bucket's part of its hour's record, encoded once for as long as it does not change
    (`hour_to_bytes`)."""
    return orjson.Fragment(_kept(dumps(_bucket_json(bucket))))


def hour_to_bytes(
    buckets: Mapping[int, Bucket], encoded: Mapping[int, orjson.Fragment] | None = None
) -> bytes:
    """One record of a warehouse-hour: the buckets of its minutes (minute start -> bucket), each
    with the offsets applied to it, so the record is idempotent like a minute's was; written
    whole, so its minutes are never from two different flushes. `encoded`: the buckets' parts
    already encoded (`bucket_fragment`; the same bytes), as many as the caller knows unchanged:
    the current hour is written at every flush, and most of its minutes did not change."""
    parts: Mapping[int, Any] = encoded or {}
    raw = dumps(
        {"v": VERSION, "m": {m: parts.get(m) or _bucket_json(b) for m, b in buckets.items()}}
    )
    if len(raw) > RECORD_MAX_BYTES:
        raw = dumps({"v": VERSION, "m": {m: _bucket_json(b, False) for m, b in buckets.items()}})
    return _kept(raw)


def hour_from_bytes(raw: bytes) -> dict[int, Bucket]:
    return {int(m): _bucket(obj) for m, obj in loads(raw)["m"].items()}


def hour_key(warehouse: str, hour_ms: int) -> bytes:
    return f"{warehouse}@h{hour_ms}".encode()


def network_key(kind: str, warehouse: str) -> bytes:
    """``<warehouse>@<kind>``: like a minute key, the part before ``@`` names the warehouse whose
    partition holds the record (``*``, the network, lives in partition 0)."""
    return f"{warehouse}@{kind}".encode()


def episode_to_bytes(episode: Episode) -> bytes:
    return _kept(dumps({"v": VERSION, "episode": episode.to_json()}))


def episode_from_bytes(raw: bytes) -> Episode:
    return Episode.from_json(loads(raw)["episode"])
