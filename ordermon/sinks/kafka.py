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
        await self.topic.send(key=alert.warehouse.encode(), value=dumps(alert.to_wire()))

    async def close(self) -> None:
        return None
