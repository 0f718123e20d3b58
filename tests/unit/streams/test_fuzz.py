"""Whatever arrives on an input topic, decode() answers with an Event or a Rejection.

decode() has a last-resort `except Exception`; these tests also check that it is never the
path taken, so an input that makes validation raise is caught here rather than hidden."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ordermon.streams import codec
from ordermon.streams.codec import decode, encode_event
from ordermon.streams.errors import RejectReason
from ordermon.streams.events import EVENT_TYPES
from ordermon.streams.flows import INPUT_TOPICS
from ordermon.streams.validation import Rejection
from tests.unit.streams.wire_cases import json_objects, json_values, mutated_wire

FUZZ = settings(max_examples=300, deadline=None)
keys = (
    st.none()
    | st.binary(max_size=70)
    | st.from_regex(r"[A-Za-z0-9_.-]{1,8}", fullmatch=True).map(str.encode)
)
FALLBACK = "the value could not be decoded"


def check(topic: str, key: bytes | None, raw: bytes | None) -> None:
    result = decode(topic, key, raw)
    if isinstance(result, Rejection):
        assert isinstance(result.reason, RejectReason)
        assert not result.message.startswith(FALLBACK), result.message
        assert result.message
    else:
        assert isinstance(result, EVENT_TYPES[topic])
        # whatever was accepted can be written back and reads back the same
        assert decode(topic, None, encode_event(result), require_key=False) == result
        if key is not None:
            assert key == result.warehouse.encode()


def test_the_fallback_is_detectable(monkeypatch: pytest.MonkeyPatch) -> None:
    """`check` recognises the fallback's message: it is what decode() says if validation raises."""

    def explode(*args: object, **kwargs: object) -> object:
        raise ZeroDivisionError

    monkeypatch.setattr(codec, "validate", explode)
    fallback = decode("orders", None, b"{}", require_key=False)
    assert isinstance(fallback, Rejection)
    assert fallback.message.startswith(FALLBACK)


@pytest.mark.parametrize("topic", INPUT_TOPICS)
@FUZZ
@given(key=keys, raw=st.binary(max_size=300))
def test_arbitrary_bytes(topic: str, key: bytes | None, raw: bytes) -> None:
    check(topic, key, raw)


@pytest.mark.parametrize("topic", INPUT_TOPICS)
@FUZZ
@given(key=keys, value=json_values)
def test_arbitrary_json(topic: str, key: bytes | None, value: object) -> None:
    check(topic, key, orjson.dumps(value))


@pytest.mark.parametrize("topic", INPUT_TOPICS)
@FUZZ
@given(key=keys, obj=json_objects)
def test_arbitrary_json_objects(topic: str, key: bytes | None, obj: dict[str, object]) -> None:
    check(topic, key, orjson.dumps(obj))


@pytest.mark.parametrize("topic", INPUT_TOPICS)
@FUZZ
@given(key=keys, obj=mutated_wire())
def test_mutated_events_of_any_topic(topic: str, key: bytes | None, obj: dict[str, object]) -> None:
    check(topic, key, orjson.dumps(obj))


@pytest.mark.parametrize("topic", INPUT_TOPICS)
@FUZZ
@given(data=st.data())
def test_mutated_events_of_the_topic(topic: str, data: st.DataObject) -> None:
    obj = data.draw(mutated_wire(topic))
    raw = orjson.dumps(obj)
    check(topic, None, raw)
    # byte-level damage to a near-valid value
    if raw:
        at = data.draw(st.integers(0, len(raw) - 1))
        byte = data.draw(st.integers(0, 255))
        check(topic, None, raw[:at] + bytes([byte]) + raw[at + 1 :])
        check(topic, None, raw[:at])
