"""CONTRACT v1 field rules, as data: validation and the published JSON Schemas both read them."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from streams.errors import RejectReason
from streams.events import EVENT_TYPES, Event
from streams.flows import COMPLAINTS, DISPATCHES, ORDERS, REFUNDS, STATUSES
from streams.timefmt import parse_rfc3339_ms

MAX_VALUE_BYTES: Final = 64 * 1024
WAREHOUSE_PATTERN: Final = r"^[A-Za-z0-9_.-]{1,64}$"
_WAREHOUSE_RE: Final = re.compile(r"[A-Za-z0-9_.-]{1,64}\Z")
COMPLAINT_REASONS: Final = ("late_delivery", "damaged", "wrong_item", "service", "other")

Kind = Literal["id", "status", "warehouse", "timestamp", "integer", "number", "string", "enum"]


@dataclass(frozen=True, slots=True)
class Rejection:
    """An input that breaks the contract.

    `reason` is the bounded label, `message` is for a person."""

    reason: RejectReason
    message: str


@dataclass(frozen=True, slots=True)
class FieldRule:
    name: str
    kind: Kind
    required: bool
    description: str
    minimum: float | None = None
    choices: tuple[str, ...] = ()
    attr: str | None = None  # the event attribute, when it differs from the wire name


def _id(name: str, what: str) -> FieldRule:
    return FieldRule(name, "id", True, f"{what}; 1-128 characters")


COMMON_RULES: Final[tuple[FieldRule, ...]] = (
    _id("event_id", "Unique per event; redelivered copies carry the same id"),
    FieldRule("status", "status", True, "What happened; one of the topic's statuses"),
    _id("order_id", "The order this event belongs to"),
    FieldRule(
        "warehouse",
        "warehouse",
        True,
        "Warehouse id, 1-64 characters of A-Z a-z 0-9 _ . -; "
        "equals the message key when one is set",
    ),
    FieldRule(
        "occurred_at",
        "timestamp",
        True,
        "When it happened (event time): RFC 3339 with an offset, e.g. 2026-11-22T08:15:00Z",
        attr="occurred_at_ms",
    ),
    FieldRule("schema_version", "integer", False, "Contract version; absent means 1", minimum=1),
)

TOPIC_RULES: Final[dict[str, tuple[FieldRule, ...]]] = {
    ORDERS: (
        FieldRule("amount", "number", False, "Order value, >= 0", minimum=0),
        FieldRule("items", "integer", False, "Number of items, >= 1", minimum=1),
    ),
    DISPATCHES: (FieldRule("carrier", "string", False, "Carrier name"),),
    COMPLAINTS: (
        _id("complaint_id", "Customer-service case id"),
        FieldRule(
            "reason", "enum", False, "Why the customer complained", choices=COMPLAINT_REASONS
        ),
    ),
    REFUNDS: (
        _id("refund_id", "Refund id"),
        FieldRule("amount", "number", True, "Refund value, >= 0", minimum=0),
    ),
}


def rules_for(topic: str) -> tuple[FieldRule, ...]:
    return COMMON_RULES + TOPIC_RULES[topic]


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check(rule: FieldRule, value: Any, topic: str) -> tuple[Any, Rejection | None]:
    """The event attribute's value, or a rejection naming the field and what it should be."""
    name, kind = rule.name, rule.kind
    if kind in ("id", "status", "warehouse", "timestamp", "string", "enum"):
        if not isinstance(value, str):
            return None, Rejection(
                RejectReason.WRONG_TYPE, f"field '{name}' must be a string, got {_show(value)}"
            )
        if kind == "id" and not 1 <= len(value) <= 128:
            return None, Rejection(
                RejectReason.INVALID_VALUE,
                f"field '{name}' must be 1-128 characters long, got {len(value)}",
            )
        if kind == "status" and value not in STATUSES[topic]:
            return None, Rejection(
                RejectReason.UNKNOWN_STATUS,
                f"status {_show(value)} is not one of {', '.join(STATUSES[topic])} "
                f"for topic '{topic}'",
            )
        if kind == "enum" and value not in rule.choices:
            return None, Rejection(
                RejectReason.INVALID_VALUE,
                f"field '{name}' must be one of {', '.join(rule.choices)}, got {_show(value)}",
            )
        if kind == "warehouse" and _WAREHOUSE_RE.match(value) is None:
            return None, Rejection(
                RejectReason.BAD_WAREHOUSE,
                f"warehouse {_show(value)} must be 1-64 characters of A-Z a-z 0-9 _ . -",
            )
        if kind == "timestamp":
            ms = parse_rfc3339_ms(value)
            if ms is None:
                return None, Rejection(
                    RejectReason.BAD_TIMESTAMP,
                    f"field '{name}' must be RFC 3339 with an offset, "
                    f"e.g. 2026-11-22T08:15:00Z, got {_show(value)}",
                )
            return ms, None
        return value, None
    # integer / number: bool is not a number here, and neither is NaN or infinity.
    if isinstance(value, bool) or not isinstance(value, int | float):
        what = "an integer" if kind == "integer" else "a number"
        return None, Rejection(
            RejectReason.WRONG_TYPE, f"field '{name}' must be {what}, got {_show(value)}"
        )
    if isinstance(value, float):
        if not math.isfinite(value):
            return None, Rejection(
                RejectReason.INVALID_VALUE, f"field '{name}' must be finite, got {value}"
            )
        if kind == "integer":
            if not value.is_integer():
                return None, Rejection(
                    RejectReason.WRONG_TYPE, f"field '{name}' must be an integer, got {value}"
                )
            value = int(value)
    if rule.minimum is not None and value < rule.minimum:
        bound = int(rule.minimum) if float(rule.minimum).is_integer() else rule.minimum
        return None, Rejection(
            RejectReason.INVALID_VALUE, f"field '{name}' must be >= {bound}, got {value}"
        )
    return value, None


def validate(topic: str, obj: Mapping[str, Any], key: str | None = None) -> Event | Rejection:
    """Build the typed event from a decoded JSON object, or say which rule it breaks.

    `key` is the Kafka message key as text (None when the message has no key)."""
    fields: dict[str, Any] = {}
    for rule in rules_for(topic):
        if rule.name not in obj:
            if rule.required:
                return Rejection(
                    RejectReason.MISSING_FIELD, f"required field '{rule.name}' is missing"
                )
            continue
        raw = obj[rule.name]
        if raw is None and not rule.required:
            continue
        value, rejection = _check(rule, raw, topic)
        if rejection is not None:
            return rejection
        fields[rule.attr or rule.name] = value
    if key is not None and key != fields["warehouse"]:
        return Rejection(
            RejectReason.KEY_MISMATCH,
            f"message key {_show(key)} differs from the warehouse field "
            f"{_show(fields['warehouse'])}; publishers key by warehouse",
        )
    return EVENT_TYPES[topic](**fields)
