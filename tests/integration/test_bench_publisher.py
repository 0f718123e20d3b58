"""The benchmark's paced publisher (`bench.paced_publish`): every event handed over once, in
order within its partition, at its partition, and every watched send reported once, after the
events before it. The latency `make bench` reports is timed from these reports."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from ordermon.devtools.bench import paced_publish, partition_of
from ordermon.devtools.broker import create_topics

pytestmark = pytest.mark.integration

PARTITIONS = 4


def _story(n: int, size: int) -> list[tuple[str, bytes, bytes, int]]:
    topics = ("orders", "dispatches")
    return [
        (topics[i % 2], f"WH-{i % 7}".encode(), b"%06d:" % i + b"x" * size, 1_000 + i)
        for i in range(n)
    ]


async def _publish_and_read(
    bootstrap: str, story: list[tuple[str, bytes, bytes, int]], rate: float, watched: set[int]
) -> tuple[list[tuple[int, list[int], float]], dict[tuple[str, int], list[bytes]]]:
    prefix = f"pp{uuid.uuid4().hex[:6]}."
    await create_topics(bootstrap, prefix, PARTITIONS)
    parts = [partition_of(key, PARTITIONS) for _t, key, _v, _a in story]
    reports: list[tuple[int, list[int], float]] = []
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=5)
    await producer.start()
    try:
        await paced_publish(
            producer,
            prefix,
            story,
            0,
            rate,
            parts,
            watched,
            lambda upto, indices, at: reports.append((upto, list(indices), at)),
        )
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        f"{prefix}orders",
        f"{prefix}dispatches",
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()
    read: dict[tuple[str, int], list[bytes]] = {}
    try:
        deadline = asyncio.get_running_loop().time() + 60
        while sum(map(len, read.values())) < len(story):
            assert asyncio.get_running_loop().time() < deadline, "not every event arrived"
            batch = await consumer.getmany(timeout_ms=500)
            for tp, records in batch.items():
                topic = tp.topic.removeprefix(prefix)
                read.setdefault((topic, tp.partition), []).extend(
                    r.value for r in records if r.value is not None
                )
    finally:
        await consumer.stop()
    return reports, read


def _expected(
    story: list[tuple[str, bytes, bytes, int]],
) -> dict[tuple[str, int], list[bytes]]:
    out: dict[tuple[str, int], list[bytes]] = {}
    for topic, key, value, _at in story:
        out.setdefault((topic, partition_of(key, PARTITIONS)), []).append(value)
    return out


@pytest.mark.parametrize(
    ("events", "size", "rate"),
    [
        (600, 20, 20_000.0),  # paced: a few ticks, small batches
        (120, 2_000, 1e9),  # all due at once: batches fill up (16 KiB) and are handed over full
    ],
)
def test_every_event_once_in_order_and_every_watched_send_reported_once(
    broker: str, events: int, size: int, rate: float
) -> None:
    story = _story(events, size)
    watched = {0, 7, events // 2, events - 1}
    reports, read = asyncio.run(_publish_and_read(broker, story, rate, watched))
    assert read == _expected(story)
    seen = [i for _upto, indices, _at in reports for i in indices]
    assert sorted(seen) == sorted(watched)
    assert all(i < upto for upto, indices, _at in reports for i in indices)
    assert max(upto for upto, _i, _a in reports) == events
