"""The ingest agent through Faust's test context (no broker): events in, table records,
changelog writes and dead letters out. Sends to Kafka are captured instead of produced."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from ordermon.agents.logic.policy import Policy
from ordermon.app import Built, build
from ordermon.config import Settings


def order(n: int, wh: str) -> bytes:
    return orjson.dumps(
        {
            "event_id": f"f{n}",
            "status": "placed",
            "order_id": f"o{n}",
            "warehouse": wh,
            "occurred_at": f"2026-11-22T08:{n % 60:02d}:00Z",
        }
    )


@pytest.fixture
def built() -> Built:
    """A worker's app and dependencies from the default settings (memory store, no broker)."""
    return build(Settings.from_env({}), Policy())


@pytest.fixture
def captured(built: Built, monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    sent: dict[str, list[Any]] = {"changelog": [], "deadletter": []}

    def changelog(partition: int | None, key: Any, value: Any, **kw: Any) -> None:
        sent["changelog"].append((partition, key, value))

    async def dead(key: bytes, value: bytes) -> None:
        sent["deadletter"].append((key, orjson.loads(value)))

    store = built.worker.store
    monkeypatch.setattr(store.heads, "send_changelog", changelog)
    monkeypatch.setattr(store.minutes, "send_changelog", changelog)
    monkeypatch.setattr(built.worker.topics.deadletter, "send", dead)
    return sent


def on_topic(agent: Any, topic: str) -> None:
    """The test context names its messages' topic "<internal>" for a multi-topic agent; give
    them the real input topic, as the worker's consumer does."""
    original = agent.to_message

    def to_message(key: Any, value: Any, **kw: Any) -> Any:
        message = original(key, value, **kw)
        message.topic = topic
        return message

    agent.to_message = to_message


async def test_agent_counts_events_and_writes_the_changelog(
    built: Built, captured: dict[str, list[Any]]
) -> None:
    engine, heads = built.engine, built.worker.store.heads
    async with built.worker.agent.test_context() as agent:
        on_topic(agent, "orders")
        for n in range(6):
            await agent.put(order(n, "FN-1"), key=b"FN-1")
        await agent.put(b"not json at all", key=b"FN-1")
        await agent.put(order(7, "FN-2"), key=b"FN-2")
    state = engine.state("FN-1")
    assert state is not None and state.totals[0] == 6
    assert engine.state("FN-2") is not None
    assert set(heads.data) == {b"FN-1", b"FN-2"}
    keys = {key for _p, key, _v in captured["changelog"]}
    assert {b"FN-1", b"FN-2"} <= keys
    assert any(k.startswith(b"FN-1@h") for k in keys)  # per-hour records
    assert len(captured["deadletter"]) == 1
    key, letter = captured["deadletter"][0]
    assert key == b"orders"  # dead letters are keyed by their source topic
    assert letter["error"].startswith("the value is not JSON")
    assert letter["payload"] == "not json at all"
