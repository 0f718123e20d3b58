"""decode(): classification of broken messages, the clock-skew guard, and round trips."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ordermon.streams.codec import decode, dumps, encode_event, event_to_wire, loads
from ordermon.streams.errors import RejectReason
from ordermon.streams.events import EVENT_TYPES, Event, OrderEvent, RefundEvent
from ordermon.streams.flows import INPUT_TOPICS
from ordermon.streams.timefmt import MAX_MS, MIN_MS, format_rfc3339_ms, parse_rfc3339_ms
from ordermon.streams.validation import MAX_VALUE_BYTES, Rejection
from tests.unit.streams.wire_cases import EVENTS, T0_MS, body, event_times

R = RejectReason


def rejected(result: Event | Rejection, reason: RejectReason) -> Rejection:
    assert isinstance(result, Rejection), result
    assert result.reason is reason, result
    return result


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe", R.NOT_UTF8),
        (b'{"event_id":"\xff"}', R.NOT_UTF8),
        (b'{"event_id":"\xed\xa0\x80"}', R.NOT_UTF8),  # an encoded surrogate is not UTF-8
        (b"", R.NOT_JSON),
        (b"{", R.NOT_JSON),
        (b'{"a":1,}', R.NOT_JSON),
        (b"{'a':1}", R.NOT_JSON),
        (b'{"a":"\\ud800"}', R.NOT_JSON),  # a lone surrogate escape
        (b"event_id=e-1", R.NOT_JSON),
        (b"[]", R.NOT_OBJECT),
        (b'[{"event_id":"e-1"}]', R.NOT_OBJECT),
        (b'"placed"', R.NOT_OBJECT),
        (b"1", R.NOT_OBJECT),
        (b"null", R.NOT_OBJECT),
        (b"true", R.NOT_OBJECT),
        (b"{}", R.MISSING_FIELD),
    ],
)
@pytest.mark.parametrize("topic", INPUT_TOPICS)
def test_broken_values_are_classified(topic: str, raw: bytes, reason: RejectReason) -> None:
    rejected(decode(topic, None, raw, require_key=False), reason)


def test_key_that_is_not_utf8() -> None:
    result = rejected(decode("orders", b"\xffW1", body("orders")), R.NOT_UTF8)
    assert "key" in result.message


def test_tombstone() -> None:
    result = rejected(decode("orders", b"W1", None), R.NOT_JSON)
    assert "tombstone" in result.message


def test_unknown_topic_is_named() -> None:
    result = rejected(
        decode("ordermon.alerts", None, body("orders"), require_key=False), R.INVALID_VALUE
    )
    assert "ordermon.alerts" in result.message


def padded(size: int) -> bytes:
    """A valid orders event of exactly `size` bytes (an unknown field takes up the rest)."""
    head = body("orders", pad=b'""')
    raw = head[:-2] + b"x" * (size - len(head)) + b'"}'
    assert len(raw) == size
    return raw


def test_value_of_exactly_64_kib_is_accepted() -> None:
    assert MAX_VALUE_BYTES == 65_536
    result = decode("orders", b"W1", padded(65_536))
    assert isinstance(result, OrderEvent)


def test_value_one_byte_over_64_kib_is_too_large() -> None:
    result = rejected(decode("orders", b"W1", padded(65_537)), R.TOO_LARGE)
    assert "65537" in result.message
    assert "65536" in result.message


def test_size_is_checked_before_parsing() -> None:
    rejected(decode("orders", None, b"\xff" * 65_537, require_key=False), R.TOO_LARGE)


class TestFutureTimestamp:
    def test_at_the_allowed_skew_is_accepted(self) -> None:
        result = decode(
            "orders",
            None,
            body("orders"),
            now_ms=T0_MS - 5_000,
            max_future_ms=5_000,
            require_key=False,
        )
        assert isinstance(result, OrderEvent)

    def test_one_ms_beyond_the_allowed_skew_is_rejected(self) -> None:
        result = decode(
            "orders",
            None,
            body("orders"),
            now_ms=T0_MS - 5_001,
            max_future_ms=5_000,
            require_key=False,
        )
        rejected(result, R.FUTURE_TIMESTAMP)
        assert isinstance(result, Rejection)
        assert "occurred_at" in result.message

    def test_the_past_is_always_accepted(self) -> None:
        result = decode(
            "orders",
            None,
            body("orders"),
            now_ms=T0_MS + 10**12,
            max_future_ms=0,
            require_key=False,
        )
        assert isinstance(result, OrderEvent)

    @pytest.mark.parametrize(("now_ms", "max_future_ms"), [(0, None), (None, 0), (None, None)])
    def test_off_unless_both_are_given(self, now_ms: int | None, max_future_ms: int | None) -> None:
        result = decode(
            "orders",
            None,
            body("orders"),
            now_ms=now_ms,
            max_future_ms=max_future_ms,
            require_key=False,
        )
        assert isinstance(result, OrderEvent)

    def test_an_invalid_event_keeps_its_own_reason(self) -> None:
        raw = body("orders", status=b'"lost"')
        result = decode("orders", None, raw, now_ms=0, max_future_ms=0, require_key=False)
        rejected(result, R.UNKNOWN_STATUS)


@pytest.mark.parametrize("topic", INPUT_TOPICS)
def test_a_message_without_a_key_is_refused(topic: str) -> None:
    """The contract requires the key: without it the partition is arbitrary, so offsets cannot
    make a replay harmless and a second worker would split the warehouse's counts."""
    result = rejected(decode(topic, None, body(topic)), R.MISSING_KEY)
    assert "no key" in result.message
    assert isinstance(decode(topic, b"W1", body(topic)), EVENT_TYPES[topic])
    # an empty key is a key (it then differs from the warehouse field)
    rejected(decode(topic, b"", body(topic)), R.KEY_MISMATCH)


