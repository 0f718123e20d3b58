"""One message of every kind of bad input, between valid events, to a real worker: each becomes
one dead letter on `ordermon.deadletter` with its reason, the contract's fields and the original
payload; `ordermon_deadletter_total{topic,reason}` agrees; an event older than the retention is
counted (in the backlog, as late), not dead-lettered; every valid event around them is counted."""

from __future__ import annotations

import asyncio
import base64
import time
from collections import Counter
from typing import Any

import orjson
import pytest

from ordermon.streams.codec import encode_event
from ordermon.streams.events import OrderEvent
from ordermon.streams.publisher import Publisher
from ordermon.streams.timefmt import format_rfc3339_ms, parse_rfc3339_ms
from tests.integration.faults_lib import counted, create_topics, metric, read_topic, wait_counted
from tests.integration.live import Deployment

pytestmark = pytest.mark.integration
MINUTE = 60_000
A, B, C, D = "BAD-A", "BAD-B", "BAD-C", "BAD-D"


def order(n: int, wh: str, at_ms: int) -> OrderEvent:
    return OrderEvent(
        event_id=f"v{n}", status="placed", order_id=f"o{n}", warehouse=wh, occurred_at_ms=at_ms
    )


def wire(**changes: Any) -> bytes:
    """A valid orders event for A as JSON, with fields changed (None removes one)."""
    obj: dict[str, Any] = {
        "event_id": "bad-1",
        "status": "placed",
        "order_id": "o-bad",
        "warehouse": A,
        "occurred_at": "2026-11-23T08:15:00Z",
    }
    for name, value in changes.items():
        if value is None:
            obj.pop(name)
        else:
            obj[name] = value
    return orjson.dumps(obj)


def bad_inputs(now_ms: int) -> list[tuple[str, bytes, bytes]]:
    """(expected reason, key, value): every kind of bad input the issue lists."""
    a = A.encode()
    return [
        ("not_json", a, b"{this is not json"),
        ("not_utf8", a, b'{"event_id": "\xff\xfe\xfd"}'),
        ("not_object", a, b"[1, 2, 3]"),
        ("missing_field", a, wire(order_id=None)),
        ("wrong_type", a, wire(order_id=12345)),
        ("unknown_status", a, wire(status="exploded")),
        ("bad_timestamp", a, wire(occurred_at="2026-11-23T08:15:00")),  # no offset
        ("bad_timestamp", a, wire(occurred_at="yesterday at noon")),
        ("future_timestamp", a, wire(occurred_at=format_rfc3339_ms(now_ms + 3_600_000))),
        ("too_large", a, wire(note="x" * (65 * 1024))),
        ("key_mismatch", B.encode(), wire()),
        ("bad_warehouse", b"BJ 01!", wire(warehouse="BJ 01!")),
        ("warehouse_limit", D.encode(), encode_event(order(999, D, now_ms - 5 * MINUTE))),
    ]


async def send(deployment: Deployment, messages: list[tuple[bytes, bytes]]) -> None:
    async with Publisher(deployment.bootstrap, prefix=deployment.prefix) as pub:
        for key, value in messages:
            await pub.send_raw("orders", value, key=key)


def test_every_kind_of_bad_input_is_dead_lettered_and_the_stream_goes_on(
    deployment: Deployment,
) -> None:
    now = int(time.time() * 1000)
    base = now - 10 * MINUTE
    create_topics(deployment.bootstrap, deployment.prefix)
    worker = deployment.worker(ORDERMON_MAX_WAREHOUSES="3")
    worker.wait_ready()
    before = [order(i, wh, base + i * 1000) for i, wh in enumerate([A, B, C] * 3)]
    asyncio.run(send(deployment, [(e.warehouse.encode(), encode_event(e)) for e in before]))
    wait_counted(worker, len(before))

    bad = bad_inputs(now)
    late = order(500, A, now - 2 * 24 * 60 * MINUTE)  # older than the 24 h retention
    after = [order(100 + i, wh, base + MINUTE + i * 1000) for i, wh in enumerate([A, B, C] * 3)]
    asyncio.run(
        send(
            deployment,
            [(k, v) for _r, k, v in bad]
            + [(A.encode(), encode_event(late))]
            + [(e.warehouse.encode(), encode_event(e)) for e in after],
        )
    )
    valid = len(before) + 1 + len(after)
    statuses = wait_counted(worker, valid)
    letters = read_topic(deployment.bootstrap, f"{deployment.prefix}ordermon.deadletter", len(bad))

    # One dead letter each, with its reason and the contract's fields.
    assert Counter(d["reason"] for d in letters) == Counter(r for r, _k, _v in bad)
    by_payload = {
        d.get("payload", "") or base64.b64decode(d.get("payload_b64", "")).decode("latin-1"): d
        for d in letters
    }
    for reason, _key, value in bad:
        text = value.decode("utf-8") if reason != "not_utf8" else value.decode("latin-1")
        if reason == "too_large":  # over 64 KiB: the letter keeps the first 64 KiB
            letter = next(d for d in letters if d["reason"] == reason)
            assert letter["payload_truncated"] is True and letter["payload_size"] == len(value)
            assert text.startswith(letter["payload"]) and len(letter["payload"]) == 64 * 1024
            continue
        letter = by_payload[text]
        assert letter["reason"] == reason
        assert letter["_key"] == letter["source_topic"] == f"{deployment.prefix}orders"
        assert isinstance(letter["partition"], int) and letter["offset"] >= 0
        assert isinstance(letter["error"], str) and letter["error"], letter
        assert parse_rfc3339_ms(letter["received_at"]) is not None
        if reason == "not_utf8":
            assert "payload" not in letter and base64.b64decode(letter["payload_b64"]) == value
        else:
            assert "payload_b64" not in letter and letter["payload"] == text
    # The counter agrees, reason by reason.
    for reason, n in Counter(r for r, _k, _v in bad).items():
        labels = {"topic": "orders", "reason": reason}
        assert metric(worker.url, "ordermon_deadletter_total", labels) == n, reason

    # Every valid event is counted, the late one too (in the backlog, as late); nothing else.
    by_wh = {s["warehouse"]: s for s in statuses}
    assert sorted(by_wh) == [A, B, C]
    assert counted(statuses) == valid
    assert by_wh[A]["totals"]["orders_placed"] == 7 and by_wh[A]["late_events"] == 1
    assert by_wh[A]["backlog"] == 7
    assert by_wh[B]["totals"]["orders_placed"] == by_wh[C]["totals"]["orders_placed"] == 6
    assert by_wh[B]["late_events"] == 0
    assert worker.process is not None and worker.process.poll() is None
