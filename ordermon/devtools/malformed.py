"""Messages that break the contract, mixed into a scenario's traffic (`Scenario.malformed_share`).

Each one is a copy of a valid message of the traffic model that breaks exactly one rule; its
`Message.why` is the `RejectReason` value the decoder must give, `DETAIL[why]` says it for a
person."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson

from ordermon.devtools.operations import Message
from ordermon.streams.errors import RejectReason
from ordermon.streams.validation import MAX_VALUE_BYTES

KINDS: Final[tuple[RejectReason, ...]] = (
    RejectReason.NOT_JSON,
    RejectReason.NOT_UTF8,
    RejectReason.NOT_OBJECT,
    RejectReason.MISSING_FIELD,
    RejectReason.WRONG_TYPE,
    RejectReason.UNKNOWN_STATUS,
    RejectReason.BAD_TIMESTAMP,
    RejectReason.KEY_MISMATCH,
    RejectReason.TOO_LARGE,
    RejectReason.BAD_WAREHOUSE,
)
DETAIL: Final[dict[str, str]] = {
    RejectReason.NOT_JSON: "the value is truncated JSON",
    RejectReason.NOT_UTF8: "the order id carries a Latin-1 byte: the value is not valid UTF-8",
    RejectReason.NOT_OBJECT: "the value is a JSON array, not an object",
    RejectReason.MISSING_FIELD: "the required field event_id is missing",
    RejectReason.WRONG_TYPE: "occurred_at is epoch milliseconds (a number), not an RFC 3339 string",
    RejectReason.UNKNOWN_STATUS: "the status is not a status of its topic",
    RejectReason.BAD_TIMESTAMP: "occurred_at has no offset",
    RejectReason.KEY_MISMATCH: "the message key names another warehouse than the warehouse field",
    RejectReason.TOO_LARGE: f"the value is larger than {MAX_VALUE_BYTES} bytes",
    RejectReason.BAD_WAREHOUSE: "the warehouse id has a space, a slash and a non-ASCII character",
}
UNKNOWN_STATUS: Final = {
    "orders": "pending",
    "dispatches": "shipped",
    "complaints": "escalated",
    "refunds": "approved",
}


@dataclass(frozen=True)
class Malformed:
    """A deliberately bad message as the simulator sends it."""

    topic: str
    key: bytes | None
    value: bytes
    occurred_at_ms: int
    why: str
    detail: str = ""

    @classmethod
    def of(cls, m: Message) -> Malformed:
        return cls(m.topic, m.key, m.value, m.occurred_at_ms, m.why, DETAIL.get(m.why, ""))


def mixed_in(
    messages: Iterator[Message], share: float, warehouses: Sequence[str], seed: str
) -> Iterator[Message]:
    """`messages`, each followed by a broken copy with probability share / (1 - share): about
    `share` of everything is malformed."""
    rng = random.Random(f"{seed}:malformed")
    odds = share / (1 - share)
    for m in messages:
        yield m
        if rng.random() < odds:
            yield broken(m, rng, warehouses)


def broken(m: Message, rng: random.Random, warehouses: Sequence[str]) -> Message:
    """A copy of `m` that breaks one rule of the contract, drawn from `KINDS`."""
    why = KINDS[rng.randrange(len(KINDS))]
    wire: dict[str, Any] = orjson.loads(m.value)
    key = m.key
    wh = str(wire["warehouse"])
    if why == RejectReason.NOT_JSON:
        value = m.value[: rng.randint(8, 40)]
    elif why == RejectReason.NOT_UTF8:
        value = m.value.replace(b'"order_id":"', b'"order_id":"Z\xfcrich-', 1)
    elif why == RejectReason.NOT_OBJECT:
        value = orjson.dumps([wire])
    elif why == RejectReason.MISSING_FIELD:
        del wire["event_id"]
        value = orjson.dumps(wire)
    elif why == RejectReason.WRONG_TYPE:
        wire["occurred_at"] = m.occurred_at_ms
        value = orjson.dumps(wire)
    elif why == RejectReason.UNKNOWN_STATUS:
        wire["status"] = UNKNOWN_STATUS[m.topic]
        value = orjson.dumps(wire)
    elif why == RejectReason.BAD_TIMESTAMP:
        wire["occurred_at"] = str(wire["occurred_at"]).rstrip("Z")
        value = orjson.dumps(wire)
    elif why == RejectReason.KEY_MISMATCH:
        others = [w for w in warehouses if w != wh]
        key = (others[rng.randrange(len(others))] if others else wh + "-X").encode()
        value = m.value
    elif why == RejectReason.TOO_LARGE:
        wire["note"] = "x" * (MAX_VALUE_BYTES + 1024)
        value = orjson.dumps(wire)
    else:  # BAD_WAREHOUSE
        bad = wh.replace("-", " ") + "/仓"
        wire["warehouse"] = bad
        key = bad.encode()
        value = orjson.dumps(wire)
    return m._replace(key=key, value=value, why=str(why))
