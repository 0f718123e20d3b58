"""Every rule of CONTRACT v1's input events, one row per case, through the codec and validate()."""

from __future__ import annotations

import math
from typing import Any

import orjson
import pytest

from ordermon.streams.codec import decode
from ordermon.streams.errors import RejectReason
from ordermon.streams.events import EVENT_TYPES, OrderEvent
from ordermon.streams.flows import INPUT_TOPICS
from ordermon.streams.validation import TOPIC_RULES, Rejection, rules_for, validate
from tests.unit.streams.wire_cases import BASE, CASES, T0_MS, Case, body


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_rule(case: Case) -> None:
    # the value's rules (and the key against the warehouse when there is one); a missing key is
    # test_codec.py's
    result = decode(case.topic, case.key, case.raw, require_key=False)
    if case.reason is None:
        assert not isinstance(result, Rejection), result
        assert isinstance(result, EVENT_TYPES[case.topic])
        assert case.attr is not None
        actual = getattr(result, case.attr)
        assert actual == case.value
        assert type(actual) is type(case.value)
    else:
        assert isinstance(result, Rejection), result
        assert result.reason is case.reason, result
        assert case.field in result.message, result.message


def test_case_ids_are_unique() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))


def test_every_rule_has_missing_null_and_wrong_type_rows() -> None:
    ids = {c.id for c in CASES}
    for topic in INPUT_TOPICS:
        for rule in rules_for(topic):
            assert f"{topic}-{rule.name}-wrong-type" in ids
            assert f"{topic}-{rule.name}-null" in ids
            if rule.required:
                assert f"{topic}-{rule.name}-missing" in ids


@pytest.mark.parametrize("topic", INPUT_TOPICS)
def test_base_events_are_valid_and_complete(topic: str) -> None:
    result = decode(topic, b"W1", body(topic))
    assert isinstance(result, EVENT_TYPES[topic])
    assert result.topic == topic
    assert result.occurred_at_ms == T0_MS
    assert result.schema_version == 1
    required = {r.name for r in rules_for(topic) if r.required}
    assert set(BASE[topic]) == required


def test_orders_example_builds_every_attribute() -> None:
    raw = (
        b'{"event_id":"e-9","status":"cancelled","order_id":"o-9","warehouse":"SH.02",'
        b'"occurred_at":"2026-11-22T16:15:00.250+08:00","schema_version":1,'
        b'"amount":12.5,"items":3}'
    )
    result = decode("orders", b"SH.02", raw)
    assert result == OrderEvent(
        event_id="e-9",
        status="cancelled",
        order_id="o-9",
        warehouse="SH.02",
        occurred_at_ms=T0_MS + 250,
        schema_version=1,
        amount=12.5,
        items=3,
    )
    assert isinstance(result, OrderEvent)
    assert result.flow == "orders_cancelled"


@pytest.mark.parametrize("literal", [b"1e400", b"-1e400"])
def test_json_infinity_never_reaches_validation(literal: bytes) -> None:
    """orjson refuses a number that overflows a double, so the value is not JSON at all."""
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(literal)
    result = decode("orders", None, body("orders", amount=literal), require_key=False)
    assert isinstance(result, Rejection)
    assert result.reason is RejectReason.NOT_JSON


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity"])
def test_json_nan_literals_are_not_json(literal: bytes) -> None:
    result = decode("orders", None, body("orders", amount=literal), require_key=False)
    assert isinstance(result, Rejection)
    assert result.reason is RejectReason.NOT_JSON


@pytest.mark.parametrize(
    ("topic", "field", "value"),
    [
        ("orders", "amount", math.inf),
        ("orders", "amount", -math.inf),
        ("orders", "amount", math.nan),
        ("orders", "items", math.inf),
        ("orders", "schema_version", math.nan),
        ("refunds", "amount", math.inf),
    ],
)
def test_non_finite_numbers_are_rejected_by_validate(topic: str, field: str, value: float) -> None:
    """Not reachable through JSON (see above), but validate() is public and takes any mapping."""
    obj: dict[str, Any] = orjson.loads(body(topic))
    obj[field] = value
    result = validate(topic, obj)
    assert isinstance(result, Rejection)
    assert result.reason is RejectReason.INVALID_VALUE
    assert f"'{field}'" in result.message


def test_validate_takes_the_key_as_text() -> None:
    obj = orjson.loads(body("dispatches"))
    assert isinstance(validate("dispatches", obj, "W1"), EVENT_TYPES["dispatches"])
    mismatch = validate("dispatches", obj, "W2")
    assert isinstance(mismatch, Rejection)
    assert mismatch.reason is RejectReason.KEY_MISMATCH


def test_first_broken_rule_is_reported() -> None:
    """Rules are checked in table order, so a message with several faults names the first."""
    raw = body("orders", event_id=b'""', warehouse=b'"bad id"')
    result = decode("orders", None, raw, require_key=False)
    assert isinstance(result, Rejection)
    assert "'event_id'" in result.message


def test_messages_stay_short_for_huge_values() -> None:
    raw = body("orders", status=b'"' + b"s" * 10_000 + b'"')
    result = decode("orders", None, raw, require_key=False)
    assert isinstance(result, Rejection)
    assert result.reason is RejectReason.UNKNOWN_STATUS
    assert len(result.message) < 300


def test_topic_rules_cover_exactly_the_input_topics() -> None:
    assert set(TOPIC_RULES) == set(INPUT_TOPICS)
