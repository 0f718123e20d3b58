"""A list-backed sink for tests and demos."""

from __future__ import annotations

from dataclasses import dataclass, field

from streams.outputs import Alert


@dataclass
class MemorySink:
    name: str = "memory"
    alerts: list[Alert] = field(default_factory=list)

    async def send(self, alert: Alert) -> None:
        self.alerts.append(alert)

    async def close(self) -> None:
        return None
