"""A warehouse's rhythm keeps weeks of hourly rows; once an hour has passed its row never changes.
The rows are written once, six hours to a record (`persist.rhythm_key`), and the head (written
at every flush the warehouse changed in) carries only the rows after the last block whose record
is in its changelog. Nothing may tell: a restart loads the same rhythm, whether the worker stopped
cleanly or was killed in mid-flush with only one of the two changelogs written, and the records
of blocks the rhythm no longer keeps are deleted once the head that no longer needs them is."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from ordermon.agents.engine import HEADS, MINUTES, Engine, MemoryStore, Message, Write, message_of
from ordermon.agents.logic.flow import FlowConfig
from ordermon.agents.logic.persist import RHYTHM_BLOCK_HOURS
from ordermon.agents.logic.policy import Policy
from ordermon.agents.logic.windows import HOUR_MS
from ordermon.devtools.bench import generate
from ordermon.streams.events import OrderEvent

END_MS = 1_780_000_000_000 - 1_780_000_000_000 % HOUR_MS
WAREHOUSES = 3


def batches(days: float, events: int) -> list[list[Message]]:
    span = int(days * 24 * 60)
    stream = generate(events, warehouses=WAREHOUSES, span_minutes=span, end_ms=END_MS)
    live = [Message(t, n % 2, n, k, v) for n, (t, k, v, _a) in enumerate(stream)]
    return [live[i : i + 400] for i in range(0, len(live), 400)]


def rhythm_json(engine: Engine) -> dict[str, Any]:
    return {w: d.to_json() for w, d in sorted(engine.detectors.items())}


def run(
    policy: Policy, parts: list[list[Message]], store: MemoryStore
) -> tuple[Engine, list[list[Write]], list[dict[str, Any]]]:
    """Every batch flushed and written; the detectors as of each flush."""
    engine = Engine(FlowConfig(), policy, store)
    flushes, states = [], []
    for batch in parts:
        engine.process(batch, None, flush=False)
        writes = engine.flush()
        for w in writes:
            store.write(w)
        flushes.append(writes)
        states.append(rhythm_json(engine))
    return engine, flushes, states


def reloaded(policy: Policy, store: MemoryStore, warehouses: list[str]) -> dict[str, Any]:
    again = Engine(FlowConfig(), policy, store)
    for w in warehouses:
        assert again.state(w) is not None
    return rhythm_json(again)


def head_rows(store: MemoryStore) -> dict[str, int]:
    return {
        k.decode(): len(orjson.loads(v)["det"]["rhythm"]["rows"])
        for k, v in store.tables[HEADS].items()
    }


def blocks(store: MemoryStore) -> list[bytes]:
    return [k for k in store.tables[MINUTES] if b"@r" in k]


def test_heads_carry_hours_not_weeks_and_a_restart_loads_the_same_rhythm() -> None:
    policy = Policy()
    store = MemoryStore()
    engine, _, states = run(policy, batches(3, 15_000), store)
    rows = {w: len(d.rhythm.rows) for w, d in engine.detectors.items()}
    assert min(rows.values()) >= 48  # days of hours
    # the running hour, the rest of its block, and a block waiting for its record to be
    # durable at most
    assert max(head_rows(store).values()) <= 2 * RHYTHM_BLOCK_HOURS + 1
    assert len(blocks(store)) >= WAREHOUSES * 8
    assert reloaded(policy, store, sorted(rows)) == states[-1]


@pytest.mark.parametrize("kept", [HEADS, MINUTES])
def test_killed_in_mid_flush_with_one_changelog_written(kept: str) -> None:
    """The last flush reached only one of the two changelogs: with only the heads, they must not
    need the blocks that flush wrote; with only the blocks, the heads before hold as before."""
    policy = Policy()
    parts = batches(2, 8_000)
    store = MemoryStore()
    engine, _, states = run(policy, parts[:-1], store)
    engine.process(parts[-1], None, flush=False)
    last = engine.flush()
    assert any(b"@r" in w.key for w in last) or kept == HEADS
    for w in last:
        if w.table == kept:
            store.write(w)
    expected = rhythm_json(engine) if kept == HEADS else states[-1]
    assert reloaded(policy, store, sorted(engine.detectors)) == expected


def test_blocks_the_rhythm_no_longer_keeps_are_deleted() -> None:
    """With one week learned the rhythm keeps two weeks of rows; after 18 days of events its
    first blocks are gone, and so are their records (once a later flush wrote the heads without
    them)."""
    policy = Policy(rhythm_weeks=1)
    store = MemoryStore()
    engine, flushes, states = run(policy, batches(18, 12_000), store)
    for w in engine.flush():  # one more: the deletions queued by the last one go
        store.write(w)
    deleted = [w.key for f in flushes for w in f if w.value is None and b"@r" in w.key]
    assert len(deleted) >= WAREHOUSES * 4
    for w, det in engine.detectors.items():
        first = det.rhythm.first_hour
        assert first is not None and len(det.rhythm.rows) <= 2 * 168
        held = [int(k.split(b"@r")[1]) for k in blocks(store) if k.startswith(f"{w}@r".encode())]
        assert min(held) == first // RHYTHM_BLOCK_HOURS
        assert len(held) <= 2 * 168 // RHYTHM_BLOCK_HOURS + 2
    assert reloaded(policy, store, sorted(engine.detectors)) == states[-1]


def test_a_head_written_before_blocks_loads_as_before() -> None:
    """A head of the last release (every row in it, no split) loads as it did."""
    policy = Policy()
    store = MemoryStore()
    engine, _, states = run(policy, batches(2, 6_000), store)
    for key, raw in list(store.tables[HEADS].items()):
        head = orjson.loads(raw)
        warehouse = key.decode()
        head["det"] = engine.detectors[warehouse].to_json()  # every row, no split
        store.tables[HEADS][key] = orjson.dumps(head)
    for key in blocks(store):
        del store.tables[MINUTES][key]
    assert reloaded(policy, store, sorted(engine.detectors)) == states[-1]


def test_with_confirmed_deletes_a_block_counts_once_the_caller_says_it_is_written() -> None:
    """The worker says which flushes reached the changelogs (`durable`) when the engine says
    something waits for it (`deletes_waiting`): the blocks do, before any deletion does (a
    worker's first day deletes nothing), and until then the heads keep every row."""
    policy = Policy()
    store = MemoryStore()
    engine = Engine(FlowConfig(), policy, store, confirmed_deletes=True)
    parts = batches(0.9, 4_000)  # within the retention: no deletion waits
    for batch in parts[:-1]:
        engine.process(batch, None, flush=False)
        for w in engine.flush():
            store.write(w)
    assert blocks(store) and engine.deletes_waiting()
    rows = {w: len(d.rhythm.rows) for w, d in engine.detectors.items()}
    assert head_rows(store) == rows  # nothing confirmed: every row in the heads
    engine.durable()
    assert not engine.deletes_waiting()
    engine.process(parts[-1], None, flush=False)
    for w in engine.flush():
        store.write(w)
    assert max(head_rows(store).values()) <= 2 * RHYTHM_BLOCK_HOURS
    assert reloaded(policy, store, sorted(rows)) == rhythm_json(engine)


def test_a_warehouse_released_after_a_restart_leaves_no_block_behind() -> None:
    """Stopped right after a flush that wrote blocks (whose rows its heads still held), then
    restarted: a release at the warehouse limit deletes the warehouse's blocks with its head
    (it fails when a release leaves them)."""
    policy = Policy()
    store = MemoryStore()
    engine = Engine(FlowConfig(), policy, store)
    for n, batch in enumerate(batches(2, 6_000)):
        engine.process(batch, None, flush=False)
        writes = engine.flush()
        for w in writes:
            store.write(w)
        if n > 5 and any(b"@r" in w.key and w.value for w in writes):
            break  # stopped right after a flush that wrote blocks
    again = Engine(FlowConfig(), policy, store, max_warehouses=WAREHOUSES)
    released: list[str] = []
    for n in range(3):  # a fourth warehouse, two days on: the longest idle one goes
        at = END_MS + 2 * 24 * HOUR_MS + n * 60_000
        event = OrderEvent(
            event_id=f"o-new-{n}",
            status="placed",
            order_id=f"order-{n}",
            warehouse="NEW-1",
            occurred_at_ms=at,
        )
        out = again.process([message_of(event)], None)
        released += out.released
        for w in out.writes:
            store.write(w)
    assert len(released) == 1
    (gone,) = released
    assert not [k for k in blocks(store) if k.startswith(f"{gone}@r".encode())]
    assert gone.encode() not in store.tables[HEADS]
