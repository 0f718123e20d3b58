"""The fast paths of parse_rfc3339_ms and validate() answer exactly as the full ones do.

Each fast path is only allowed to take a shortcut where it is sure of the answer; these tests
compare it with the reference (`_parse_full`, `_validate_generic`) on arbitrary and near-valid
input, and check that the shortcut is really taken for ordinary events."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ordermon.streams import timefmt
from ordermon.streams.codec import event_to_wire
from ordermon.streams.events import Event
from ordermon.streams.flows import INPUT_TOPICS, STATUSES
from ordermon.streams.timefmt import _parse_full, parse_rfc3339_ms
from ordermon.streams.validation import (
    _FAST,
    COMPLAINT_REASONS,
    Rejection,
    _validate_generic,
    rules_for,
    validate,
)
from tests.unit.streams.wire_cases import BASE, EVENTS, json_values, warehouses

PROPERTY = settings(max_examples=400, deadline=None)


# ---- timestamps ------------------------------------------------------------------------------


def _two(lo: int, hi: int) -> st.SearchStrategy[str]:
    return st.integers(lo, hi).map(lambda v: f"{v:02d}")


# Characters a damaged timestamp may hold: other scripts' digits ("٢", "²" is isdigit() but not
# a decimal), the separators and both cases of the letters.
_NOISE = "0123456789٢٠²TtZz:.-+ \n"


@st.composite
def near_timestamps(draw: st.DrawFn) -> str:
    """Timestamps around the grammar's and the calendar's edges, sometimes slightly damaged."""
    year = draw(
        st.sampled_from(["0000", "0001", "1970", "2000", "2024", "2026", "2100", "9999"])
        | st.integers(0, 9999).map(lambda y: f"{y:04d}")
    )
    text = (
        f"{year}-{draw(_two(0, 13))}-{draw(_two(0, 32))}"
        f"{draw(st.sampled_from('TtT '))}{draw(_two(0, 24))}:{draw(_two(0, 60))}"
        f":{draw(_two(0, 61))}"
    )
    if draw(st.booleans()):
        text += "." + draw(st.text(alphabet="0123456789", max_size=11))
    text += draw(
        st.sampled_from(["Z", "Z", "Z", "z", "", "+00:00", "-00:00", "+08:00", "-23:59", "ZZ"])
    )
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(text)))
        char = draw(st.sampled_from(_NOISE))
        match draw(st.sampled_from(["replace", "insert", "delete"])):
            case "replace":
                text = text[:at] + char + text[at + 1 :]
            case "insert":
                text = text[:at] + char + text[at:]
            case _:
                text = text[:at] + text[at + 1 :]
    return text


def _check_timestamp(text: str) -> None:
    assert parse_rfc3339_ms(text) == _parse_full(text), text
    # and again, now that the minute may be cached
    assert parse_rfc3339_ms(text) == _parse_full(text), text


@PROPERTY
@given(st.text(max_size=40))
def test_timestamp_arbitrary_text(text: str) -> None:
    _check_timestamp(text)


@PROPERTY
@given(near_timestamps())
def test_timestamp_near_valid(text: str) -> None:
    _check_timestamp(text)


@PROPERTY
@given(st.lists(near_timestamps(), min_size=2, max_size=6))
def test_timestamp_answers_do_not_depend_on_what_came_before(texts: list[str]) -> None:
    timefmt.minute_cache.clear()
    first = [parse_rfc3339_ms(t) for t in texts]
    second = [parse_rfc3339_ms(t) for t in reversed(texts)]
    assert first == [_parse_full(t) for t in texts]
    assert second == first[::-1]


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-23T08:15:07.123Z",
        "2026-11-23T08:15:07Z",
        "2026-11-23T08:15:07.1Z",
        "2026-11-23T08:15:07.12Z",
        "2026-11-23T08:15:07.123456789Z",
        "2026-11-23T08:15:07.1234567890Z",  # 10 fraction digits
        "2026-11-23T08:15:07.Z",
        "2026-11-23T08:15:07.12a4Z",
        "2026-11-23T08:15:07.123٢Z",
        "2026-11-23T08:15:07.123²Z",
        "2026-11-23T08:15:0٢Z",
        "٢٠٢٦-11-23T08:15:07Z",
        "2026-11-23t08:15:07Z",  # lowercase 't' is RFC 3339
        "2026-11-23T08:15:07z",
        "2026-11-23 08:15:07Z",
        "2026-11-23T08:15:60Z",  # no leap second
        "2026-11-23T08:15:59.999Z",
        "2026-11-23T08:60:00Z",
        "2026-11-23T24:00:00Z",
        "2026-13-01T00:00:00Z",
        "2026-00-01T00:00:00Z",
        "2026-11-31T00:00:00Z",
        "2026-02-29T12:00:00Z",  # not a leap year
        "2024-02-29T12:00:00Z",
        "2100-02-29T12:00:00Z",
        "2000-02-29T12:00:00Z",
        "0000-01-01T00:00:00Z",
        "0001-01-01T00:00:00Z",
        "0001-01-01T00:00:00.000000001Z",
        "9999-12-31T23:59:59.999Z",
        "9999-12-31T23:59:59.999999999Z",
        "2026-11-23T08:15:07+00:00",
        "2026-11-23T08:15:07.123+08:00",
        "2026-11-23T08:15:07Z\n",
        " 2026-11-23T08:15:07Z",
        "2026-11-23T08:15:07ZZ",
        "2026-11-23X08:15:07Z",
        "2026-11-23T08-15:07Z",
        "2026-11-23T08:15-07Z",
        "20261123T081507Z",
        "",
        "Z",
    ],
)
def test_timestamp_table(text: str) -> None:
    timefmt.minute_cache.clear()
    _check_timestamp(text)


class Masked(str):
    """Looks like a valid timestamp through len() and [], but its characters are not one."""

    SHOWN = "2026-11-23T08:15:07.123Z"

    def __len__(self) -> int:
        return len(self.SHOWN)

    def __getitem__(self, index: Any) -> str:
        return self.SHOWN[index]


def test_timestamp_str_subclass_takes_the_full_parser() -> None:
    parse_rfc3339_ms(Masked.SHOWN)  # its minute is cached
    masked = Masked("this is not a timestamp!")
    assert _parse_full(masked) is None
    assert parse_rfc3339_ms(masked) is None


def test_minute_cache_is_bounded_and_only_holds_what_the_full_parser_says() -> None:
    timefmt.minute_cache.clear()
    for i in range(5000):
        ms = 1_795_335_300_000 + i * 60_000
        text = timefmt.format_rfc3339_ms(ms + 7_123)
        assert parse_rfc3339_ms(text) == ms + 7_123
        assert len(timefmt.minute_cache) <= timefmt.MINUTE_CACHE_MAX
    for bad in ("2026-02-29T00:00:00Z", "0000-01-01T00:00:00Z", "2026-11-23T08:61:00Z"):
        assert parse_rfc3339_ms(bad) is None
    for prefix, base in timefmt.minute_cache.items():
        assert _parse_full(prefix + "00Z") == base


# ---- validate() ------------------------------------------------------------------------------


class Text(str):
    """A str subclass: validate() may be called with any mapping, not only orjson's output."""


