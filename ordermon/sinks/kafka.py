"""The contract sink: every transition to the ordermon.alerts topic, keyed by warehouse (or `*`)."""

from __future__ import annotations

from typing import Any

from ordermon.streams.codec import dumps
from ordermon.streams.outputs import Alert


class KafkaSink:
    name = "kafka"

    def __init__(self, topic: Any) -> None:
        self.topic = topic  # a faust Topic with raw key and value

    async def send(self, alert: Alert) -> None:
        """Returns once the broker has acknowledged the record (raises if it refused it).
        `force`: sent now, never attached to the event being processed (Faust would send it
        only once that event is acknowledged, after this returns)."""
        key, value = alert.warehouse.encode(), dumps(alert.to_wire())
        delivery = await self.topic.send(key=key, value=value, force=True)
        await delivery

    async def close(self) -> None:
        return None
