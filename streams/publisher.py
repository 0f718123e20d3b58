"""A small publisher for other services: validates, keys by warehouse, sets the Kafka timestamp to
`occurred_at`. The one module of `streams` that needs aiokafka (import it only to publish)::

    async with Publisher("127.0.0.1:9092") as pub:
        await pub.send(OrderEvent(event_id="e1", status="placed", order_id="o1",
                                  warehouse="BJ-01", occurred_at_ms=...))
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaProducer

from ordermon.streams.codec import decode, encode_event
from ordermon.streams.events import Event
from ordermon.streams.topics import TopicNames
from ordermon.streams.validation import Rejection


class InvalidEvent(ValueError):
    """The event breaks the contract; `rejection` says which rule."""

    def __init__(self, rejection: Rejection) -> None:
        self.rejection = rejection
        super().__init__(f"{rejection.reason}: {rejection.message}")


def prepare(event: Event, names: TopicNames) -> tuple[str, bytes, bytes, int]:
    """(topic, key, value, timestamp_ms) for one event, after checking it against the contract."""
    raw = encode_event(event)
    key = event.warehouse.encode("utf-8")
    checked = decode(event.topic, key, raw)
    if isinstance(checked, Rejection):
        raise InvalidEvent(checked)
    return names.full(event.topic), key, raw, event.occurred_at_ms


class Publisher:
    def __init__(self, bootstrap: str, *, prefix: str = "", **producer_options: Any) -> None:
        self.names = TopicNames(prefix)
        options: dict[str, Any] = {
            "acks": "all",
            "enable_idempotence": False,  # the embedded broker refuses idempotent producers
            "linger_ms": 5,
            "max_batch_size": 256 * 1024,
        }
        options.update(producer_options)
        self._producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **options)

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def send(self, event: Event) -> None:
        """Send one event and wait until the broker has it."""
        topic, key, value, ts = prepare(event, self.names)
        await self._producer.send_and_wait(topic, value, key=key, timestamp_ms=ts)

    async def send_many(self, events: Iterable[Event]) -> int:
        """Send events in order without waiting for each; returns once the broker has them all."""
        pending = []
        for event in events:
            topic, key, value, ts = prepare(event, self.names)
            pending.append(await self._producer.send(topic, value, key=key, timestamp_ms=ts))
        if pending:
            await asyncio.gather(*pending)
        return len(pending)

    async def send_raw(
        self, topic: str, value: bytes, key: bytes | None = None, timestamp_ms: int | None = None
    ) -> None:
        """Send bytes as they are (tests and the `malformed` scenario); no validation."""
        await self._producer.send_and_wait(
            self.names.full(topic), value, key=key, timestamp_ms=timestamp_ms
        )

    async def __aenter__(self) -> Publisher:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
