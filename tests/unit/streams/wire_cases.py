"""Shared cases of the wire tests: the contract's rule table as literal JSON, and hypothesis
strategies for valid events, JSON-ish values and mutated events.

Imported as `tests.unit.streams.wire_cases` (pytest runs with `pythonpath = ["."]`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from hypothesis import strategies as st

from ordermon.streams.codec import event_to_wire
from ordermon.streams.errors import RejectReason
from ordermon.streams.events import (
    ComplaintEvent,
    DispatchEvent,
    Event,
    OrderEvent,
    RefundEvent,
)
from ordermon.streams.flows import COMPLAINTS, DISPATCHES, INPUT_TOPICS, ORDERS, REFUNDS, STATUSES
from ordermon.streams.timefmt import MAX_MS, MIN_MS
from ordermon.streams.validation import COMPLAINT_REASONS, rules_for

R = RejectReason
T0_MS = 1_795_335_300_000  # 2026-11-22T08:15:00Z
DROP = b"<drop>"

# One valid event per topic, field by field, as literal JSON values.
BASE: dict[str, dict[str, bytes]] = {
    ORDERS: {
        "event_id": b'"e-1"',
        "status": b'"placed"',
        "order_id": b'"o-1"',
        "warehouse": b'"W1"',
        "occurred_at": b'"2026-11-22T08:15:00Z"',
    },
    DISPATCHES: {
        "event_id": b'"e-2"',
        "status": b'"dispatched"',
        "order_id": b'"o-1"',
        "warehouse": b'"W1"',
        "occurred_at": b'"2026-11-22T08:15:00Z"',
    },
    COMPLAINTS: {
        "event_id": b'"e-3"',
        "status": b'"opened"',
        "order_id": b'"o-1"',
        "warehouse": b'"W1"',
        "occurred_at": b'"2026-11-22T08:15:00Z"',
        "complaint_id": b'"c-1"',
    },
    REFUNDS: {
        "event_id": b'"e-4"',
        "status": b'"requested"',
        "order_id": b'"o-1"',
        "warehouse": b'"W1"',
        "occurred_at": b'"2026-11-22T08:15:00Z"',
        "refund_id": b'"r-1"',
        "amount": b"10.5",
    },
}


def body(topic: str, /, **fields: bytes) -> bytes:
    """The topic's valid base event with `fields` replaced or added (literal JSON values), or
    removed (DROP). Field order follows the base, then the additions."""
    merged = dict(BASE[topic])
    merged.update(fields)
    parts = [b'"%s":%s' % (name.encode(), value) for name, value in merged.items() if value != DROP]
    return b"{" + b",".join(parts) + b"}"


@dataclass(frozen=True)
class Case:
    """One row: `raw` on `topic` with message key `key` is rejected with `reason` by a message
    that names `field`, or (reason None) accepted with `attr` == `value` on the event."""

    id: str
    topic: str
    raw: bytes
    reason: RejectReason | None
    field: str
    key: bytes | None = None
    attr: str | None = None
    value: Any = None


def ok(id: str, topic: str, raw: bytes, attr: str, value: Any, key: bytes | None = None) -> Case:
    return Case(id, topic, raw, None, attr, key=key, attr=attr, value=value)


def bad(id: str, topic: str, raw: bytes, reason: RejectReason, field: str) -> Case:
    return Case(id, topic, raw, reason, field)


ID_128 = b'"' + b"x" * 128 + b'"'
ID_129 = b'"' + b"x" * 129 + b'"'
ID_128_NON_ASCII = b'"' + "é".encode() * 128 + b'"'  # 128 characters, 256 bytes
WH_64 = b'"' + b"w" * 64 + b'"'
WH_65 = b'"' + b"w" * 65 + b'"'
TS = "occurred_at"

HAND_CASES: list[Case] = [
    # ids: 1-128 characters (characters, not bytes)
    *(
        c
        for topic, name in (
            (ORDERS, "event_id"),
            (ORDERS, "order_id"),
            (COMPLAINTS, "complaint_id"),
            (REFUNDS, "refund_id"),
        )
        for c in (
            bad(
                f"{topic}-{name}-empty", topic, body(topic, **{name: b'""'}), R.INVALID_VALUE, name
            ),
            bad(f"{topic}-{name}-129", topic, body(topic, **{name: ID_129}), R.INVALID_VALUE, name),
            ok(f"{topic}-{name}-128", topic, body(topic, **{name: ID_128}), name, "x" * 128),
            ok(f"{topic}-{name}-1", topic, body(topic, **{name: b'"x"'}), name, "x"),
            bad(f"{topic}-{name}-number", topic, body(topic, **{name: b"7"}), R.WRONG_TYPE, name),
        )
    ),
    ok("id-128-non-ascii", ORDERS, body(ORDERS, event_id=ID_128_NON_ASCII), "event_id", "é" * 128),
    # warehouse: 1-64 characters of A-Z a-z 0-9 _ . -
    bad("wh-empty", ORDERS, body(ORDERS, warehouse=b'""'), R.BAD_WAREHOUSE, "warehouse"),
    ok("wh-64", ORDERS, body(ORDERS, warehouse=WH_64), "warehouse", "w" * 64),
    bad("wh-65", ORDERS, body(ORDERS, warehouse=WH_65), R.BAD_WAREHOUSE, "warehouse"),
    ok("wh-punct", ORDERS, body(ORDERS, warehouse=b'"a_B.9-z"'), "warehouse", "a_B.9-z"),
    bad("wh-space", ORDERS, body(ORDERS, warehouse=b'"W 1"'), R.BAD_WAREHOUSE, "warehouse"),
    bad("wh-slash", ORDERS, body(ORDERS, warehouse=b'"W/1"'), R.BAD_WAREHOUSE, "warehouse"),
    bad("wh-colon", ORDERS, body(ORDERS, warehouse=b'"W:1"'), R.BAD_WAREHOUSE, "warehouse"),
    bad("wh-accent", ORDERS, body(ORDERS, warehouse=b'"W\xc3\xa9"'), R.BAD_WAREHOUSE, "warehouse"),
    bad("wh-newline", ORDERS, body(ORDERS, warehouse=b'"W1\\n"'), R.BAD_WAREHOUSE, "warehouse"),
    bad("wh-star", ORDERS, body(ORDERS, warehouse=b'"*"'), R.BAD_WAREHOUSE, "warehouse"),
    bad("wh-number", ORDERS, body(ORDERS, warehouse=b"1"), R.WRONG_TYPE, "warehouse"),
    # status: one of the topic's values
    bad(
        "orders-dispatched",
        ORDERS,
        body(ORDERS, status=b'"dispatched"'),
        R.UNKNOWN_STATUS,
        "status",
    ),
    bad("orders-upper", ORDERS, body(ORDERS, status=b'"PLACED"'), R.UNKNOWN_STATUS, "status"),
    bad("orders-empty", ORDERS, body(ORDERS, status=b'""'), R.UNKNOWN_STATUS, "status"),
    bad(
        "dispatches-placed",
        DISPATCHES,
        body(DISPATCHES, status=b'"placed"'),
        R.UNKNOWN_STATUS,
        "status",
    ),
    bad(
        "complaints-completed",
        COMPLAINTS,
        body(COMPLAINTS, status=b'"completed"'),
        R.UNKNOWN_STATUS,
        "status",
    ),
    bad("refunds-opened", REFUNDS, body(REFUNDS, status=b'"opened"'), R.UNKNOWN_STATUS, "status"),
    bad("status-list", ORDERS, body(ORDERS, status=b'["placed"]'), R.WRONG_TYPE, "status"),
    *(
        ok(
            f"{topic}-{status}",
            topic,
            body(topic, status=b'"%s"' % status.encode()),
            "status",
            status,
        )
        for topic, statuses in STATUSES.items()
        for status in statuses
    ),
    # occurred_at: RFC 3339 with an offset
    ok("ts-z", ORDERS, body(ORDERS), "occurred_at_ms", T0_MS),
    ok(
        "ts-plus-0800",
        ORDERS,
        body(ORDERS, occurred_at=b'"2026-11-22T16:15:00+08:00"'),
        "occurred_at_ms",
        T0_MS,
    ),
    ok(
        "ts-minus-0530",
        ORDERS,
        body(ORDERS, occurred_at=b'"2026-11-22T02:45:00-05:30"'),
        "occurred_at_ms",
        T0_MS,
    ),
    ok(
        "ts-plus-0000",
        ORDERS,
        body(ORDERS, occurred_at=b'"2026-11-22T08:15:00+00:00"'),
        "occurred_at_ms",
        T0_MS,
    ),
    ok(
        "ts-lowercase-t-z",
        ORDERS,
        body(ORDERS, occurred_at=b'"2026-11-22t08:15:00z"'),
        "occurred_at_ms",
        T0_MS,
    ),
    ok(
        "ts-fraction-ms",
        ORDERS,
        body(ORDERS, occurred_at=b'"2026-11-22T08:15:00.123Z"'),
        "occurred_at_ms",
        T0_MS + 123,
    ),
    ok(
        "ts-fraction-1",
        ORDERS,
        body(ORDERS, occurred_at=b'"2026-11-22T08:15:00.5Z"'),
        "occurred_at_ms",
        T0_MS + 500,
    ),
    ok(
        "ts-fraction-9-truncated",
        ORDERS,
        body(ORDERS, occurred_at=b'"2026-11-22T08:15:00.987654321Z"'),
        "occurred_at_ms",
        T0_MS + 987,
    ),
    ok(
        "ts-leap-day",
        ORDERS,
        body(ORDERS, occurred_at=b'"2028-02-29T00:00:00Z"'),
        "occurred_at_ms",
        1_835_395_200_000,
    ),
    ok(
        "ts-before-1970",
        ORDERS,
        body(ORDERS, occurred_at=b'"1969-12-31T23:59:59.999Z"'),
        "occurred_at_ms",
        -1,
    ),
    ok(
        "ts-first-instant",
        ORDERS,
        body(ORDERS, occurred_at=b'"0001-01-01T00:00:00Z"'),
        "occurred_at_ms",
        MIN_MS,
    ),
    ok(
        "ts-last-instant",
        ORDERS,
        body(ORDERS, occurred_at=b'"9999-12-31T23:59:59.999Z"'),
        "occurred_at_ms",
        MAX_MS,
    ),
    bad(
        "ts-no-offset",
        ORDERS,
        body(ORDERS, occurred_at=b'"2026-11-22T08:15:00"'),
        R.BAD_TIMESTAMP,
        TS,
    ),
    bad(
        "ts-feb-30",
        ORDERS,
        body(ORDERS, occurred_at=b'"2026-02-30T08:15:00Z"'),
        R.BAD_TIMESTAMP,
        TS,
    ),
    bad(
        "ts-feb-29-common-year",
        ORDERS,
        body(ORDERS, occurred_at=b'"2026-02-29T08:15:00Z"'),
        R.BAD_TIMESTAMP,
        TS,
    ),
    bad(
        "ts-apr-31",
        ORDERS,
        body(ORDERS, occurred_at=b'"2026-04-31T08:15:00Z"'),
        R.BAD_TIMESTAMP,
        TS,
    ),
    bad(
        "ts-month-13",
        ORDERS,
        body(ORDERS, occurred_at=b'"2026-13-01T08:15:00Z"'),
        R.BAD_TIMESTAMP,
        TS,
    ),
    bad(
        "ts-day-00",
        ORDERS,
        body(ORDERS, occurred_at=b'"2026-11-00T08:15:00Z"'),
        R.BAD_TIMESTAMP,
        TS,
    ),
    bad(
        "ts-year-0000",
        ORDERS,
        body(ORDERS, occurred_at=b'"0000-11-22T08:15:00Z"'),
        R.BAD_TIMESTAMP,
        TS,
    ),
    bad(
        "ts-hour-24",
        ORDERS,
        body(ORDERS, occurred_at=b'"2026-11-22T24:00:00Z"'),
        R.BAD_TIMESTAMP,
        TS,
    ),
    bad(
        "ts-minute-60",
        ORDERS,
        body(ORDERS, occurred_at=b'"2026-11-22T08:60:00Z"'),
        R.BAD_TIMESTAMP,
        TS,
    ),
    bad(
        "ts-leap-second",
        ORDERS,
        body(ORDERS, occurred_at=b'"2026-12-31T23:59:60Z"'),
        R.BAD_TIMESTAMP,
        TS,
    ),
    bad(
        "ts-offset-25",
        ORDERS,
        body(ORDERS, occurred_at=b'"2026-11-22T08:15:00+25:00"'),
        R.BAD_TIMESTAMP,
        TS,
    ),
    bad(
        "ts-offset-minute-60",
        ORDERS,
        body(ORDERS, occurred_at=b'"2026-11-22T08:15:00+08:60"'),
        R.BAD_TIMESTAMP,
        TS,
    ),
    bad(
        "ts-offset-no-colon",
        ORDERS,
        body(ORDERS, occurred_at=b'"2026-11-22T08:15:00+0800"'),
        R.BAD_TIMESTAMP,
        TS,
    ),
    bad(
        "ts-offset-hours-only",
        ORDERS,
        body(ORDERS, occurred_at=b'"2026-11-22T08:15:00+08"'),
        R.BAD_TIMESTAMP,
        TS,
    ),
    bad(
        "ts-space-separator",
        ORDERS,
        body(ORDERS, occurred_at=b'"2026-11-22 08:15:00Z"'),
        R.BAD_TIMESTAMP,
        TS,
    ),
    bad(
        "ts-no-seconds",
        ORDERS,
        body(ORDERS, occurred_at=b'"2026-11-22T08:15Z"'),
        R.BAD_TIMESTAMP,
        TS,
    ),
    bad("ts-date-only", ORDERS, body(ORDERS, occurred_at=b'"2026-11-22"'), R.BAD_TIMESTAMP, TS),
    bad(
        "ts-empty-fraction",
        ORDERS,
        body(ORDERS, occurred_at=b'"2026-11-22T08:15:00.Z"'),
        R.BAD_TIMESTAMP,
        TS,
    ),
    bad(
        "ts-fraction-10",
        ORDERS,
        body(ORDERS, occurred_at=b'"2026-11-22T08:15:00.1234567890Z"'),
        R.BAD_TIMESTAMP,
        TS,
    ),
    bad(
        "ts-trailing-newline",
        ORDERS,
        body(ORDERS, occurred_at=b'"2026-11-22T08:15:00Z\\n"'),
        R.BAD_TIMESTAMP,
        TS,
    ),
    bad(
        "ts-leading-space",
        ORDERS,
        body(ORDERS, occurred_at=b'" 2026-11-22T08:15:00Z"'),
        R.BAD_TIMESTAMP,
        TS,
    ),
    # Arabic-Indic digits: Python's \d matches them and int() reads them; RFC 3339 is ASCII.
    bad(
        "ts-non-ascii-digits",
        ORDERS,
        body(ORDERS, occurred_at='"٢٠٢٦-11-22T08:15:00Z"'.encode()),
        R.BAD_TIMESTAMP,
        TS,
    ),
    # Before 0001-01-01T00:00:00Z in UTC: could never be written back as a timestamp.
    bad(
        "ts-before-year-1-utc",
        ORDERS,
        body(ORDERS, occurred_at=b'"0001-01-01T00:30:00+01:00"'),
        R.BAD_TIMESTAMP,
        TS,
    ),
    bad(
        "ts-after-year-9999-utc",
        ORDERS,
        body(ORDERS, occurred_at=b'"9999-12-31T23:30:00-01:00"'),
        R.BAD_TIMESTAMP,
        TS,
    ),
    bad(
        "ts-epoch-ms-string",
        ORDERS,
        body(ORDERS, occurred_at=b'"1795335300000"'),
        R.BAD_TIMESTAMP,
        TS,
    ),
    bad("ts-epoch-ms-number", ORDERS, body(ORDERS, occurred_at=b"1795335300000"), R.WRONG_TYPE, TS),
    # numbers: amount >= 0, items integer >= 1; bool is not a number
    ok("amount-zero", ORDERS, body(ORDERS, amount=b"0"), "amount", 0),
    ok("amount-float", ORDERS, body(ORDERS, amount=b"19.99"), "amount", 19.99),
    ok("amount-exponent", ORDERS, body(ORDERS, amount=b"1e3"), "amount", 1000.0),
    ok("amount-huge", ORDERS, body(ORDERS, amount=b"1e308"), "amount", 1e308),
    bad("amount-negative", ORDERS, body(ORDERS, amount=b"-1"), R.INVALID_VALUE, "amount"),
    bad("amount-negative-small", ORDERS, body(ORDERS, amount=b"-0.001"), R.INVALID_VALUE, "amount"),
    bad("amount-true", ORDERS, body(ORDERS, amount=b"true"), R.WRONG_TYPE, "amount"),
    bad("amount-false", ORDERS, body(ORDERS, amount=b"false"), R.WRONG_TYPE, "amount"),
    bad("amount-string", ORDERS, body(ORDERS, amount=b'"10"'), R.WRONG_TYPE, "amount"),
    bad("amount-object", ORDERS, body(ORDERS, amount=b'{"value":10}'), R.WRONG_TYPE, "amount"),
    ok("items-1", ORDERS, body(ORDERS, items=b"1"), "items", 1),
    ok("items-2.0-is-2", ORDERS, body(ORDERS, items=b"2.0"), "items", 2),
    ok("items-1e2-is-100", ORDERS, body(ORDERS, items=b"1e2"), "items", 100),
    bad("items-2.5", ORDERS, body(ORDERS, items=b"2.5"), R.WRONG_TYPE, "items"),
    bad("items-0", ORDERS, body(ORDERS, items=b"0"), R.INVALID_VALUE, "items"),
    bad("items-0.0", ORDERS, body(ORDERS, items=b"0.0"), R.INVALID_VALUE, "items"),
    bad("items-negative", ORDERS, body(ORDERS, items=b"-3"), R.INVALID_VALUE, "items"),
    bad("items-true", ORDERS, body(ORDERS, items=b"true"), R.WRONG_TYPE, "items"),
    bad("items-string", ORDERS, body(ORDERS, items=b'"2"'), R.WRONG_TYPE, "items"),
    # refunds: amount required, >= 0
    bad("refund-amount-missing", REFUNDS, body(REFUNDS, amount=DROP), R.MISSING_FIELD, "amount"),
    bad("refund-amount-null", REFUNDS, body(REFUNDS, amount=b"null"), R.WRONG_TYPE, "amount"),
    bad(
        "refund-amount-negative", REFUNDS, body(REFUNDS, amount=b"-0.01"), R.INVALID_VALUE, "amount"
    ),
    bad("refund-amount-true", REFUNDS, body(REFUNDS, amount=b"true"), R.WRONG_TYPE, "amount"),
    ok("refund-amount-zero", REFUNDS, body(REFUNDS, amount=b"0.0"), "amount", 0.0),
    # complaints: complaint_id required; reason from the list
    bad(
        "complaint-id-missing",
        COMPLAINTS,
        body(COMPLAINTS, complaint_id=DROP),
        R.MISSING_FIELD,
        "complaint_id",
    ),
    *(
        ok(f"reason-{r}", COMPLAINTS, body(COMPLAINTS, reason=b'"%s"' % r.encode()), "reason", r)
        for r in COMPLAINT_REASONS
    ),
    ok("reason-null", COMPLAINTS, body(COMPLAINTS, reason=b"null"), "reason", None),
    ok("reason-absent", COMPLAINTS, body(COMPLAINTS), "reason", None),
    bad(
        "reason-unknown", COMPLAINTS, body(COMPLAINTS, reason=b'"angry"'), R.INVALID_VALUE, "reason"
    ),
    bad(
        "reason-upper", COMPLAINTS, body(COMPLAINTS, reason=b'"DAMAGED"'), R.INVALID_VALUE, "reason"
    ),
    bad("reason-empty", COMPLAINTS, body(COMPLAINTS, reason=b'""'), R.INVALID_VALUE, "reason"),
    bad("reason-number", COMPLAINTS, body(COMPLAINTS, reason=b"1"), R.WRONG_TYPE, "reason"),
    # dispatches: carrier is any string
    ok("carrier", DISPATCHES, body(DISPATCHES, carrier=b'"SF Express"'), "carrier", "SF Express"),
    ok("carrier-empty", DISPATCHES, body(DISPATCHES, carrier=b'""'), "carrier", ""),
    bad("carrier-number", DISPATCHES, body(DISPATCHES, carrier=b"5"), R.WRONG_TYPE, "carrier"),
    bad("carrier-list", DISPATCHES, body(DISPATCHES, carrier=b'["SF"]'), R.WRONG_TYPE, "carrier"),
    # schema_version: optional integer, absent means 1; any other version: unsupported_version
    ok("version-absent", ORDERS, body(ORDERS), "schema_version", 1),
    ok("version-null", ORDERS, body(ORDERS, schema_version=b"null"), "schema_version", 1),
    ok("version-1", ORDERS, body(ORDERS, schema_version=b"1"), "schema_version", 1),
    ok("version-1.0", ORDERS, body(ORDERS, schema_version=b"1.0"), "schema_version", 1),
    bad(
        "version-2",
        ORDERS,
        body(ORDERS, schema_version=b"2"),
        R.UNSUPPORTED_VERSION,
        "schema_version",
    ),
    bad(
        "version-99",
        ORDERS,
        body(ORDERS, schema_version=b"99"),
        R.UNSUPPORTED_VERSION,
        "schema_version",
    ),
    bad(
        "version-1e30",
        ORDERS,
        body(ORDERS, schema_version=b"1e30"),
        R.UNSUPPORTED_VERSION,
        "schema_version",
    ),
    bad(
        "version-0",
        ORDERS,
        body(ORDERS, schema_version=b"0"),
        R.UNSUPPORTED_VERSION,
        "schema_version",
    ),
    bad("version-1.5", ORDERS, body(ORDERS, schema_version=b"1.5"), R.WRONG_TYPE, "schema_version"),
    bad(
        "version-string",
        ORDERS,
        body(ORDERS, schema_version=b'"1"'),
        R.WRONG_TYPE,
        "schema_version",
    ),
    # unknown extra fields are ignored
    ok("extra-object", ORDERS, body(ORDERS, note=b'{"a":[1,null,"x"]}'), "order_id", "o-1"),
    ok("extra-shadowing-attr", ORDERS, body(ORDERS, occurred_at_ms=b"5"), "occurred_at_ms", T0_MS),
    ok("extra-topic-field", ORDERS, body(ORDERS, topic=b'"refunds"'), "status", "placed"),
    ok("extra-other-topic-field", ORDERS, body(ORDERS, carrier=b"5"), "status", "placed"),
    # key: the warehouse id when set
    ok("key-none", ORDERS, body(ORDERS), "warehouse", "W1", key=None),
    ok("key-equal", ORDERS, body(ORDERS), "warehouse", "W1", key=b"W1"),
    Case("key-other", ORDERS, body(ORDERS), R.KEY_MISMATCH, "warehouse", key=b"W2"),
    Case("key-case", ORDERS, body(ORDERS), R.KEY_MISMATCH, "warehouse", key=b"w1"),
    Case("key-empty", ORDERS, body(ORDERS), R.KEY_MISMATCH, "warehouse", key=b""),
]


def _generated_cases() -> list[Case]:
    """For every topic and every rule: missing, null and wrong-typed values."""
    cases: list[Case] = []
    for topic in INPUT_TOPICS:
        for rule in rules_for(topic):
            name = rule.name
            wrong = b'"1"' if rule.kind in ("integer", "number") else b"1"
            cases.append(
                bad(
                    f"{topic}-{name}-wrong-type",
                    topic,
                    body(topic, **{name: wrong}),
                    R.WRONG_TYPE,
                    name,
                )
            )
            cases.append(
                bad(
                    f"{topic}-{name}-object",
                    topic,
                    body(topic, **{name: b"{}"}),
                    R.WRONG_TYPE,
                    name,
                )
            )
            if rule.required:
                cases.append(
                    bad(
                        f"{topic}-{name}-missing",
                        topic,
                        body(topic, **{name: DROP}),
                        R.MISSING_FIELD,
                        name,
                    )
                )
                cases.append(
                    bad(
                        f"{topic}-{name}-null",
                        topic,
                        body(topic, **{name: b"null"}),
                        R.WRONG_TYPE,
                        name,
                    )
                )
            else:
                default = 1 if name == "schema_version" else None
                attr = rule.attr or name
                cases.append(
                    ok(f"{topic}-{name}-null", topic, body(topic, **{name: b"null"}), attr, default)
                )
                cases.append(ok(f"{topic}-{name}-absent", topic, body(topic), attr, default))
    return cases


CASES: list[Case] = HAND_CASES + _generated_cases()


# ---- hypothesis strategies -------------------------------------------------------------------

ids = st.text(min_size=1, max_size=128)
warehouses = st.from_regex(r"[A-Za-z0-9_.-]{1,64}", fullmatch=True)
event_times = st.integers(MIN_MS, MAX_MS)
versions = st.just(1)  # the only supported version (CONTRACT v1)
amounts = st.one_of(
    st.floats(min_value=0, allow_nan=False, allow_infinity=False),
    st.integers(0, 2**64 - 1),
)
item_counts = st.one_of(
    st.integers(1, 2**64 - 1),
    # beyond 64 bits: integral floats off the wire; they go back out as the same float
    st.integers(64, 1000).map(lambda e: 2**e),
)


def _common(topic: str) -> dict[str, Any]:
    return {
        "event_id": ids,
        "status": st.sampled_from(STATUSES[topic]),
        "order_id": ids,
        "warehouse": warehouses,
        "occurred_at_ms": event_times,
        "schema_version": versions,
    }


EVENTS: dict[str, st.SearchStrategy[Event]] = {
    ORDERS: st.builds(
        OrderEvent,
        **_common(ORDERS),
        amount=st.none() | amounts,
        items=st.none() | item_counts,
    ),
    DISPATCHES: st.builds(DispatchEvent, **_common(DISPATCHES), carrier=st.none() | st.text()),
    COMPLAINTS: st.builds(
        ComplaintEvent,
        **_common(COMPLAINTS),
        complaint_id=ids,
        reason=st.none() | st.sampled_from(COMPLAINT_REASONS),
    ),
    REFUNDS: st.builds(RefundEvent, **_common(REFUNDS), refund_id=ids, amount=amounts),
}
any_event: st.SearchStrategy[Event] = st.one_of(*EVENTS.values())

# What a JSON document can hold after orjson has read it (integers within 64 bits; no NaN).
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
json_objects = st.dictionaries(st.text(max_size=16), json_values, max_size=8)

# Values close to what a field may hold, so that mutations land near the rules' edges.
_near_values = st.one_of(
    json_values,
    st.sampled_from(["", "x" * 128, "x" * 129, "W 1", "W1\n", "w" * 65, "placed", "opened"]),
    st.sampled_from(
        [
            "2026-11-22T08:15:00",
            "2026-02-30T08:15:00Z",
            "2026-11-22T24:00:00Z",
            "2026-11-22T08:15:00+25:00",
            "2026-11-22t08:15:00z",
            "2026-11-22T08:15:00.123456+08:00",
        ]
    ),
    st.sampled_from([0, -1, 1, 2.0, 2.5, -0.0, True, False, 1e308, [], {}]),
    st.sampled_from(COMPLAINT_REASONS),
)


@st.composite
def mutated_wire(draw: st.DrawFn, topic: str | None = None) -> dict[str, Any]:
    """A valid event's JSON object (of `topic`, or of any topic) with a few fields removed,
    replaced or added."""
    event = draw(EVENTS[topic] if topic is not None else any_event)
    wire = event_to_wire(event)
    names = sorted({*wire, *(r.name for t in INPUT_TOPICS for r in rules_for(t)), "extra"})
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(names))
        if draw(st.booleans()) and name in wire:
            del wire[name]
        else:
            wire[name] = draw(_near_values)
    return wire


def to_json(obj: Any) -> bytes:
    return orjson.dumps(obj)
