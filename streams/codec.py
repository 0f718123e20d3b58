"""The only place that touches orjson: bytes off the wire -> Event | Rejection, records -> bytes.

`decode` never raises: whatever the bytes, it returns an event or a rejection with a reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import orjson

from ordermon.streams.errors import RejectReason
from ordermon.streams.events import Event
from ordermon.streams.flows import STATUSES
from ordermon.streams.outputs import DeadLetter
from ordermon.streams.timefmt import format_rfc3339_ms
from ordermon.streams.validation import MAX_VALUE_BYTES, Rejection, validate

_OPTIONAL_WIRE = (
    "schema_version",
    "amount",
    "items",
    "carrier",
    "complaint_id",
    "reason",
    "refund_id",
)
_INT_MIN = -(2**63)
_INT_MAX = 2**64 - 1


def decode(
    topic: str,
    key: bytes | None,
    raw: bytes | None,
    *,
    now_ms: int | None = None,
    max_future_ms: int | None = None,
    require_key: bool = True,
) -> Event | Rejection:
    """Decode one input message of `topic`.

    The contract requires the key (the warehouse id): a message without one is rejected as
    ``missing_key`` (its partition is arbitrary, so it cannot be counted exactly). `require_key`
    False checks the value alone (tests, tools that hold values without their messages).

    When `now_ms` and `max_future_ms` are given, an event further than `max_future_ms` ahead of
    `now_ms` is rejected as ``future_timestamp`` (the caller owns the clock)."""
    try:
        if topic not in STATUSES:
            return Rejection(RejectReason.INVALID_VALUE, f"'{topic}' is not an input topic")
        if raw is None:
            return Rejection(RejectReason.NOT_JSON, "the message has no value (a tombstone)")
        if key is None and require_key:
            return Rejection(
                RejectReason.MISSING_KEY,
                "the message has no key; publishers key every event by its warehouse id, so "
                "that one warehouse's events share a partition and are counted exactly",
            )
        if len(raw) > MAX_VALUE_BYTES:
            return Rejection(
                RejectReason.TOO_LARGE,
                f"the value is {len(raw)} bytes; the contract allows at most {MAX_VALUE_BYTES}",
            )
        key_text: str | None = None
        if key is not None:
            try:
                key_text = key.decode("utf-8")
            except UnicodeDecodeError:
                return Rejection(RejectReason.NOT_UTF8, "the message key is not valid UTF-8")
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return Rejection(RejectReason.NOT_UTF8, "the value is not valid UTF-8")
            return Rejection(RejectReason.NOT_JSON, f"the value is not JSON: {exc}")
        if not isinstance(obj, dict):
            return Rejection(
                RejectReason.NOT_OBJECT,
                f"the value must be a JSON object, got a JSON {type(obj).__name__}",
            )
        result = validate(topic, obj, key_text)
        if (
            now_ms is not None
            and max_future_ms is not None
            and not isinstance(result, Rejection)
            and result.occurred_at_ms > now_ms + max_future_ms
        ):
            ahead_s = (result.occurred_at_ms - now_ms) / 1000
            return Rejection(
                RejectReason.FUTURE_TIMESTAMP,
                f"occurred_at is {ahead_s:.0f} s ahead of this worker's clock; "
                f"at most {max_future_ms / 1000:.0f} s of clock skew is allowed",
            )
        return result
    except Exception as exc:  # never raise into an agent: an unforeseen input is still a rejection
        return Rejection(RejectReason.INVALID_VALUE, f"the value could not be decoded: {exc!r}")


def event_to_wire(event: Event) -> dict[str, Any]:
    """The contract's JSON object for an event (what a publisher sends)."""
    wire: dict[str, Any] = {
        "event_id": event.event_id,
        "status": event.status,
        "order_id": event.order_id,
        "warehouse": event.warehouse,
        "occurred_at": format_rfc3339_ms(event.occurred_at_ms),
    }
    for name in _OPTIONAL_WIRE:
        value = getattr(event, name, None)
        if value is not None and not (name == "schema_version" and value == 1):
            if type(value) is int and not _INT_MIN <= value <= _INT_MAX:
                # orjson writes integers of at most 64 bits. A larger one came off the wire as a
                # float with an integral value (orjson reads it that way), so writing it as that
                # float again is exact, and it still reads back as the same integer.
                value = float(value)
            wire[name] = value
    return wire


def encode_event(event: Event) -> bytes:
    return orjson.dumps(event_to_wire(event))


#: Kafka's default largest message (the producer's max_request_size, the broker's
#: message.max.bytes): every dead letter encodes below it, whatever the input was.
PRODUCER_MAX_BYTES: Final = 1_000_000


def encode_deadletter(letter: DeadLetter) -> bytes:
    """The value of a dead letter: always under PRODUCER_MAX_BYTES (see PAYLOAD_KEPT_BYTES)."""
    return dumps(letter.to_wire())


def dumps(obj: Mapping[str, Any] | list[Any]) -> bytes:
    """JSON bytes of a plain record (alerts, dead letters, HTTP answers)."""
    return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)


def loads(raw: bytes | str) -> Any:
    return orjson.loads(raw)
