"""The batch pipeline without Kafka: decode, dead letters, warehouse limit, persistence,
recovery."""

from __future__ import annotations

from collections.abc import Iterable

import orjson

from agents.logic.flow import FlowConfig
from agents.pipeline import HEADS, MINUTES, Message, Pipeline, Write
from streams.topics import TopicNames

T0_ISO = "2026-11-22T08:{:02d}:{:02d}Z"
NOW_MS = 1_795_334_400_000 + 3_600_000  # 2026-11-22T09:00:00Z: the worker's clock


class MemoryBackend:
    def __init__(self) -> None:
        self.tables: dict[str, dict[bytes, bytes]] = {HEADS: {}, MINUTES: {}}

    def get(self, table: str, key: bytes) -> bytes | None:
        return self.tables[table].get(key)

    def keys(self, table: str) -> Iterable[bytes]:
        return list(self.tables[table])

    def write(self, w: Write) -> None:
        if w.value is None:
            self.tables[w.table].pop(w.key, None)
        else:
            self.tables[w.table][w.key] = w.value


def order(n: int, wh: str = "W1", minute: int = 0, status: str = "placed") -> bytes:
    return orjson.dumps(
        {
            "event_id": f"e{n}",
            "status": status,
            "order_id": f"o{n}",
            "warehouse": wh,
            "occurred_at": T0_ISO.format(minute, n % 60),
        }
    )


def msg(offset: int, value: bytes, wh: str = "W1", topic: str = "orders", p: int = 0) -> Message:
    return Message(topic, p, offset, wh.encode(), value)


def pipeline(backend: MemoryBackend, **kw: object) -> Pipeline:
    return Pipeline(FlowConfig(), TopicNames(), backend, **kw)  # type: ignore[arg-type]


def run(p: Pipeline, backend: MemoryBackend, batch: list[Message]) -> None:
    for w in p.process(batch, NOW_MS).writes:
        backend.write(w)


def test_counts_and_dead_letters_in_one_batch() -> None:
    backend = MemoryBackend()
    p = pipeline(backend)
    batch = [msg(i, order(i)) for i in range(5)]
    batch.append(msg(5, b"{not json"))
    batch.append(msg(6, order(6, wh="W2"), wh="W1"))  # key differs from the warehouse field
    out = p.process(batch, NOW_MS)
    assert out.counted == {("orders", "placed", "W1"): 5}
    assert [d.reason for d in out.deadletters] == ["not_json", "key_mismatch"]
    dead = out.deadletters[0].to_wire()
    assert dead["source_topic"] == "orders" and dead["offset"] == 5
    assert dead["payload"] == "{not json"


def test_prefixed_topics_map_back_to_the_contract() -> None:
    backend = MemoryBackend()
    p = Pipeline(FlowConfig(), TopicNames("shop1."), backend)
    out = p.process([msg(0, order(0), topic="shop1.orders")], NOW_MS)
    assert out.counted == {("orders", "placed", "W1"): 1}


def test_warehouse_limit_dead_letters_new_warehouses_only() -> None:
    backend = MemoryBackend()
    p = pipeline(backend, max_warehouses=2)
    batch = [msg(i, order(i, wh=f"W{i % 3}"), wh=f"W{i % 3}") for i in range(9)]
    out = p.process(batch, NOW_MS)
    assert sum(out.counted.values()) == 6
    assert {d.reason for d in out.deadletters} == {"warehouse_limit"}
    assert len(out.deadletters) == 3
    assert "ORDERMON_MAX_WAREHOUSES" in out.deadletters[0].error


def test_future_timestamp_is_dead_lettered() -> None:
    backend = MemoryBackend()
    p = pipeline(backend, max_future_ms=60_000)
    late_clock = NOW_MS - 2 * 3_600_000  # the events are 1-2 h ahead of this clock
    out = p.process([msg(0, order(0))], late_clock)
    assert [d.reason for d in out.deadletters] == ["future_timestamp"]


def test_a_new_pipeline_recovers_from_the_backend_and_skips_replayed_offsets() -> None:
    backend = MemoryBackend()
    first = pipeline(backend)
    run(first, backend, [msg(i, order(i, minute=i % 20)) for i in range(40)])
    # a crash: the new process replays offsets 30..39 (already applied), then new ones
    second = pipeline(backend)
    replay = [msg(i, order(i, minute=i % 20)) for i in range(30, 50)]
    out = second.process(replay, NOW_MS)
    assert sum(out.duplicates.values()) == 10
    assert sum(out.counted.values()) == 10
    state = second.state("W1")
    assert state is not None
    assert state.totals[0] == 50
    assert sum(b.counts[0] for b in state.minutes.values()) == 50


def test_snapshots_list_every_known_warehouse() -> None:
    backend = MemoryBackend()
    p = pipeline(backend)
    run(p, backend, [msg(i, order(i, wh=f"W{i % 4}"), wh=f"W{i % 4}") for i in range(8)])
    fresh = pipeline(backend)
    assert [s.warehouse for s in fresh.snapshots()] == ["W0", "W1", "W2", "W3"]
    assert all(s.totals["orders_placed"] == 2 for s in fresh.snapshots())


def test_a_replay_rewrites_the_records_it_touches_to_the_changelog() -> None:
    """After a crash the changelog may lack what the uncommitted messages changed, while an
    on-disk store holds it: the replay changes nothing but writes those records again, so a
    worker that rebuilds from the changelog alone sees every minute."""
    local = MemoryBackend()  # the crashed worker's on-disk store: every write arrived
    first = pipeline(local)
    run(first, local, [msg(i, order(i, minute=i % 20)) for i in range(40)])
    changelog = MemoryBackend()  # what reached Kafka: only the writes up to offset 19
    run(pipeline(changelog), changelog, [msg(i, order(i, minute=i % 20)) for i in range(20)])

    restarted = pipeline(local)
    out = restarted.process([msg(i, order(i, minute=i % 20)) for i in range(20, 40)], NOW_MS)
    assert sum(out.duplicates.values()) == 20 and not out.counted
    assert changelog.tables[MINUTES] != local.tables[MINUTES]  # minutes 0..19 of 20..39 lost
    for w in out.writes:
        changelog.write(w)
        local.write(w)
    assert changelog.tables == local.tables
    rebuilt = pipeline(changelog).state("W1")
    assert rebuilt is not None and rebuilt.totals[0] == 40
    assert sum(b.counts[0] for b in rebuilt.minutes.values()) == 40