class Number(float):
    pass


class Count(int):
    pass


_TRICKY: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    2,
    0.0,
    -0.0,
    0.5,
    1.0,
    2.0,
    2.5,
    -0.001,
    1e20,
    1e308,
    2**64,
    2**100,
    -(2**70),
    float(2**70),
    math.nan,
    math.inf,
    -math.inf,
    "",
    "x",
    "x" * 128,
    "x" * 129,
    "é" * 128,
    "W1",
    "W 1",
    "W1\n",
    "w" * 64,
    "w" * 65,
    "1",
    "10.5",
    [],
    {},
    ["W1"],
    Text("W1"),
    Text("placed"),
    Text("2026-11-22T08:15:00Z"),
    Text("e-1"),
    Number(1.0),
    Number(math.nan),
    Count(1),
    Count(0),
    b"W1",
]
values = st.one_of(
    st.sampled_from(_TRICKY),
    st.sampled_from(sorted({s for statuses in STATUSES.values() for s in statuses})),
    st.sampled_from(COMPLAINT_REASONS),
    near_timestamps(),
    warehouses,
    st.floats(),
    st.integers(-(2**70), 2**70),
    st.text(max_size=8),
    json_values,
)
_ALL_NAMES = sorted({r.name for t in INPUT_TOPICS for r in rules_for(t)} | {"extra", "topic"})


