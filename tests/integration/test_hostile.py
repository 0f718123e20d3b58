"""Hostile input against a real broker and a real worker process (issue 12).

One worker serves every case in turn (they run in file order and share its state, as a
deployment would); the broker pause has a broker of its own. Around every case valid events are
published, before and after; after it:

- the worker is still up, and `/healthz` answered every poll within a second throughout (a
  thread polls it four times a second with a 1 s client timeout: a liveness bound, not a
  performance threshold);
- every bad message is on `ordermon.deadletter` with its reason (all the letters so far, reason by
  reason), and `ordermon_deadletter_total` agrees;
- the valid warehouses' totals are exactly what was published.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import os
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from ordermon.devtools.broker import port_is_open
from ordermon.streams.events import Event
from ordermon.streams.flows import flow_name
from ordermon.streams.timefmt import format_rfc3339_ms
from tests.integration.faults_lib import (
    create_topics,
    make_event,
    metric,
    private_deployment,
    publish,
    read_topic,
    spread_warehouses,
)
from tests.integration.live import Deployment, Worker, get_json, wait_for

pytestmark = pytest.mark.integration
MINUTE = 60_000
HOUR = 60 * MINUTE
VALID = spread_warehouses(per_partition=1)  # one steady warehouse per partition
MAX_WAREHOUSES = 8
Bad = tuple[str, bytes | None, bytes | None, str]  # (topic, key, value, expected reason)


class HealthPoller(threading.Thread):
    """Polls /healthz every 0.25 s with a 1 s timeout and remembers every failure."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url + "/healthz"
        self.failures: list[tuple[float, str]] = []
        self.polls = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                with urllib.request.urlopen(self.url, timeout=1.0) as answer:
                    if answer.status != 200:
                        self.failures.append((time.time(), f"status {answer.status}"))
            except (OSError, urllib.error.URLError) as exc:
                self.failures.append((time.time(), repr(exc)))
            self.polls += 1
            self._stop_event.wait(0.25)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(5)


def send_raw(
    bootstrap: str, prefix: str, messages: list[tuple[str, bytes | None, bytes | None]]
) -> None:
    """Bytes as they are, keys as they are (None: no key), up to 16 MB a message."""

    async def go() -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, max_request_size=16 * 1024 * 1024, acks=-1
        )
        await producer.start()
        try:
            for topic, key, value in messages:
                await producer.send_and_wait(f"{prefix}{topic}", value, key=key)
        finally:
            await producer.stop()

    asyncio.run(go())


def wire(wh: str, at_ms: int, n: int, **changes: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "event_id": f"h-{n}",
        "status": "placed",
        "order_id": f"o-{n}",
        "warehouse": wh,
        "occurred_at": format_rfc3339_ms(at_ms),
    }
    obj.update(changes)
    return obj


@dataclass
class Hostile:
    dep: Deployment
    worker: Worker
    poller: HealthPoller
    clock: int  # event time of the next valid batch: a minute later each time
    truth: Counter[tuple[str, str]] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)  # dead letters expected so far
    n: int = 0

    def next_id(self) -> int:
        self.n += 1
        return self.n

    def valid(self) -> None:
        """An order and a dispatch per valid warehouse at the clock; the clock moves a minute."""
        events: list[Event] = []
        for wh in VALID:
            for topic, status in (("orders", "placed"), ("dispatches", "dispatched")):
                events.append(make_event(self.next_id(), topic, status, wh, self.clock))
        self.count(events)
        publish(self.dep.bootstrap, self.dep.prefix, events)
        self.clock += MINUTE

    def count(self, events: list[Event]) -> None:
        self.truth.update((e.warehouse, e.flow) for e in events)

    def bad(self, messages: list[Bad]) -> None:
        send_raw(self.dep.bootstrap, self.dep.prefix, [(t, k, v) for t, k, v, _r in messages])
        self.reasons.update(r for _t, _k, _v, r in messages)

    def around(
        self, messages: list[Bad], extra: list[tuple[str, bytes | None, bytes | None]] | None = None
    ) -> None:
        """Valid events, the case's messages, valid events again; then check everything."""
        self.valid()
        self.bad(messages)
        if extra:
            send_raw(self.dep.bootstrap, self.dep.prefix, extra)
        self.valid()
        self.check()

    def letters(self) -> list[dict[str, Any]]:
        n = sum(self.reasons.values())
        return read_topic(self.dep.bootstrap, f"{self.dep.prefix}ordermon.deadletter", n)

    def check(self) -> None:
        expected = {wh: {f: n for (w, f), n in self.truth.items() if w == wh} for wh in VALID}

        def exact() -> bool:
            statuses = {s["warehouse"]: s for s in self.worker.warehouses()}
            return all(
                wh in statuses
                and {f: n for f, n in statuses[wh]["totals"].items() if n} == expected[wh]
                for wh in VALID
            )

        wait_for(exact, 120, "the valid warehouses' exact totals")
        letters = self.letters()
        assert Counter(d["reason"] for d in letters) == self.reasons
        for reason, n in self.reasons.items():
            total = sum(
                metric(self.worker.url, "ordermon_deadletter_total", {"topic": t, "reason": reason})
                or 0
                for t in ("orders", "dispatches", "complaints", "refunds")
            )
            assert total == n, reason
        assert self.worker.alive(), self.worker.log_tail()
        assert self.poller.polls > 0 and not self.poller.failures, self.poller.failures


