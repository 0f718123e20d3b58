"""Every scenario `ordermon simulate` knows, by name: the realistic operations scenarios
(`realistic`) and the short fixed-pace ones (`scenarios`), as JSON lines for `--out` or as
contract events for the Kafka simulator."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from ordermon.backtest import to_line
from ordermon.devtools import realistic, scenarios
from ordermon.devtools.operations import Scenario
from ordermon.devtools.scenarios import Malformed
from ordermon.streams.codec import decode, encode_event
from ordermon.streams.events import Event
from ordermon.streams.validation import Rejection


class Source(Protocol):
    """What the Kafka simulator sends: contract events (and malformed messages) in order."""

    @property
    def start_ms(self) -> int: ...

    def events(self) -> Iterator[Event | Malformed]: ...


@dataclass(frozen=True)
class Operations:
    """A realistic scenario as contract events, in arrival order."""

    scenario: Scenario

    @property
    def start_ms(self) -> int:
        return self.scenario.start_ms

    def events(self) -> Iterator[Event | Malformed]:
        for topic, key, value in self.scenario.wire():
            event = decode(topic, key, value)
            if isinstance(event, Rejection):  # the model writes the contract; never happens
                raise AssertionError(f"the model wrote a bad event: {event.message}: {value!r}")
            yield event


def names() -> list[tuple[str, str]]:
    """(name, description) of every scenario, the realistic ones first."""
    out = [(n, realistic.build(n, days=1, scale=0.01).description) for n in realistic.SCENARIOS]
    out += [(n, f(days=1, scale=0.01).description) for n, f in realistic.STORIES.items()]
    out += [(n, scenarios.build(n, days=0.01).description) for n in scenarios.SCENARIOS]
    return out


def source(name: str, *, seed: int = 0, days: float | None = None, scale: float = 1.0) -> Source:
    """The scenario called `name`; ValueError listing every known name otherwise."""
    if name in realistic.SCENARIOS:
        return Operations(realistic.build(name, seed=seed, days=days, scale=scale))
    if name in realistic.STORIES:
        return Operations(realistic.STORIES[name](seed=seed, days=days, scale=scale))
    if name in scenarios.SCENARIOS:
        return scenarios.build(name, seed=seed, days=days, scale=scale)
    known = ", ".join(n for n, _ in names())
    raise ValueError(f"unknown scenario {name!r}; known: {known}")


def lines(src: Source) -> Iterator[bytes]:
    """The scenario as a recorded-events file (`ordermon backtest` reads it), one line each."""
    if isinstance(src, Operations):
        for topic, key, value in src.scenario.wire():
            yield to_line(topic, key, value)
        return
    for item in src.events():
        if isinstance(item, Malformed):
            yield to_line(item.topic, item.key, item.value, raw=True)
        else:
            yield to_line(item.topic, item.warehouse.encode(), encode_event(item))
