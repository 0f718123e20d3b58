"""Helpers of the fault tests: a known stream, its truth, publishing in chunks, exact checks,
metrics and the dead-letter topic. Built on tests.integration.live (real worker processes)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer

from ordermon.devtools.broker import EmbeddedBroker, free_port
from ordermon.devtools.broker import create_topics as devtools_create_topics
from ordermon.devtools.realistic import burst
from ordermon.streams.codec import decode
from ordermon.streams.events import ComplaintEvent, DispatchEvent, Event, OrderEvent, RefundEvent
from ordermon.streams.flows import QUEUES
from ordermon.streams.publisher import Publisher
from ordermon.streams.validation import Rejection
from tests.integration.live import Deployment, Worker, get_json, wait_for

Truth = Counter[tuple[str, str]]  # (warehouse, flow) -> events


def make_event(n: int, topic: str, status: str, wh: str, at_ms: int) -> Event:
    """One valid event of `topic` with id `ev-n`, for tests that need a precise message."""
    common = {"event_id": f"ev-{n}", "order_id": f"o-{n}", "warehouse": wh, "occurred_at_ms": at_ms}
    if topic == "orders":
        return OrderEvent(status=status, amount=12.5, items=1, **common)  # type: ignore[arg-type]
    if topic == "dispatches":
        return DispatchEvent(status=status, carrier="SF", **common)  # type: ignore[arg-type]
    if topic == "complaints":
        return ComplaintEvent(status=status, complaint_id=f"c-{n}", **common)  # type: ignore[arg-type]
    return RefundEvent(status=status, refund_id=f"r-{n}", amount=9.0, **common)  # type: ignore[arg-type]


def spread_warehouses(per_partition: int = 2, partitions: int = 4) -> list[str]:
    """Warehouse ids that land `per_partition` on each partition (Kafka's default partitioner),
    so that every worker of a group owns some of them whatever partitions it gets."""
    from aiokafka.partitioner import DefaultPartitioner

    partitioner = DefaultPartitioner()
    slots: dict[int, list[str]] = {p: [] for p in range(partitions)}
    n = 0
    while any(len(v) < per_partition for v in slots.values()):
        wh = f"WH-{n:03d}"
        p = partitioner(wh.encode(), list(range(partitions)), list(range(partitions)))
        if len(slots[p]) < per_partition:
            slots[p].append(wh)
        n += 1
    return sorted(wh for v in slots.values() for wh in v)


WAREHOUSES = spread_warehouses()


def generate(
    n_events: int, seed: int, warehouses: Sequence[str] = WAREHOUSES
) -> tuple[list[Event], Truth]:
    """Realistic traffic of every flow over about 30 minutes of event time (the one traffic
    model: `ordermon.devtools.realistic.burst`), in arrival order (topics up to a minute apart),
    as contract events, and their truth."""
    events = []
    for m in burst(n_events, warehouses, seed=seed):
        event = decode(m.topic, m.key, m.value)
        assert not isinstance(event, Rejection), event
        events.append(event)
    return events, truth_of(events)


def create_topics(bootstrap: str, prefix: str, partitions: int = 4) -> None:
    asyncio.run(devtools_create_topics(bootstrap, prefix, partitions))


def publish(bootstrap: str, prefix: str, events: Sequence[Event]) -> None:
    async def go() -> None:
        async with Publisher(bootstrap, prefix=prefix) as pub:
            await pub.send_many(events)

    asyncio.run(go())


def truth_of(events: Sequence[Event]) -> Truth:
    return Counter((e.warehouse, e.flow) for e in events)


def counted(statuses: list[dict[str, Any]]) -> int:
    return sum(sum(s["totals"].values()) for s in statuses)


def wait_counted(
    worker: Worker, n: int, timeout: float = 120.0, *, exactly: bool = False
) -> list[dict[str, Any]]:
    """Poll the worker's /warehouses until at least `n` events are counted (the whole group's,
    through the fan-out); returns the statuses."""

    last: dict[str, int] = {}

    def enough() -> list[dict[str, Any]] | None:
        statuses = worker.warehouses()
        last.clear()
        last.update({s["warehouse"]: sum(s["totals"].values()) for s in statuses})
        return statuses if counted(statuses) >= n else None

    try:
        statuses: list[dict[str, Any]] = wait_for(enough, timeout, f"{n} events counted")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last counts per warehouse: {last}") from None
    return statuses


def assert_exact(statuses: list[dict[str, Any]], truth: Truth) -> None:
    """Every total and every queue's backlog of every warehouse equals the truth, and nothing
    else was counted."""
    by_wh = {s["warehouse"]: s for s in statuses}
    assert sorted(by_wh) == sorted({wh for wh, _f in truth})
    for wh, status in by_wh.items():
        expected = {flow: truth[(wh, flow)] for flow in status["totals"]}
        assert status["totals"] == expected, wh
        for q in QUEUES:
            inflow = sum(truth[(wh, f)] for f in q.inflow)
            outflow = sum(truth[(wh, f)] for f in q.outflow)
            assert status["queues"][q.name]["backlog"] == max(0, inflow - outflow), (wh, q.name)
        assert status["backlog"] == status["queues"]["dispatch"]["backlog"]
        assert status["service_backlog"] == status["queues"]["service"]["backlog"]
    assert counted(statuses) == sum(truth.values())


def metrics_text(url: str) -> str:
    with urllib.request.urlopen(url + "/metrics", timeout=3) as answer:
        return str(answer.read().decode())


def metric(url: str, name: str, labels: dict[str, str] | None = None) -> float | None:
    """The value of one sample of `name` with exactly `labels` on the worker's /metrics."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted((labels or {}).items()))
    for line in metrics_text(url).splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            inside = line[len(name) + 1 : line.index("}")] if "{" in line else ""
            got = ",".join(sorted(inside.split(","))) if inside else ""
            if got == want:
                return float(line.rsplit(" ", 1)[1])
    return None