@st.composite
def near_objects(draw: st.DrawFn, topic: str) -> tuple[dict[str, Any], Any]:
    """A valid event's object of `topic`, with 0-4 fields removed, replaced or added, and a key."""
    if draw(st.booleans()):
        obj = event_to_wire(draw(EVENTS[topic]))
    else:
        obj = {name: orjson.loads(raw) for name, raw in BASE[topic].items()}
    for _ in range(draw(st.integers(0, 4))):
        name = draw(st.sampled_from(_ALL_NAMES))
        if draw(st.integers(0, 3)) == 0:
            obj.pop(name, None)
        else:
            obj[name] = draw(values)
    key = draw(
        st.sampled_from([None, obj.get("warehouse"), "W1", "W2", "", Text("W1")]) | warehouses
    )
    return obj, key


def assert_same(fast: Event | Rejection, generic: Event | Rejection) -> None:
    assert type(fast) is type(generic)
    assert fast == generic
    assert repr(fast) == repr(generic)  # tells 2 from 2.0, 1 from True and 0.0 from -0.0


@pytest.mark.parametrize("topic", INPUT_TOPICS)
@PROPERTY
@given(data=st.data())
def test_validate_agrees_with_the_generic_path(topic: str, data: st.DataObject) -> None:
    obj, key = data.draw(near_objects(topic))
    assert_same(validate(topic, obj, key), _validate_generic(topic, obj, key))


@pytest.mark.parametrize("topic", INPUT_TOPICS)
@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_fast_path_takes_valid_events(topic: str, data: st.DataObject) -> None:
    """Not just a pass-through: an ordinary event never needs the generic path."""
    event = data.draw(EVENTS[topic])
    obj = event_to_wire(event)
    for key in (None, event.warehouse):
        fast = _FAST[topic](obj, key)
        assert fast is not None
        assert_same(fast, _validate_generic(topic, obj, key))
        assert_same(fast, event)
        with pytest.raises(dataclasses.FrozenInstanceError):  # built slot by slot, still frozen
            fast.warehouse = "elsewhere"  # type: ignore[misc]


def test_every_input_topic_has_a_fast_path() -> None:
    assert set(_FAST) == set(INPUT_TOPICS)


