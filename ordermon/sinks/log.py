"""One structured log line per alert transition: WARNING for a live alert firing, INFO for the
rest (a resolve, or history replayed or caught up with, marked ``(not live)``)."""

from __future__ import annotations

import logging

from ordermon.streams.outputs import Alert

log = logging.getLogger("ordermon.alerts")


class LogSink:
    name = "log"

    async def send(self, alert: Alert) -> None:
        level = logging.WARNING if alert.state == "firing" and alert.live else logging.INFO
        log.log(
            level,
            "alert %s %s %s %s%s: %s",
            alert.state,
            alert.severity,
            alert.kind,
            alert.warehouse,
            "" if alert.live else " (not live)",
            alert.summary,
            extra={"alert_id": alert.alert_id, "live": bool(alert.live)},
        )

    async def close(self) -> None:
        return None
