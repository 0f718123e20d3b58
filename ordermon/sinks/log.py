"""One structured log line per alert transition."""

from __future__ import annotations

import logging

from ordermon.streams.outputs import Alert

log = logging.getLogger("ordermon.alerts")


class LogSink:
    name = "log"

    async def send(self, alert: Alert) -> None:
        level = logging.WARNING if alert.state == "firing" else logging.INFO
        log.log(
            level,
            "alert %s %s %s %s: %s",
            alert.state,
            alert.severity,
            alert.kind,
            alert.warehouse,
            alert.summary,
            extra={"alert_id": alert.alert_id},
        )

    async def close(self) -> None:
        return None
