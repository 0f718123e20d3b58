"""CONTRACT v1 field rules, as data: validation and the published JSON Schemas both read them."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeAlias, cast

from ordermon.streams.errors import RejectReason
from ordermon.streams.events import EVENT_TYPES, Event
from ordermon.streams.flows import COMPLAINTS, DISPATCHES, ORDERS, REFUNDS, STATUSES
from ordermon.streams.timefmt import parse_rfc3339_ms

MAX_VALUE_BYTES: Final = 64 * 1024
WAREHOUSE_PATTERN: Final = r"^[A-Za-z0-9_.-]{1,64}$"
_WAREHOUSE_RE: Final = re.compile(r"[A-Za-z0-9_.-]{1,64}\Z")
COMPLAINT_REASONS: Final = ("late_delivery", "damaged", "wrong_item", "service", "other")
_ID_MAX_CHARS: Final = 128

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
    maximum: float | None = None
    # the reason when a number is out of [minimum, maximum] (default: invalid_value)
    range_reason: RejectReason = RejectReason.INVALID_VALUE
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
    FieldRule(
        "schema_version",
        "integer",
        False,
        "Contract version; absent means 1; any other version is dead-lettered "
        "(unsupported_version)",
        minimum=1,
        maximum=1,
        range_reason=RejectReason.UNSUPPORTED_VERSION,
    ),
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


_TEXT_KINDS = frozenset({"id", "status", "warehouse", "timestamp", "string", "enum"})


def _check(rule: FieldRule, value: Any, topic: str) -> tuple[Any, Rejection | None]:
    """The event attribute's value, or a rejection naming the field and what it should be."""
    if rule.kind in _TEXT_KINDS:
        return _check_text(rule, value, topic)
    return _check_number(rule, value)


