"""Every scenario `ordermon simulate` knows, by name: the realistic operations scenarios
(`realistic`) and the short fixed-pace ones (`scenarios`), both configurations of the one traffic
model (`operations`); as JSON lines for `--out` or as contract events for the Kafka simulator."""

from __future__ import annotations

from collections.abc import Iterator

from ordermon.backtest import to_line
from ordermon.devtools import realistic, scenarios
from ordermon.devtools.malformed import Malformed
from ordermon.devtools.operations import Message, Scenario
from ordermon.streams.codec import decode
from ordermon.streams.events import Event
from ordermon.streams.validation import Rejection


def names() -> list[tuple[str, str]]:
    """(name, description) of every scenario, the realistic ones first."""
    out = [(n, realistic.build(n, days=1, scale=0.01).description) for n in realistic.SCENARIOS]
    out += [(n, f(days=1, scale=0.01).description) for n, f in realistic.STORIES.items()]
    out += [(n, scenarios.build(n, days=0.01).description) for n in scenarios.SCENARIOS]
    return out


def source(name: str, *, seed: int = 0, days: float | None = None, scale: float = 1.0) -> Scenario:
    """The scenario called `name`; ValueError listing every known name otherwise."""
    if name in realistic.SCENARIOS:
        return realistic.build(name, seed=seed, days=days, scale=scale)
    if name in realistic.STORIES:
        return realistic.STORIES[name](seed=seed, days=days, scale=scale)
    if name in scenarios.SCENARIOS:
        return scenarios.build(name, seed=seed, days=days, scale=scale)
    known = ", ".join(n for n, _ in names())
    raise ValueError(f"unknown scenario {name!r}; known: {known}")


def event_of(m: Message) -> Event | Malformed:
    """A message of the model as a contract event, or as the `Malformed` message it is."""
    if m.why:
        return Malformed.of(m)
    event = decode(m.topic, m.key, m.value)
    if isinstance(event, Rejection):  # the model writes the contract; never happens
        raise AssertionError(f"the model wrote a bad event: {event.message}: {m.value!r}")
    return event


def events(scenario: Scenario) -> Iterator[Event | Malformed]:
    """The scenario's messages as contract events (and malformed messages), in arrival order."""
    return (event_of(m) for m in scenario.run().messages())


def lines(scenario: Scenario) -> Iterator[bytes]:
    """The scenario as a recorded-events file (`ordermon backtest` reads it), one line each."""
    for m in scenario.run().messages():
        yield to_line(m.topic, m.key, m.value, raw=bool(m.why))
