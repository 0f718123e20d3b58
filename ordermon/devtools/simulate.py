"""The thin loop that sends a scenario's messages to Kafka on an accelerated event-time clock."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from ordermon.devtools.catalogue import event_of
from ordermon.devtools.malformed import Malformed
from ordermon.devtools.operations import Scenario
from ordermon.streams.events import Event
from ordermon.streams.publisher import Publisher

Progress = Callable[["SimStats"], None]


@dataclass
class SimStats:
    sent: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # (topic, status, wh)
    malformed: Counter[str] = field(default_factory=Counter)  # topic -> bad messages sent
    event_time_ms: int | None = None
    done: bool = False

    @property
    def total(self) -> int:
        return sum(self.sent.values()) + sum(self.malformed.values())


async def run(
    scenario: Scenario,
    publisher: Publisher,
    *,
    speed: float = 0.0,
    batch: int = 500,
    stats: SimStats | None = None,
    on_progress: Progress | None = None,
) -> SimStats:
    """Send every message of `scenario` in arrival order. `speed` is event-time seconds per wall
    second (0: as fast as the broker takes them). Batches of up to `batch` events go out
    together; a malformed message goes out on its own, as it is."""
    stats = stats or SimStats()
    wall0 = time.monotonic()
    pending: list[Event] = []

    async def flush() -> None:
        if pending:
            await publisher.send_many(pending)
            pending.clear()
        if on_progress:
            on_progress(stats)

    for message in scenario.run().messages():
        if speed > 0:
            due = wall0 + (message.arrival_ms - scenario.start_ms) / 1000 / speed
            delay = due - time.monotonic()
            if delay > 0.005:
                await flush()
                await asyncio.sleep(delay)
        item = event_of(message)
        stats.event_time_ms = message.arrival_ms
        if isinstance(item, Malformed):
            await flush()
            await publisher.send_raw(item.topic, item.value, key=item.key)
            stats.malformed[item.topic] += 1
            continue
        pending.append(item)
        stats.sent[(item.topic, item.status, item.warehouse)] += 1
        if len(pending) >= batch:
            await flush()
    await flush()
    stats.done = True
    if on_progress:
        on_progress(stats)
    return stats
