"""Values of the output topics ``ordermon.alerts`` and ``ordermon.deadletter`` (CONTRACT v1)."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from ordermon.streams.timefmt import format_rfc3339_ms

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

#: A dead letter keeps the original value whole up to this many bytes (the contract's largest
#: valid value); above it, a prefix this long, the original size and its sha256 (the original
#: stays at its source offset, which the letter names). Escaped as JSON, 64 KiB of the worst
#: bytes (control characters: 6 bytes each) is 384 KiB, well under the producer's 1,000,000.
PAYLOAD_KEPT_BYTES: Final = 64 * 1024
ERROR_KEPT_CHARS: Final = 1000  # an error sentence longer than this is cut (it is for a person)

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
    # whether the evaluation that made it ran live (the worker caught up, the event time within
    # ORDERMON_LIVE_MAX_AGE_SECONDS of the processing clock); False for a replay or a catch-up,
    # None when unknown (a message of a producer before the field existed)
    live: bool | None = None

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
        if self.live is not None:
            wire["live"] = self.live
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
            "error": self.error
            if len(self.error) <= ERROR_KEPT_CHARS
            else self.error[: ERROR_KEPT_CHARS - 3] + "...",
            "reason": self.reason,
            "received_at": format_rfc3339_ms(self.received_at_ms),
        }
        if self.payload is not None:
            wire.update(payload_fields(self.payload))
        return wire


def payload_fields(payload: bytes) -> dict[str, Any]:
    """The letter's copy of an input value: ``payload`` (text) when it is UTF-8, otherwise
    ``payload_b64``; above PAYLOAD_KEPT_BYTES only a prefix (cut at a character boundary), with
    ``payload_truncated``, ``payload_size`` (bytes) and ``payload_sha256`` (hex) of the whole."""
    kept = payload
    fields: dict[str, Any] = {}
    if len(payload) > PAYLOAD_KEPT_BYTES:
        kept = payload[:PAYLOAD_KEPT_BYTES]
        fields = {
            "payload_truncated": True,
            "payload_size": len(payload),
            "payload_sha256": hashlib.sha256(payload).hexdigest(),
        }
    text = _utf8_prefix(kept, whole=kept is payload)
    if text is not None:
        fields["payload"] = text
    else:
        fields["payload_b64"] = base64.b64encode(kept).decode("ascii")
    return fields


def _utf8_prefix(data: bytes, *, whole: bool) -> str | None:
    """`data` as text if it is UTF-8; a cut prefix may end inside a character (up to 3 bytes of
    it), which are dropped. None when it is not UTF-8."""
    for cut in range(1 if whole else 4):
        try:
            return data[: len(data) - cut].decode("utf-8")
        except UnicodeDecodeError:
            continue
    return None