@pytest.fixture(scope="module")
def hostile(broker: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    tag = uuid.uuid4().hex[:8]
    tmp = tmp_path_factory.mktemp("hostile")
    env = {
        **os.environ,
        "ORDERMON_KAFKA": broker,
        "ORDERMON_TOPIC_PREFIX": f"x{tag}.",
        "ORDERMON_APP_ID": f"ordermon-hostile-{tag}",
        "ORDERMON_SESSION_TIMEOUT_SECONDS": "6",
        "ORDERMON_IDLE_AFTER_SECONDS": "5",
        "ORDERMON_PARTITIONS": "4",
        "ORDERMON_LOG_LEVEL": "info",
        "ORDERMON_MAX_WAREHOUSES": str(MAX_WAREHOUSES),
        "ORDERMON_WAREHOUSE_IDLE_MINUTES": "60",
        "ORDERMON_WEB_HEADER_TIMEOUT_SECONDS": "3",
    }
    h = start(Deployment(broker, f"x{tag}.", env, tmp), minutes_back=45)
    h.valid()
    try:
        yield h
    finally:
        h.poller.stop()
        for w in h.dep.workers:
            w.stop()


def start(dep: Deployment, minutes_back: int) -> Hostile:
    """Topics, a worker, the /healthz poller; the valid events' clock `minutes_back` ago."""
    create_topics(dep.bootstrap, dep.prefix)
    worker = dep.worker()
    worker.wait_ready()
    poller = HealthPoller(worker.url)
    poller.start()
    return Hostile(dep, worker, poller, clock=int(time.time() * 1000) - minutes_back * MINUTE)


# ---- 1. a dead letter always fits -------------------------------------------------------------


def test_huge_values_are_dead_lettered_with_a_prefix_and_the_worker_stays_up(
    hostile: Hostile,
) -> None:
    """The issue's crash loop: values of 200 KB of \\x01 (6 bytes each once escaped), 1 MB and
    10 MB. Each letter keeps 64 KiB of the value, its size and its sha256."""
    values = [b"\x01" * 200_000, b"\x01" * 1_000_000, b"\xff" * 10_000_000]
    hostile.around([("orders", VALID[0].encode(), v, "too_large") for v in values])
    letters = [d for d in hostile.letters() if d.get("payload_truncated")]
    assert sorted(d["payload_size"] for d in letters) == sorted(len(v) for v in values)
    for letter in letters:
        value = next(v for v in values if len(v) == letter["payload_size"])
        assert letter["payload_sha256"] == hashlib.sha256(value).hexdigest()
        kept = (
            letter["payload"].encode()
            if "payload" in letter
            else base64.b64decode(letter["payload_b64"])
        )
        assert value.startswith(kept) and len(kept) == 64 * 1024
        assert letter["source_topic"] == f"{hostile.dep.prefix}orders" and letter["offset"] >= 0
    assert (
        metric(hostile.worker.url, "ordermon_output_failures_total", {"output": "deadletter"}) == 0
    )


# ---- 2. dates far in the past -----------------------------------------------------------------


def test_dates_far_in_the_past_cost_nothing_and_raise_nothing(hostile: Hostile) -> None:
    """A new warehouse's first event dated 0001-01-01, then a current one (the issue's minute
    of freeze); a made-up warehouse whose only event is dated 1970 (the issue's critical
    warehouse_silent). Both are counted; neither raises an alert; every route answers."""
    at = hostile.clock
    old = [
        make_event(hostile.next_id(), "orders", "placed", "OLD-1", -62_135_596_800_000),
        make_event(hostile.next_id(), "orders", "placed", "OLD-1", at),
        make_event(hostile.next_id(), "orders", "placed", "FAKE-1970", 0),
    ]
    hostile.valid()
    publish(hostile.dep.bootstrap, hostile.dep.prefix, old)
    hostile.valid()
    hostile.check()
    url = hostile.worker.url
    status = wait_for(lambda: get_json(f"{url}/warehouses/OLD-1"), 30, "OLD-1's status")
    assert status["totals"]["orders_placed"] == 2 and status["late_events"] == 1
    for _ in range(3):  # minutes close and the network is evaluated meanwhile
        hostile.valid()
    hostile.check()
    try:
        fake = get_json(f"{url}/warehouses/FAKE-1970")
        assert fake["totals"]["orders_placed"] == 1
    except urllib.error.HTTPError as exc:  # released already: it had nothing in the retention
        assert exc.code == 404
        assert (metric(url, "ordermon_warehouses_released_total") or 0) >= 1
    alerts = get_json(f"{url}/alerts")
    assert not [a for a in alerts if a["warehouse"] in ("OLD-1", "FAKE-1970")], alerts
    for route in ("/warehouses", "/alerts", "/metrics", "/warehouses/OLD-1"):
        with urllib.request.urlopen(url + route, timeout=10) as answer:
            assert answer.status == 200, route


# ---- 3, 4, 5 and the JSON oddities ------------------------------------------------------------


def test_every_kind_of_hostile_message_is_dead_lettered_with_its_reason(hostile: Hostile) -> None:
    at = hostile.clock
    wh = VALID[1]
    key = wh.encode()

    def dumped(**changes: Any) -> bytes:
        return orjson.dumps(wire(wh, at, hostile.next_id(), **changes))

    def spliced(extra: str, status: str = '"placed",') -> bytes:
        """A fresh valid event (its own event_id) with raw JSON text put after its status."""
        return dumped().decode().replace('"placed"', status + extra, 1).encode()

    bad: list[Bad] = [
        ("orders", None, dumped(), "missing_key"),  # 3
        ("orders", key, dumped(schema_version=99), "unsupported_version"),  # 5
        ("orders", key, b"[" * 100_000 + b"]" * 100_000, "too_large"),  # 100k-deep JSON
        ("orders", key, b"[" * 30_000 + b"]" * 30_000, "not_json"),  # deep, under 64 KiB
        ("orders", key, spliced('"amount":NaN'), "not_json"),
        (
            "orders",
            key,
            spliced('"amount":Infinity'),
            "not_json",
        ),
        ("orders", key, spliced('"amount":1e400'), "not_json"),
        # duplicate keys: the last one wins (orjson), here an unknown status
        (
            "orders",
            key,
            spliced('"status":"exploded"'),
            "unknown_status",
        ),
        ("orders", key, None, "not_json"),  # a tombstone
        ("orders", key, dumped(event_id="x" * 10_000), "invalid_value"),
        ("orders", b"W\x00\x01", dumped(warehouse="W\x00\x01"), "bad_warehouse"),
    ]
    # valid despite their looks: counted exactly
    odd = [
        ("orders", key, spliced(f'"items":{2**70}')),  # beyond 64 bits, an integer >= 1
        ("orders", key, dumped(event_id="ctl-\x00\x01\x1f-\u2028")),  # control characters
        ("orders", key, spliced('"status":"placed"', status='"exploded",')),
    ]
    hostile.truth[(wh, flow_name("orders", "placed"))] += len(odd)
    # 4: one event_id on two topics in one minute: both count (an order and its dispatch)
    shared = make_event(hostile.next_id(), "orders", "placed", wh, at)
    twin = make_event(hostile.next_id(), "dispatches", "dispatched", wh, at)
    hostile.around(bad, [(t, k, v) for t, k, v in odd])
    pair = [shared, _same_id(twin, shared.event_id)]
    hostile.count(pair)
    publish(hostile.dep.bootstrap, hostile.dep.prefix, pair)
    hostile.valid()
    hostile.check()


def _same_id(event: Event, event_id: str) -> Event:
    return dataclasses.replace(event, event_id=event_id)


# ---- 6. slots of idle warehouses are given back -----------------------------------------------


def test_idle_warehouses_give_their_slot_back(hostile: Hostile) -> None:
    """Made-up warehouses dated 3 h back (beyond the 60-minute idle time) take every free slot.
    They are kept while nothing needs their slot; each new warehouse then takes the slot of one
    of them, and once they are all gone the limit holds again."""
    url = hostile.worker.url
    wait_for(
        lambda: "FAKE-1970" not in {s["warehouse"] for s in hostile.worker.warehouses()},
        60,
        "FAKE-1970 (nothing within the retention) released",
    )
    released_before = metric(url, "ordermon_warehouses_released_total") or 0
    held = {s["warehouse"] for s in hostile.worker.warehouses()}
    at = hostile.clock
    idle = [
        make_event(hostile.next_id(), "orders", "placed", f"IDLE-{i}", at - 3 * HOUR)
        for i in range(MAX_WAREHOUSES - len(held))
    ]
    assert len(idle) >= 2, held
    hostile.valid()
    publish(hostile.dep.bootstrap, hostile.dep.prefix, idle)
    hostile.valid()
    hostile.valid()
    hostile.check()
    held = {s["warehouse"] for s in hostile.worker.warehouses()}
    assert len(held) == MAX_WAREHOUSES and {e.warehouse for e in idle} <= held  # room: kept

    def new(name: str) -> Event:
        return make_event(hostile.next_id(), "orders", "placed", name, hostile.clock)

    publish(hostile.dep.bootstrap, hostile.dep.prefix, [new("NEW-1")])
    hostile.valid()
    hostile.check()
    status = wait_for(lambda: get_json(f"{url}/warehouses/NEW-1"), 30, "NEW-1 counted")
    assert status["totals"]["orders_placed"] == 1
    assert (metric(url, "ordermon_warehouses_released_total") or 0) - released_before == 1
    assert "warehouse IDLE-0 released: no events within" in hostile.worker.log_tail(500_000)
    # every other idle one gives its slot to one more new warehouse; the next one is refused
    crowd = [new(f"CROWD-{i}") for i in range(len(idle))]
    publish(hostile.dep.bootstrap, hostile.dep.prefix, crowd)
    hostile.reasons["warehouse_limit"] += 1
    hostile.valid()
    hostile.check()
    released = (metric(url, "ordermon_warehouses_released_total") or 0) - released_before
    assert released == len(idle)
    held = {s["warehouse"] for s in hostile.worker.warehouses()}
    assert len(held) == MAX_WAREHOUSES and not [w for w in held if w.startswith("IDLE-")]


# ---- 7. HTTP ----------------------------------------------------------------------------------


def test_malformed_requests_are_one_line_and_slow_clients_are_cut_off(hostile: Hostile) -> None:
    port = hostile.worker.port
    for raw in (b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(raw)
            answer = sock.recv(200)
            assert answer.startswith(b"HTTP/1.") and b" 400 " in answer[:20], answer
    # slowloris: five connections sending a header line every second, never finishing
    slow = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(5)]
    for sock in slow:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    closed: set[int] = set()
    deadline = time.monotonic() + 30
    while len(closed) < len(slow) and time.monotonic() < deadline:
        time.sleep(1)
        for i, sock in enumerate(slow):
            if i in closed:
                continue
            try:
                sock.sendall(b"X-Slow: 1\r\n")
                sock.settimeout(0.01)
                if sock.recv(100) == b"":
                    closed.add(i)
            except (TimeoutError, BlockingIOError):
                pass
            except OSError:
                closed.add(i)
    for sock in slow:
        sock.close()
    assert len(closed) == len(slow), "slow connections still open after 30 s"
    hostile.around([])
    log = hostile.worker.log_tail(500_000)
    assert "malformed HTTP request from" in log
    assert "Error handling request" not in log and "BadHttpMessage" not in log


# ---- 8. start-up errors -----------------------------------------------------------------------


def test_a_second_worker_on_the_same_port_says_one_line_and_exits_2(
    hostile: Hostile, tmp_path: Path
) -> None:
    second = Worker(
        {**hostile.dep.env, "ORDERMON_DATA_DIR": str(tmp_path / "d2")},
        tmp_path / "second.log",
        port=hostile.worker.port,
    ).start()
    assert second.process is not None
    assert second.process.wait(60) == 2
    lines = [line for line in second.log_tail().splitlines() if line.strip()]
    assert len(lines) == 1 and "ORDERMON_WEB_PORT" in lines[0], lines
    assert port_is_open(hostile.worker.port)
    hostile.around([])


# ---- a broker pause -------------------------------------------------------------------------


def test_a_20_s_broker_pause_with_bad_input_on_both_sides(tmp_path: Path) -> None:
    with private_deployment(tmp_path) as (broker, dep):
        h = start(dep, minutes_back=30)
        try:
            h.around([("orders", VALID[0].encode(), b"{not json", "not_json")])
            broker.pause()
            try:
                time.sleep(20)
            finally:
                broker.resume()
            h.around([("orders", None, b"{}", "missing_key")])
        finally:
            h.poller.stop()
