"""Driving the engine offline, as `ordermon backtest` and the scenario tests do: events become the
records a publisher sends, fed in batches to `Engine.offline` (an in-memory store, no clock)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ordermon.agents.engine import Engine, message_of
from ordermon.agents.logic.flow import FlowConfig
from ordermon.agents.logic.policy import Policy
from ordermon.streams.events import Event
from ordermon.streams.outputs import Alert


def feed(engine: Engine, events: Sequence[Event]) -> list[Alert]:
    """One batch; the alert transitions it gave."""
    return engine.process([message_of(e) for e in events], None).alerts


def replay(
    events: Iterable[Event], flow: FlowConfig, policy: Policy, batch: int = 1
) -> list[Alert]:
    """Every alert transition of `events`, in order, `batch` events at a time."""
    engine = Engine.offline(flow, policy)
    out: list[Alert] = []
    pending: list[Event] = []
    for event in events:
        pending.append(event)
        if len(pending) >= batch:
            out += feed(engine, pending)
            pending = []
    return out + (feed(engine, pending) if pending else [])
