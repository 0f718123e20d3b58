"""Values of the output topics ``ordermon.alerts`` and ``ordermon.deadletter`` (CONTRACT v1)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any, Literal

from streams.timefmt import format_rfc3339_ms

ALERT_KINDS = (
    "dispatch_backpressure",
    "delivery_backpressure",
    "service_backpressure",
    "refund_backpressure",
    "cascade",
    "forecast_overload",
    "warehouse_silent",
)
NETWORK_KEY = "*"

Severity = Literal["warning", "critical"]
AlertState = Literal["firing", "resolved"]


@dataclass(frozen=True, slots=True)
class Alert:
    alert_id: str
    kind: str
    warehouse: str
    severity: Severity
    state: AlertState
    started_at_ms: int
    updated_at_ms: int
    summary: str
    signals: dict[str, float | int | str | None] = field(default_factory=dict)
    ended_at_ms: int | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "alert_id": self.alert_id,
            "kind": self.kind,
            "warehouse": self.warehouse,
            "severity": self.severity,
            "state": self.state,
            "started_at": format_rfc3339_ms(self.started_at_ms),
            "updated_at": format_rfc3339_ms(self.updated_at_ms),
            "summary": self.summary,
            "signals": dict(self.signals),
        }
        if self.ended_at_ms is not None:
            wire["ended_at"] = format_rfc3339_ms(self.ended_at_ms)
        return wire


@dataclass(frozen=True, slots=True)
class DeadLetter:
    source_topic: str
    partition: int
    offset: int
    error: str
    reason: str
    received_at_ms: int
    payload: bytes | None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "source_topic": self.source_topic,
            "partition": self.partition,
            "offset": self.offset,
            "error": self.error,
            "reason": self.reason,
            "received_at": format_rfc3339_ms(self.received_at_ms),
        }
        if self.payload is not None:
            try:
                wire["payload"] = self.payload.decode("utf-8")
            except UnicodeDecodeError:
                wire["payload_b64"] = base64.b64encode(self.payload).decode("ascii")
        return wire
