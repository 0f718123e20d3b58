"""Table recovery reads each changelog partition to the end offset; that end must be exact even
where the broker's ListOffsets answer lags (the embedded broker answers with the first offset of
the last record batch plus one). agents.worker.transport.true_end_offsets confirms it by a fetch."""

from __future__ import annotations

import asyncio
import uuid

import aiokafka
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faust.types import TP

from ordermon.agents.worker.transport import true_end_offsets

pytestmark = pytest.mark.integration


async def _scenario(bootstrap: str) -> tuple[dict[TP, int | None], dict[TP, int | None]]:
    topic = f"end-offsets-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 3, 1)])
    finally:
        await admin.close()
    producer = aiokafka.AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await (await producer.send(topic, b"single", partition=0))
        for partition, size in ((0, 4), (1, 7)):  # partition 2 stays empty
            batch = producer.create_batch()
            for n in range(size):
                batch.append(key=None, value=b"r%d" % n, timestamp=None)
            await (await producer.send_batch(batch, topic, partition=partition))
    finally:
        await producer.stop()
    tps = [TP(topic, p) for p in range(3)]
    probe = aiokafka.AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await probe.start()
    try:
        listed = await probe.end_offsets([aiokafka.TopicPartition(*tp) for tp in tps])
    finally:
        await probe.stop()
    reported: dict[TP, int | None] = {TP(a.topic, a.partition): e for a, e in listed.items()}
    ends = await true_end_offsets(
        lambda: aiokafka.AIOKafkaConsumer(bootstrap_servers=bootstrap), reported
    )
    return reported, ends


def test_end_offsets_are_exact_after_multi_record_batches(broker: str) -> None:
    reported, ends = asyncio.run(_scenario(broker))
    by_partition = {tp.partition: end for tp, end in ends.items()}
    assert by_partition == {0: 5, 1: 7, 2: 0}
    for tp, end in reported.items():  # what the broker said is never above the truth
        assert end is not None and end <= by_partition[tp.partition]
