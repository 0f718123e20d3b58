"""The current hour's record is written at every flush, and most of its minutes did not change
since the last: their encoded parts are kept and reused (`Engine._encoded`). The records must
be the very bytes of an encoding from scratch, whatever changed in between: late events in
older minutes, event ids dropped beyond the dedup horizon, minutes expired below the retention
floor, copies of events redelivered with new offsets, batches of any size."""

from __future__ import annotations

import random

import pytest

from ordermon.agents.engine import Engine, MemoryStore, Message, Write
from ordermon.agents.logic.flow import FlowConfig
from ordermon.agents.logic.policy import Policy
from ordermon.agents.logic.windows import MINUTE_MS
from ordermon.devtools.bench import generate

END_MS = 1_780_000_000_000 - 1_780_000_000_000 % MINUTE_MS
# a short retention and dedup horizon, so that minutes expire and drop their ids within the run
FLOW = FlowConfig(retention_ms=40 * MINUTE_MS, dedup_ms=5 * MINUTE_MS)


def stream(seed: int) -> list[Message]:
    events = list(generate(12_000, warehouses=6, span_minutes=150, end_ms=END_MS, seed=seed))
    rng = random.Random(seed)
    out: list[Message] = []
    for n, (topic, key, value, _at) in enumerate(events):
        out.append(Message(topic, n % 2, len(out), key, value))
        if rng.random() < 0.02:  # a copy redelivered with a new offset
            out.append(Message(topic, n % 2, len(out), key, value))
    return out


def writes(messages: list[Message], sizes: list[int]) -> list[list[Write]]:
    store = MemoryStore()
    engine = Engine(FLOW, Policy(), store, max_warehouses=100)
    flushes = []
    i = 0
    for size in sizes:
        batch = messages[i : i + size]
        i += size
        if not batch:
            break
        engine.process(batch, END_MS + MINUTE_MS, flush=False)
        written = engine.flush()
        for w in written:
            store.write(w)
        engine.durable()
        flushes.append(written)
    return flushes


@pytest.mark.parametrize("seed", [1, 2])
def test_reused_parts_give_the_bytes_of_an_encoding_from_scratch(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    messages = stream(seed)
    rng = random.Random(seed)
    sizes = [rng.choice([1, 7, 50, 400, 2_000]) for _ in range(len(messages))]
    reused = writes(messages, sizes)
    monkeypatch.setattr(Engine, "_encoded", lambda *_: None)  # every part encoded again
    fresh = writes(messages, sizes)
    assert sum(len(w) for w in reused) > 100  # the run wrote records at all
    assert any(w.value is None for ws in reused for w in ws)  # and hours expired
    assert reused == fresh
