"""The interface every alert sink implements."""

from __future__ import annotations

from typing import Protocol

from ordermon.streams.outputs import Alert


class AlertSink(Protocol):
    name: str

    async def send(self, alert: Alert) -> None:
        """Deliver one transition. Must not block the stream for long: queue and retry inside."""

    async def close(self) -> None: ...
