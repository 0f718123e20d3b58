"""The pure part of `ordermon deadletters`: reading letters, selecting them, planning replays."""

from __future__ import annotations

import base64

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ordermon.deadletters import (
    Letter,
    LetterError,
    Selection,
    marker,
    parse_letter,
    parse_marker,
    plan,
    read_corrections,
)
from ordermon.streams.outputs import DeadLetter
from ordermon.streams.timefmt import parse_rfc3339_ms
from ordermon.streams.topics import TopicNames

T0 = parse_rfc3339_ms("2026-11-22T08:00:00Z") or 0
EVENT = (
    b'{"event_id":"e1","status":"placed","order_id":"o1","warehouse":"BJ-1",'
    b'"occurred_at":"2026-11-22T08:00:00Z"}'
)


def letter(offset: int = 7, **changes: object) -> Letter:
    values: dict[str, object] = dict(
        source_topic="p.orders",
        partition=1,
        offset=offset,
        reason="warehouse_limit",
        error="too many warehouses",
        received_at_ms=T0,
        payload=EVENT,
        key=None,
    )
    values.update(changes)
    return Letter(**values)  # type: ignore[arg-type]


def test_a_letter_round_trips_from_the_workers_wire_format() -> None:
    wire = DeadLetter("p.orders", 1, 7, "bad", "not_json", T0, b"{oops").to_wire()
    got = parse_letter(orjson.dumps(wire))
    assert got.source == ("p.orders", 1, 7)
    assert (got.reason, got.error, got.received_at_ms, got.payload) == (
        "not_json",
        "bad",
        T0,
        b"{oops",
    )
    binary = DeadLetter("p.orders", 0, 3, "bad", "not_utf8", T0, b"\xff\xfe").to_wire()
    assert parse_letter(orjson.dumps(binary)).payload == b"\xff\xfe"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "not JSON"),
        (b"[1]", "not a JSON object"),
        (b'{"partition": 1, "offset": 2}', "no source_topic"),
        (b'{"source_topic": "t", "partition": "1", "offset": 2}', "integers"),
        (b'{"source_topic": "t", "partition": 1, "offset": 2, "payload_b64": "%%"}', "base64"),
        (None, "not JSON"),
    ],
)
def test_what_is_not_a_letter_is_named(raw: bytes | None, message: str) -> None:
    with pytest.raises(LetterError, match=message):
        parse_letter(raw)


@given(st.binary(max_size=2000), st.one_of(st.none(), st.binary(max_size=64)))
def test_any_payload_and_key_survive_the_letter(payload: bytes, key: bytes | None) -> None:
    wire = {"source_topic": "t", "partition": 0, "offset": 1, "reason": "r"}
    for name, raw in (("payload", payload), ("key", key)):
        if raw is None:
            continue
        try:
            wire[name] = raw.decode("utf-8")
        except UnicodeDecodeError:
            wire[f"{name}_b64"] = base64.b64encode(raw).decode()
    got = parse_letter(orjson.dumps(wire))
    assert (got.payload, got.key) == (payload, key)


def test_selection_by_reason_topic_and_time() -> None:
    names = TopicNames("p.")
    a = letter(1, reason="not_json", received_at_ms=T0)
    b = letter(2, source_topic="p.refunds", received_at_ms=T0 + 60_000)
    c = letter(3, received_at_ms=None)
    every = [a, b, c]
    pick = lambda **kw: [x.offset for x in every if Selection(names=names, **kw).matches(x)]  # noqa: E731
    assert pick() == [1, 2, 3]
    assert pick(reasons=frozenset({"not_json"})) == [1]
    assert pick(topics=frozenset({"refunds"})) == [2]  # the contract's name
    assert pick(topics=frozenset({"p.orders"})) == [1, 3]  # or the full one
    assert pick(since_ms=T0 + 1) == [2]
    assert pick(until_ms=T0 + 1) == [1]  # a letter with no time is outside any time range


def test_replay_sends_the_original_keyed_by_its_warehouse_and_only_once() -> None:
    todo = plan([letter(1), letter(2, key=b"KEYED")], Selection(), replayed=[("p.orders", 1, 2)])
    assert [(r.source, r.topic, r.key, r.value) for r in todo.send] == [
        (("p.orders", 1, 1), "p.orders", b"BJ-1", EVENT)
    ]
    assert todo.skipped == [(("p.orders", 1, 2), "already replayed")]
    twice = plan([letter(1), letter(1)], Selection(), replayed=[])
    assert len(twice.send) == 1 and twice.skipped[0][1] == "already replayed"


def test_letters_that_cannot_be_replayed_as_they_are_say_why() -> None:
    todo = plan(
        [letter(1, truncated=True), letter(2, payload=None), letter(3, payload=b"{oops")],
        Selection(),
        replayed=[],
    )
    assert not todo.send
    reasons = dict(todo.skipped)
    assert "part of the payload" in reasons[("p.orders", 1, 1)]
    assert "part of the payload" in reasons[("p.orders", 1, 2)]
    assert "no key" in reasons[("p.orders", 1, 3)]


def test_corrections_replace_the_payload_and_only_they_are_sent() -> None:
    fixed = b'{"event_id":"e9","warehouse":"SH-2"}'
    lines = [
        orjson.dumps(
            {"source_topic": "p.orders", "partition": 1, "offset": 3, "value": orjson.loads(fixed)}
        ).decode(),
        "",
        orjson.dumps(
            {"source_topic": "p.orders", "partition": 1, "offset": 99, "value": "x", "key": "K"}
        ).decode(),
    ]
    corrections = read_corrections(lines)
    assert corrections[("p.orders", 1, 99)] == (b"K", b"x")
    todo = plan([letter(1), letter(3, payload=b"{oops")], Selection(), [], corrections)
    assert [(r.source, r.key, r.value) for r in todo.send] == [(("p.orders", 1, 3), b"SH-2", fixed)]
    assert todo.skipped == [(("p.orders", 1, 99), "no such dead letter (or not selected)")]


@pytest.mark.parametrize(
    "line",
    [
        '{"source_topic": "t", "partition": 1}',
        "nope",
        '{"source_topic": "t", "partition": 1, "offset": 2, "value": 5}',
    ],
)
def test_a_bad_correction_line_is_named_by_its_number(line: str) -> None:
    with pytest.raises(LetterError, match="line 2"):
        read_corrections(["", line])


def test_the_replay_record_names_the_source() -> None:
    (replay,) = plan([letter(5)], Selection(), []).send
    key, value = marker(replay, T0, (0, 42))
    assert key == b"p.orders/1/5"
    assert parse_marker(value) == ("p.orders", 1, 5)
    assert orjson.loads(value)["to_offset"] == 42
    assert parse_marker(b"garbage") is None