@pytest.mark.parametrize("version", [b"2", b"99", b"0", b"-1", b"1e30", b"18446744073709551616"])
def test_an_unknown_schema_version_is_refused(version: bytes) -> None:
    result = rejected(
        decode("orders", b"W1", body("orders", schema_version=version)), R.UNSUPPORTED_VERSION
    )
    assert "schema_version" in result.message


@pytest.mark.parametrize("topic", INPUT_TOPICS)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_event_round_trip(topic: str, data: st.DataObject) -> None:
    event = data.draw(EVENTS[topic])
    assert event.topic == topic
    raw = encode_event(event)
    assert decode(topic, event.warehouse.encode(), raw) == event
    assert decode(topic, None, raw, require_key=False) == event
    wire = event_to_wire(event)
    assert orjson.loads(raw) == wire
    assert ("schema_version" in wire) == (event.schema_version != 1)
    assert wire["occurred_at"] == format_rfc3339_ms(event.occurred_at_ms)


def test_integer_beyond_64_bits_goes_back_out_as_the_same_number() -> None:
    """orjson reads an integer beyond 64 bits as a float; validation turns an integral float into
    an int, which orjson cannot write: event_to_wire writes such an int as the float again."""
    first = decode("orders", None, body("orders", items=b"1e20"), require_key=False)
    assert isinstance(first, OrderEvent)
    assert first.items == 10**20
    again = decode("orders", None, encode_event(first), require_key=False)
    assert again == first


def test_wire_leaves_out_absent_optional_fields() -> None:
    event = RefundEvent(
        event_id="e",
        status="completed",
        order_id="o",
        warehouse="W",
        occurred_at_ms=T0_MS + 7,
        refund_id="r",
        amount=0,
    )
    assert event_to_wire(event) == {
        "event_id": "e",
        "status": "completed",
        "order_id": "o",
        "warehouse": "W",
        "occurred_at": "2026-11-22T08:15:00.007Z",
        "refund_id": "r",
        "amount": 0,
    }


def test_dumps_and_loads() -> None:
    record: dict[Any, Any] = {"a": [1, 2.5, None], 3: "three"}
    assert loads(dumps(record)) == {"a": [1, 2.5, None], "3": "three"}
    assert loads("[1]") == [1]


# ---- timestamps ------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(event_times)
def test_format_then_parse_is_identity(ms: int) -> None:
    text = format_rfc3339_ms(ms)
    assert parse_rfc3339_ms(text) == ms
    assert text.endswith("Z")
    assert len(text) in (20, 24)  # with or without .mmm


offsets = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))


@settings(max_examples=300, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(1, 1, 2),  # a day inside the range, whatever the offset
        max_value=datetime(9999, 12, 30),
        timezones=offsets,
    )
)
def test_parse_agrees_with_datetime(dt: datetime) -> None:
    text = dt.isoformat()  # YYYY-MM-DDTHH:MM:SS[.ffffff]+HH:MM
    expected = (dt - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    assert parse_rfc3339_ms(text) == expected


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0, "1970-01-01T00:00:00Z"),
        (T0_MS, "2026-11-22T08:15:00Z"),
        (T0_MS + 1, "2026-11-22T08:15:00.001Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
        (MIN_MS, "0001-01-01T00:00:00Z"),
        (MIN_MS + 999 * 86_400_000, "0003-09-27T00:00:00Z"),  # years below 1000 keep 4 digits
        (MAX_MS, "9999-12-31T23:59:59.999Z"),
    ],
)
def test_format(ms: int, text: str) -> None:
    assert format_rfc3339_ms(ms) == text


@pytest.mark.parametrize("ms", [MIN_MS - 1, MAX_MS + 1])
def test_format_outside_years_1_to_9999_raises(ms: int) -> None:
    with pytest.raises(OverflowError):
        format_rfc3339_ms(ms)