def _check_text(rule: FieldRule, value: Any, topic: str) -> tuple[Any, Rejection | None]:
    """Strings: ids, the status, the warehouse, timestamps, free text and enums."""
    name, kind = rule.name, rule.kind
    if not isinstance(value, str):
        return None, Rejection(
            RejectReason.WRONG_TYPE, f"field '{name}' must be a string, got {_show(value)}"
        )
    if kind == "id" and not 1 <= len(value) <= _ID_MAX_CHARS:
        return None, Rejection(
            RejectReason.INVALID_VALUE,
            f"field '{name}' must be 1-{_ID_MAX_CHARS} characters long, got {len(value)}",
        )
    if kind == "status" and value not in STATUSES[topic]:
        return None, Rejection(
            RejectReason.UNKNOWN_STATUS,
            f"status {_show(value)} is not one of {', '.join(STATUSES[topic])} for topic '{topic}'",
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


def _check_number(rule: FieldRule, value: Any) -> tuple[Any, Rejection | None]:
    """integer / number: bool is not a number here, and neither is NaN or infinity."""
    name, kind = rule.name, rule.kind
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
        return None, Rejection(
            rule.range_reason, f"field '{name}' must be >= {_bound(rule.minimum)}, got {value}"
        )
    if rule.maximum is not None and value > rule.maximum:
        return None, Rejection(
            rule.range_reason, f"field '{name}' must be <= {_bound(rule.maximum)}, got {value}"
        )
    return value, None


def _bound(limit: float) -> float | int:
    return int(limit) if float(limit).is_integer() else limit


def validate(topic: str, obj: Mapping[str, Any], key: str | None = None) -> Event | Rejection:
    """Build the typed event from a decoded JSON object, or say which rule it breaks.

    `key` is the Kafka message key as text (None when the message has no key)."""
    fast = _FAST.get(topic)
    # Only a plain dict (what orjson gives): another mapping may have its own `in` and `[]`.
    if fast is not None and type(obj) is dict:
        event = fast(obj, key)
        if event is not None:
            return event
    return _validate_generic(topic, obj, key)


def _validate_generic(
    topic: str, obj: Mapping[str, Any], key: str | None = None
) -> Event | Rejection:
    """validate() without the fast path: every rule in table order, the first broken one named."""
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


# ---- fast path ---------------------------------------------------------------------------------
# For each topic, a function generated once from its rules (the same table _validate_generic
# walks) that does the checks of _check inline, with exact types only. It returns the event when
# every field is plainly valid and None otherwise, whereupon _validate_generic runs from the start
# and either builds the same event or names the first broken rule. So the fast path only has to be
# right where it says "valid"; tests/unit/streams/test_fast_paths.py checks that it agrees.

FastValidator: TypeAlias = Callable[[dict[str, Any], str | None], Event | None]

_STRING_KINDS: Final = ("id", "status", "warehouse", "timestamp", "string", "enum")
_WAREHOUSE_CACHE_MAX: Final = 4096
_known_warehouses: set[str] = set()  # exact strs that _WAREHOUSE_RE accepted


def _new_warehouse(value: str) -> bool:
    """Whether _WAREHOUSE_RE accepts `value` (an exact str); remembered when it does."""
    if _WAREHOUSE_RE.match(value) is None:
        return False
    if len(_known_warehouses) >= _WAREHOUSE_CACHE_MAX:
        _known_warehouses.clear()
    _known_warehouses.add(value)
    return True


def _fast_check(rule: FieldRule, v: str, topic: str, ns: dict[str, Any]) -> list[str] | None:
    """Source lines that turn the wire value in local `v` into the attribute's value as _check
    would, or `return None` when _check might not accept it; None for a kind they do not know.

    Exact types only: bool is an int subclass, and a str or float subclass could redefine the
    operations used here, so all of them take the generic path. So does None (absent or null)."""
    kind = rule.kind
    if kind in _STRING_KINDS:
        lines = [f"if type({v}) is not str: return None"]
        if kind == "id":
            lines.append(f"if not 1 <= len({v}) <= {_ID_MAX_CHARS}: return None")
        elif kind in ("status", "enum"):
            ns[f"{v}_choices"] = frozenset(STATUSES[topic] if kind == "status" else rule.choices)
            lines.append(f"if {v} not in {v}_choices: return None")
        elif kind == "warehouse":
            lines.append(f"if {v} not in _warehouses and not _new_warehouse({v}): return None")
        elif kind == "timestamp":
            lines += [f"{v} = _parse_ts({v})", f"if {v} is None: return None"]
        return lines
    if kind in ("integer", "number"):
        lines = [f"if type({v}) is float:", f"    if not _isfinite({v}): return None"]
        if kind == "integer":  # an integral float is the int; 2.5 is not an integer
            lines += [f"    if not {v}.is_integer(): return None", f"    {v} = int({v})"]
        lines.append(f"elif type({v}) is not int: return None")
        if rule.minimum is not None:
            ns[f"{v}_min"] = rule.minimum
            lines.append(f"if {v} < {v}_min: return None")
        if rule.maximum is not None:
            ns[f"{v}_max"] = rule.maximum
            lines.append(f"if {v} > {v}_max: return None")
        return lines
    return None


def _build_fast(topic: str) -> FastValidator | None:
    """The topic's fast validator; None if its rules need something it lacks."""
    cls = EVENT_TYPES[topic]
    defaults = {f.name: f.default for f in dataclasses.fields(cls)}
    ns: dict[str, Any] = {
        "_cls": cls,
        "_parse_ts": parse_rfc3339_ms,
        "_isfinite": math.isfinite,
        "_warehouses": _known_warehouses,
        "_new_warehouse": _new_warehouse,
    }
    body: list[str] = []
    args: dict[str, str] = {}  # event attribute -> local
    for i, rule in enumerate(rules_for(topic)):
        v, attr = f"v{i}", rule.attr or rule.name
        check = _fast_check(rule, v, topic, ns)
        if check is None or attr in args or not attr.isidentifier():
            return None
        body.append(f"{v} = obj.get({rule.name!r})")  # None: absent, or null
        if rule.required:
            body += check  # each check's first line refuses None
        else:
            # An optional field that is absent or null is left to the event's default; passing
            # that very default object is the same as leaving the argument out.
            default = defaults.get(attr, dataclasses.MISSING)
            if default is dataclasses.MISSING:
                return None
            ns[f"{v}_default"] = default
            body += [f"if {v} is None:", f"    {v} = {v}_default", "else:"]
            body += [f"    {line}" for line in check]
        args[attr] = v
    if "warehouse" not in args:
        return None
    body.append(f"if key is not None and key != {args['warehouse']}: return None")
    construct = _construction(cls, args, ns)
    if construct is None:
        return None
    body += construct
    source = "def fast(obj, key):\n" + "".join(f"    {line}\n" for line in body)
    exec(compile(source, f"<fast validate {topic}>", "exec"), ns)
    return cast(FastValidator, ns["fast"])


def _construction(cls: type[Event], args: dict[str, str], ns: dict[str, Any]) -> list[str] | None:
    """Source lines that build the event from the locals in `args` (attribute -> local), every
    other field at its default; None if a field has no plain default.

    What the frozen dataclass's __init__ does (object.__setattr__ per field, looked up by name),
    without the look-ups: each slot's descriptor is called directly. 0.46 µs an event instead of
    1.18 for `_cls(**fields)`, which was about a tenth of a counted event's cost. The event has
    no __post_init__, and test_fast_paths.py checks that both ways build equal events."""
    if hasattr(cls, "__post_init__"):
        return None
    lines = ["e = _new(_cls)"]
    for n, field in enumerate(dataclasses.fields(cls)):
        value = args.get(field.name)
        if value is None:
            if field.default is dataclasses.MISSING:
                return None
            ns[f"d{n}"] = field.default
            value = f"d{n}"
        ns[f"s{n}"] = getattr(cls, field.name).__set__
        lines.append(f"s{n}(e, {value})")
    ns["_new"] = object.__new__
    return [*lines, "return e"]


_FAST: Final[dict[str, FastValidator]] = {
    topic: fast for topic in TOPIC_RULES if (fast := _build_fast(topic)) is not None
}
