"""Every alert transition to every sink; one sink's failure (bounded retries, then one log line,
`on_failure(sink name)`) stops neither the stream nor the other sinks."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial

from ordermon.agents.worker.delivery import deliver
from ordermon.sinks.base import AlertSink
from ordermon.streams.outputs import Alert


class Fanout:
    def __init__(self, sinks: Iterable[AlertSink], on_failure: Callable[[str], None]) -> None:
        self.sinks: list[AlertSink] = list(sinks)
        self.on_failure = on_failure

    def add(self, sink: AlertSink) -> None:
        self.sinks.append(sink)

    async def publish(self, alert: Alert) -> None:
        for sink in self.sinks:
            await deliver(
                partial(sink.send, alert),
                output=f"the {sink.name} sink",
                what=f"alert {alert.kind} of {alert.warehouse} ({alert.state}, {alert.alert_id})",
                on_failure=partial(self._failed, sink.name),
            )

    def _failed(self, sink: str, _output: str) -> None:
        self.on_failure(sink)

    async def close(self) -> None:
        for sink in self.sinks:
            await sink.close()
