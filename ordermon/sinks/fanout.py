"""Every alert transition to every sink; one sink's failure is counted and logged, and stops
neither the stream nor the other sinks."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from ordermon.sinks.base import AlertSink
from streams.outputs import Alert

log = logging.getLogger(__name__)


class Fanout:
    def __init__(self, sinks: Iterable[AlertSink], on_failure: Callable[[str], None]) -> None:
        self.sinks: list[AlertSink] = list(sinks)
        self.on_failure = on_failure

    def add(self, sink: AlertSink) -> None:
        self.sinks.append(sink)

    async def publish(self, alert: Alert) -> None:
        for sink in self.sinks:
            try:
                await sink.send(alert)
            except Exception:  # one sink's failure must not stop the stream or the others
                self.on_failure(sink.name)
                log.exception("alert sink %s failed", sink.name)

    async def close(self) -> None:
        for sink in self.sinks:
            await sink.close()