def read_topic(bootstrap: str, topic: str, n: int, timeout: float = 60.0) -> list[dict[str, Any]]:
    """The first `n` JSON values of `topic` (from the beginning), keys under ``_key``."""

    async def go() -> list[dict[str, Any]]:
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
        )
        await consumer.start()
        out: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        try:
            while len(out) < n and time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    for r in records:
                        value = orjson.loads(r.value)
                        value["_key"] = r.key.decode() if r.key is not None else None
                        out.append(value)
        finally:
            await consumer.stop()
        return out

    return asyncio.run(go())


def local(worker: Worker) -> list[dict[str, Any]]:
    return list(get_json(worker.url + "/warehouses?scope=local"))


def restart(worker: Worker) -> Worker:
    """Start the same worker again: same group, data dir, port and log."""
    return worker.start()


def new_deployment_worker(dep: Deployment, **env: str) -> Worker:
    return dep.worker(**env)


class ChunkedPublisher(threading.Thread):
    """Publishes `events` in chunks of `chunk`, `pause` seconds apart, in the background, so
    that a fault can strike in the middle of the stream. `join()` re-raises its error."""

    def __init__(
        self, bootstrap: str, prefix: str, events: Sequence[Event], chunk: int, pause: float
    ) -> None:
        super().__init__(daemon=True)
        self.bootstrap, self.prefix = bootstrap, prefix
        self.events, self.chunk, self.pause = list(events), chunk, pause
        self.sent = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        async def go() -> None:
            async with Publisher(self.bootstrap, prefix=self.prefix) as pub:
                for i in range(0, len(self.events), self.chunk):
                    self.sent += await pub.send_many(self.events[i : i + self.chunk])
                    await asyncio.sleep(self.pause)

        try:
            asyncio.run(go())
        except BaseException as exc:  # handed to the test by join()
            self.error = exc

    def join(self, timeout: float | None = None) -> None:
        super().join(timeout)
        assert not self.is_alive(), "the publisher did not finish"
        if self.error is not None:
            raise self.error


@contextlib.contextmanager
def private_deployment(tmp: Path) -> Iterator[tuple[EmbeddedBroker, Deployment]]:
    """A broker of its own (for faults that hit the broker) and one deployment on it."""
    with EmbeddedBroker(free_port(), log_path=tmp / "broker.log") as broker:
        tag = uuid.uuid4().hex[:8]
        env = {
            **os.environ,
            "ORDERMON_KAFKA": broker.bootstrap,
            "ORDERMON_TOPIC_PREFIX": f"p{tag}.",
            "ORDERMON_APP_ID": f"ordermon-private-{tag}",
            "ORDERMON_SESSION_TIMEOUT_SECONDS": "6",
            "ORDERMON_IDLE_AFTER_SECONDS": "5",
            "ORDERMON_PARTITIONS": "4",
        }
        dep = Deployment(broker.bootstrap, f"p{tag}.", env, tmp)
        try:
            yield broker, dep
        finally:
            broker.resume()
            for w in dep.workers:
                w.stop()


def listening_addresses(pid: int) -> set[tuple[str, int]]:
    """(IPv4 address, port) of the TCP sockets process `pid` listens on, from /proc (no psutil)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            cols = line.split()
            local_address, state, inode = cols[1], cols[3], cols[9]
            if state != "0A" or inode not in inodes:  # 0A: LISTEN
                continue
            hex_ip, hex_port = local_address.split(":")
            if len(hex_ip) == 8:
                ip = socket.inet_ntop(socket.AF_INET, bytes.fromhex(hex_ip)[::-1])
            else:
                words = bytes.fromhex(hex_ip)
                raw = b"".join(words[i : i + 4][::-1] for i in range(0, 16, 4))
                ip = socket.inet_ntop(socket.AF_INET6, raw)
            found.add((ip, int(hex_port, 16)))
    return found


def changelog_minute_totals(bootstrap: str, app_id: str) -> Truth:
    """(warehouse, flow) -> events, summed over the newest record of every key of the
    `warehouse-minutes` changelog: what a worker rebuilding from Kafka alone would see."""
    from ordermon.agents.logic.persist import hour_from_bytes
    from ordermon.agents.worker.store import warehouse_of
    from ordermon.streams.flows import FLOWS

    async def go() -> dict[bytes, bytes | None]:
        topic = f"{app_id}-warehouse-minutes-changelog"
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
        )
        await consumer.start()
        newest: dict[bytes, bytes | None] = {}
        try:
            while batch := await consumer.getmany(timeout_ms=1500):
                for records in batch.values():
                    for r in records:
                        newest[r.key] = r.value
        finally:
            await consumer.stop()
        return newest

    totals: Truth = Counter()
    for key, value in asyncio.run(go()).items():
        if value is not None:
            for bucket in hour_from_bytes(value).values():
                for i, flow in enumerate(FLOWS):
                    if bucket.counts[i]:
                        totals[(warehouse_of(key), flow)] += bucket.counts[i]
    return totals
