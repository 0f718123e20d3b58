"""The published JSON Schemas (draft 2020-12) of the input topics, built from validation's rules.

``python -m ordermon.streams.schemas`` (re)writes ``streams/schemas/<topic>.schema.json``;
``python -m ordermon.streams.schemas --check`` exits 1 and names the files that are stale or
missing.

A schema says what `ordermon.streams.validation.validate` accepts, except what JSON Schema cannot
express: that the date exists in the calendar (no February 30) and lies within years 1-9999 in UTC,
and that `warehouse` equals the message key (the key is not part of the value).
``format: date-time`` is there for validators that assert formats; the pattern alone already
demands the offset.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from ordermon.streams.flows import COMPLAINTS, DISPATCHES, INPUT_TOPICS, ORDERS, REFUNDS, STATUSES
from ordermon.streams.timefmt import TIMESTAMP_PATTERN
from ordermon.streams.validation import WAREHOUSE_PATTERN, FieldRule, rules_for

DRAFT: Final = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_DIR: Final = Path(__file__).resolve().parent / "schemas"
CONTRACT_VERSION: Final = 1

TOPIC_DESCRIPTIONS: Final[dict[str, str]] = {
    ORDERS: "A customer order was placed at / routed to a warehouse, or cancelled before dispatch.",
    DISPATCHES: "A parcel left the warehouse, reached the customer, or delivery failed.",
    COMPLAINTS: "A customer-service case was opened or closed.",
    REFUNDS: "A refund was asked for or paid out.",
}

# `$` also matches before a final newline in Python's, PCRE's and Java's regular expressions, so
# "W1\n" would pass the anchored pattern there; forbidding every other character closes that gap
# in any dialect (and needs no look-ahead, which RE2 lacks).
_WAREHOUSE_OUTSIDE: Final = "[^A-Za-z0-9_.-]"
_TIMESTAMP_OUTSIDE: Final = "[^0-9Tt:.Zz+-]"
_DOLLAR_COMMENT: Final = (
    "'not' rejects any other character, such as a trailing newline that '$' lets through "
    "in some regex dialects"
)

_EXAMPLE_COMMON: Final[dict[str, Any]] = {
    "order_id": "o-20261122-000042",
    "warehouse": "BJ-01",
    "occurred_at": "2026-11-22T16:15:00+08:00",
}
EXAMPLES: Final[dict[str, dict[str, Any]]] = {
    ORDERS: {
        "event_id": "orders-7f3a",
        "status": "placed",
        **_EXAMPLE_COMMON,
        "amount": 129.5,
        "items": 3,
    },
    DISPATCHES: {
        "event_id": "dispatches-91c2",
        "status": "dispatched",
        **_EXAMPLE_COMMON,
        "carrier": "SF",
    },
    COMPLAINTS: {
        "event_id": "complaints-0b7d",
        "status": "opened",
        **_EXAMPLE_COMMON,
        "complaint_id": "c-5521",
        "reason": "late_delivery",
    },
    REFUNDS: {
        "event_id": "refunds-44e0",
        "status": "requested",
        **_EXAMPLE_COMMON,
        "refund_id": "r-3108",
        "amount": 129.5,
    },
}


def _nullable(type_name: str, required: bool) -> str | list[str]:
    """An optional field may also be null: validation treats null there as absent."""
    return type_name if required else [type_name, "null"]


def property_schema(rule: FieldRule, topic: str) -> dict[str, Any]:
    """The JSON Schema of one field, from its rule."""
    prop: dict[str, Any] = {"description": rule.description}
    kind = rule.kind
    if kind == "id":
        prop.update(type=_nullable("string", rule.required), minLength=1, maxLength=128)
    elif kind == "status":
        prop.update(type="string", enum=list(STATUSES[topic]))
    elif kind == "warehouse":
        prop.update(
            type="string",
            minLength=1,
            maxLength=64,
            pattern=WAREHOUSE_PATTERN,
            **{"not": {"pattern": _WAREHOUSE_OUTSIDE}, "$comment": _DOLLAR_COMMENT},
        )
    elif kind == "timestamp":
        prop.update(
            type="string",
            format="date-time",
            pattern=TIMESTAMP_PATTERN,
            examples=["2026-11-22T08:15:00Z", "2026-11-22T16:15:00+08:00"],
            **{"not": {"pattern": _TIMESTAMP_OUTSIDE}, "$comment": _DOLLAR_COMMENT},
        )
    elif kind in ("integer", "number", "string"):
        prop["type"] = _nullable(kind, rule.required)
    elif kind == "enum":
        choices: list[str | None] = list(rule.choices)
        if not rule.required:
            choices.append(None)
        prop.update(type=_nullable("string", rule.required), enum=choices)
    else:  # pragma: no cover - a new kind must be taught to the schema generator
        raise ValueError(f"no JSON Schema for field kind {kind!r} of field '{rule.name}'")
    if rule.minimum is not None:
        prop["minimum"] = int(rule.minimum) if float(rule.minimum).is_integer() else rule.minimum
    if rule.maximum is not None:
        prop["maximum"] = int(rule.maximum) if float(rule.maximum).is_integer() else rule.maximum
    if rule.name == "schema_version":
        prop["default"] = CONTRACT_VERSION
    return prop


def schema_for(topic: str) -> dict[str, Any]:
    """The JSON Schema of one input topic's message value."""
    rules = rules_for(topic)
    return {
        "$schema": DRAFT,
        "$id": f"urn:ordermon:contract:v{CONTRACT_VERSION}:{topic}",
        "$comment": "Generated from streams/validation.py by `python -m ordermon.streams.schemas`; "
        "do not edit by hand.",
        "title": f"ordermon '{topic}' event (contract v{CONTRACT_VERSION})",
        "description": f"{TOPIC_DESCRIPTIONS[topic]} The message key is the warehouse id as "
        "UTF-8 and equals the 'warehouse' field; the value is at most 64 KiB. "
        "Unknown extra fields are ignored.",
        "type": "object",
        "required": [rule.name for rule in rules if rule.required],
        "properties": {rule.name: property_schema(rule, topic) for rule in rules},
        "additionalProperties": True,
        "examples": [EXAMPLES[topic]],
    }


def schema_path(topic: str, directory: Path = SCHEMA_DIR) -> Path:
    return directory / f"{topic}.schema.json"


def render(topic: str) -> str:
    """The file text: sorted keys, 2-space indent, trailing newline."""
    return json.dumps(schema_for(topic), sort_keys=True, indent=2) + "\n"


def stale_files(directory: Path = SCHEMA_DIR) -> list[Path]:
    """The schema files that are missing or differ from what the rules give now."""
    stale = []
    for topic in INPUT_TOPICS:
        path = schema_path(topic, directory)
        if not path.is_file() or path.read_text(encoding="utf-8") != render(topic):
            stale.append(path)
    return stale


def write_all(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Write every stale schema file; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = stale_files(directory)
    for path in written:
        path.write_text(render(path.name.removesuffix(".schema.json")), encoding="utf-8")
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ordermon.streams.schemas",
        description="Write the input topics' JSON Schemas from streams/validation.py's rules.",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 and name the files that are stale or missing",
    )
    parser.add_argument("--dir", type=Path, default=SCHEMA_DIR, help="default: %(default)s")
    args = parser.parse_args(argv)
    directory: Path = args.dir
    if args.check:
        stale = stale_files(directory)
        for path in stale:
            print(f"stale: {path}", file=sys.stderr)
        if stale:
            print("run `python -m ordermon.streams.schemas` to regenerate", file=sys.stderr)
            return 1
        return 0
    for path in write_all(directory):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
