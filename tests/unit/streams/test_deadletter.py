"""Whatever bytes arrive (up to 2 MB here), their dead letter encodes under the producer's limit
and decodes back to JSON that names the source and holds the payload, or a prefix of it with its
size and sha256."""

from __future__ import annotations

import base64
import hashlib

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ordermon.streams.codec import PRODUCER_MAX_BYTES, decode, encode_deadletter
from ordermon.streams.errors import RejectReason
from ordermon.streams.flows import INPUT_TOPICS
from ordermon.streams.outputs import PAYLOAD_KEPT_BYTES, DeadLetter, payload_fields
from ordermon.streams.validation import Rejection

MAX_INPUT = 2 * 1024 * 1024


def _repeat(chunk: bytes, size: int) -> bytes:
    return (chunk * (size // len(chunk) + 1))[:size]


# Large values are a chunk repeated (hypothesis does not draw megabytes byte by byte), with an
# arbitrary head and tail, so that the cut falls anywhere: inside a character, in an escape.
values = st.one_of(
    st.binary(max_size=4096),
    st.builds(
        lambda head, chunk, size, tail: head + _repeat(chunk, size) + tail,
        st.binary(max_size=8),
        st.binary(min_size=1, max_size=16)
        | st.sampled_from([b"\x01", b"\xff", "é".encode(), "😀".encode(), b'"', b"\\"]),
        st.integers(0, MAX_INPUT - 16),
        st.binary(max_size=8),
    ),
)


def letter_of(topic: str, raw: bytes, offset: int) -> DeadLetter:
    result = decode(topic, b"WH-1", raw)
    reason = result.reason if isinstance(result, Rejection) else RejectReason.WAREHOUSE_LIMIT
    message = result.message if isinstance(result, Rejection) else "over the limit"
    return DeadLetter(
        source_topic=f"prefix.{topic}",
        partition=3,
        offset=offset,
        error=message,
        reason=str(reason),
        received_at_ms=1_795_335_300_000,
        payload=raw,
    )


def check_letter(raw: bytes, encoded: bytes, offset: int) -> dict[str, object]:
    assert len(encoded) < PRODUCER_MAX_BYTES
    letter = orjson.loads(encoded)
    assert letter["partition"] == 3 and letter["offset"] == offset
    assert str(letter["source_topic"]).startswith("prefix.")
    assert letter["reason"] in {r.value for r in RejectReason}
    if "payload" in letter:
        kept = str(letter["payload"]).encode("utf-8")
        assert "payload_b64" not in letter
    else:
        kept = base64.b64decode(str(letter["payload_b64"]))
    if len(raw) > PAYLOAD_KEPT_BYTES:
        assert letter["payload_truncated"] is True
        assert letter["payload_size"] == len(raw)
        assert letter["payload_sha256"] == hashlib.sha256(raw).hexdigest()
        assert raw.startswith(kept) and PAYLOAD_KEPT_BYTES - 3 <= len(kept) <= PAYLOAD_KEPT_BYTES
    else:
        assert kept == raw
        assert "payload_truncated" not in letter and "payload_size" not in letter
    return dict(letter)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(INPUT_TOPICS), values, st.integers(0, 2**63 - 1))
def test_any_value_gives_a_dead_letter_that_fits(topic: str, raw: bytes, offset: int) -> None:
    check_letter(raw, encode_deadletter(letter_of(topic, raw, offset)), offset)


@pytest.mark.parametrize(
    ("raw", "as_text"),
    [
        (b"\x01" * 200_000, True),  # the crash: 6 bytes of JSON per input byte
        (b"\x01" * 10_000_000, True),
        (b"\xff" * 1_000_000, False),
        ("é".encode() * 40_000, True),  # the cut falls inside a two-byte character
        ("😀".encode() * 20_000, True),
        (b"x" * PAYLOAD_KEPT_BYTES, True),  # exactly at the limit: whole
    ],
)
def test_the_largest_letters(raw: bytes, as_text: bool) -> None:
    letter = check_letter(raw, encode_deadletter(letter_of("orders", raw, 7)), 7)
    assert ("payload" in letter) is as_text


def test_a_long_error_is_cut() -> None:
    letter = DeadLetter("orders", 0, 1, "e" * 50_000, "not_json", 0, None)
    wire = letter.to_wire()
    assert len(wire["error"]) == 1000 and wire["error"].endswith("...")
    assert "payload" not in wire and "payload_b64" not in wire


def test_a_tombstone_has_no_payload() -> None:
    assert payload_fields(b"") == {"payload": ""}