def _base(topic: str, **changes: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {name: orjson.loads(raw) for name, raw in BASE[topic].items()}
    for name, value in changes.items():
        if value is _DROP:
            obj.pop(name, None)
        else:
            obj[name] = value
    return obj


_DROP = object()


@pytest.mark.parametrize(
    ("topic", "changes", "key", "accepted"),
    [
        ("orders", {}, "W1", True),
        ("orders", {}, "W2", False),
        ("orders", {}, Text("W1"), True),
        ("orders", {"amount": True}, None, False),
        ("orders", {"amount": math.nan}, None, False),
        ("orders", {"amount": -0.0}, None, True),
        ("orders", {"amount": Number(1.5)}, None, True),
        ("orders", {"amount": 2**100}, None, True),
        ("orders", {"items": 2.0}, None, True),
        ("orders", {"items": 1e20}, None, True),
        ("orders", {"items": 2.5}, None, False),
        ("orders", {"items": Count(3)}, None, True),
        ("orders", {"items": True}, None, False),
        ("orders", {"items": None, "amount": None}, None, True),
        ("orders", {"schema_version": 0}, None, False),
        ("orders", {"schema_version": 1.0}, None, True),
        ("orders", {"schema_version": None}, None, True),
        ("orders", {"schema_version": True}, None, False),
        ("orders", {"warehouse": Text("W1")}, "W1", True),
        ("orders", {"event_id": Text("e-1")}, None, True),
        ("orders", {"event_id": "x" * 129}, None, False),
        ("orders", {"status": Text("placed")}, None, True),
        ("orders", {"status": "opened"}, None, False),
        ("orders", {"occurred_at": "2026-11-22t08:15:00z"}, None, True),
        ("orders", {"occurred_at": "2026-02-29T08:15:00Z"}, None, False),
        ("orders", {"occurred_at_ms": 5, "carrier": 5, "note": {}}, None, True),
        ("orders", {"order_id": None}, None, False),
        ("orders", {"order_id": _DROP}, None, False),
        ("dispatches", {"carrier": ""}, None, True),
        ("dispatches", {"carrier": 5}, None, False),
        ("complaints", {"reason": "damaged"}, None, True),
        ("complaints", {"reason": "DAMAGED"}, None, False),
        ("complaints", {"complaint_id": _DROP}, None, False),
        ("refunds", {"amount": None}, None, False),
        ("refunds", {"amount": 0}, None, True),
        ("refunds", {"amount": math.inf}, None, False),
    ],
)
def test_validate_table(topic: str, changes: dict[str, Any], key: Any, accepted: bool) -> None:
    obj = _base(topic, **changes)
    result = validate(topic, obj, key)
    assert_same(result, _validate_generic(topic, obj, key))
    assert isinstance(result, Rejection) is not accepted, result


class _Mapping(Mapping[str, Any]):
    """Not a dict: validate() must read it through `in` and `[]` only, as before."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getitem__(self, name: str) -> Any:
        return self._data[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def get(self, name: str, default: Any = None) -> Any:
        raise AssertionError("the fast path must not read a mapping that is not a dict")


class _Dict(dict[str, Any]):
    def get(self, name: str, default: Any = None) -> Any:
        raise AssertionError("the fast path must not read a dict subclass")


@pytest.mark.parametrize("topic", INPUT_TOPICS)
def test_other_mappings_take_the_generic_path(topic: str) -> None:
    obj = _base(topic)
    expected = _validate_generic(topic, obj, "W1")
    assert not isinstance(expected, Rejection)
    for other in (_Mapping(obj), _Dict(obj), MappingProxyType(obj)):
        assert_same(validate(topic, other, "W1"), expected)


class Liar(str):
    """Equal to every string and hashed like "W1": only its characters tell what it is."""

    def __eq__(self, other: object) -> bool:
        return True

    def __ne__(self, other: object) -> bool:
        return False

    def __hash__(self) -> int:
        return hash("W1")


@pytest.mark.parametrize("field", ["event_id", "status", "order_id", "warehouse", "occurred_at"])
def test_str_subclasses_cannot_fool_the_fast_path(field: str) -> None:
    assert not isinstance(validate("orders", _base("orders")), Rejection)  # "W1" is known now
    obj = _base("orders", **{field: Liar("bad id")})
    result = validate("orders", obj)
    assert_same(result, _validate_generic("orders", obj))
    if field in ("warehouse", "occurred_at"):  # read by their characters (a Liar is a status)
        assert isinstance(result, Rejection)


def test_unknown_topic_still_raises_like_before() -> None:
    with pytest.raises(KeyError):
        _validate_generic("alerts", {})
    with pytest.raises(KeyError):
        validate("alerts", {})
