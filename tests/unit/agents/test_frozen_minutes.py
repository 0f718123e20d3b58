"""Minutes more than `flow.HOT_MS` behind the last closed one are kept frozen (packed bytes, not a
`Bucket`): a day of 1,000 warehouses holds 1.44 M of them. Nothing may tell: the same events give
the same records (byte for byte), the same alerts, the same window sums and the same counts as
with every minute kept as a bucket, through late events that land in frozen minutes (they thaw
them), copies redelivered with new offsets, and a replay of messages already applied (a crash:
the frozen minute still knows its offsets)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from ordermon.agents.engine import Engine, MemoryStore, Message, Write
from ordermon.agents.logic import flow
from ordermon.agents.logic.flow import Bucket, FlowConfig, counts_between, freeze, thaw
from ordermon.agents.logic.policy import Policy
from ordermon.agents.logic.sliding import counts_of, window_sums
from ordermon.agents.logic.windows import HOUR_MS, MINUTE_MS
from ordermon.devtools.bench import generate

END_MS = 1_780_000_000_000 - 1_780_000_000_000 % MINUTE_MS
SPAN_MINUTES = 8 * 60


def story(seed: int) -> list[list[Message]]:
    """Batches: eight hours of traffic at 5 warehouses (some copies redelivered with new
    offsets), then copies of events hours old with new offsets (late, in frozen minutes), then
    a replay of a slice already applied, with its offsets (after a crash)."""
    rng = random.Random(seed)
    events = list(generate(20_000, warehouses=5, span_minutes=SPAN_MINUTES, end_ms=END_MS))
    live: list[Message] = []
    for n, (topic, key, value, _at) in enumerate(events):
        live.append(Message(topic, n % 2, len(live), key, value))
        if rng.random() < 0.01:
            live.append(Message(topic, n % 2, len(live), key, value))
    batches = [live[i : i + 500] for i in range(0, len(live), 500)]
    old = rng.sample(live[: len(live) // 3], 300)  # events of the first hours
    late = [Message(m.topic, m.partition, len(live) + i, m.key, m.value) for i, m in enumerate(old)]
    batches += [late[:150], late[150:]]
    batches.append(live[len(live) // 4 : len(live) // 4 + 2_000])  # applied before
    return batches


def run(batches: list[list[Message]]) -> tuple[list[list[Write]], list[Any], Engine]:
    store = MemoryStore()
    engine = Engine(FlowConfig(), Policy(), store, max_warehouses=100)
    flushes, seen = [], []
    for batch in batches:
        out = engine.process(batch, END_MS + MINUTE_MS, flush=False)
        seen.append((out.counted, out.duplicates, [a.to_json() for a in out.alerts]))
        written = engine.flush()
        for w in written:
            store.write(w)
        engine.durable()
        flushes.append(written)
    seen.append(engine.snapshots())
    return flushes, seen, engine


@pytest.mark.parametrize("seed", [3, 4])
def test_frozen_minutes_change_nothing(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    batches = story(seed)
    frozen_writes, frozen_seen, frozen = run(batches)
    with monkeypatch.context() as m:
        m.setattr(flow, "HOT_MS", 10 * 24 * HOUR_MS)  # every minute a bucket
        bucket_writes, bucket_seen, buckets = run(batches)
    held = [x for s in frozen.states.values() for x in s.minutes.values()]
    assert sum(isinstance(x, bytes) for x in held) > 1_000  # it did freeze
    assert not any(
        isinstance(x, bytes) for s in buckets.states.values() for x in s.minutes.values()
    )
    assert frozen_writes == bucket_writes
    assert frozen_seen == bucket_seen
    for warehouse, state in frozen.states.items():
        other = buckets.states[warehouse]
        assert {m: list(counts_of(x)) for m, x in state.minutes.items()} == {
            m: list(counts_of(x)) for m, x in other.minutes.items()
        }
        assert state.totals == other.totals and state.duplicates == other.duplicates
        at = state.closed_through_ms
        assert at is not None
        assert window_sums(state, at).sums == window_sums(other, at).sums
        assert counts_between(state, at - 24 * HOUR_MS, at) == counts_between(
            other, at - 24 * HOUR_MS, at
        )


def test_a_frozen_minute_thaws_to_the_same_bucket() -> None:
    bucket = Bucket(
        counts=[3, 0, 7, 0, 0, 1, 0, 2**31, 0], applied=["orders/0", 41, "refunds/3", 9]
    )
    raw = freeze(bucket)
    assert isinstance(raw, bytes) and len(raw) < 100
    back = thaw(raw)
    assert back == bucket and back is not bucket
    assert list(counts_of(raw)) == bucket.counts
    small = Bucket(counts=[65_535, 0, 1, 0, 0, 0, 0, 0, 0], applied=["orders/0", 2**40])
    assert len(freeze(small)) < len(raw) and thaw(freeze(small)) == small


def test_a_warehouse_loaded_from_its_records_holds_its_old_minutes_frozen() -> None:
    """After a restart: the same minutes and counts, the old ones frozen at once (a day of
    1,000 warehouses is not first loaded as buckets)."""
    _, _, engine = run(story(5))
    again = Engine(FlowConfig(), Policy(), engine.store, max_warehouses=100)
    for warehouse, state in engine.states.items():
        loaded = again.state(warehouse)
        assert loaded is not None
        mine = {m: list(counts_of(x)) for m, x in state.minutes.items()}
        assert {m: list(counts_of(x)) for m, x in loaded.minutes.items()} == mine
        assert sum(isinstance(x, bytes) for x in loaded.minutes.values()) > 200
