"""Kafka administration that the commands need: create the topics, check their partition counts."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from ordermon.config import Settings
from ordermon.security import client_options
from ordermon.streams.topics import TopicNames, require_copartitioned

log = logging.getLogger(__name__)


class KafkaUnavailable(RuntimeError):
    """The brokers in ORDERMON_KAFKA did not answer."""


def names(settings: Settings) -> TopicNames:
    return TopicNames(settings.topic_prefix)


async def _admin(settings: Settings, timeout: float) -> AIOKafkaAdminClient:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka,
        request_timeout_ms=int(timeout * 1000),
        **client_options(settings),
    )
    try:
        await asyncio.wait_for(admin.start(), timeout)
    except (TimeoutError, KafkaError, OSError) as exc:
        await admin.close()
        raise KafkaUnavailable(
            f"cannot reach Kafka at {settings.kafka} (ORDERMON_KAFKA): {exc!r}. "
            "Start one with `ordermon broker`, or point ORDERMON_KAFKA at your brokers."
        ) from exc
    return admin


async def partition_counts(
    settings: Settings, topics: Iterable[str], timeout: float = 10.0
) -> dict[str, int | None]:
    """Partition count of each topic; None for a topic that does not exist."""
    admin = await _admin(settings, timeout)
    try:
        existing = set(await admin.list_topics())
        wanted = list(topics)
        counts: dict[str, int | None] = dict.fromkeys(wanted)
        present = [t for t in wanted if t in existing]
        if present:
            for meta in await admin.describe_topics(present):
                counts[meta["topic"]] = len(meta["partitions"])
        return counts
    finally:
        await admin.close()


async def ensure_topics(settings: Settings, timeout: float = 10.0) -> dict[str, int | None]:
    """Create whichever of the contract's topics are missing (inputs all with settings.partitions),
    then return the input topics' partition counts."""
    topic_names = names(settings)
    every = [*topic_names.inputs, topic_names.alerts, topic_names.deadletter]
    counts = await partition_counts(settings, every, timeout)
    missing = [t for t, n in counts.items() if n is None]
    if missing:
        admin = await _admin(settings, timeout)
        try:
            for topic in missing:
                try:
                    await admin.create_topics(
                        [NewTopic(topic, settings.partitions, settings.replication_factor)]
                    )
                    log.info("created topic %s with %d partitions", topic, settings.partitions)
                except TopicAlreadyExistsError:
                    pass
        finally:
            await admin.close()
        counts = await partition_counts(settings, every, timeout)
    return {t: counts[t] for t in topic_names.inputs}


async def ensure_topic(
    settings: Settings, topic: str, partitions: int = 1, timeout: float = 10.0
) -> None:
    """Create `topic` (a full name) with `partitions` when it does not exist yet."""
    if (await partition_counts(settings, [topic], timeout))[topic] is not None:
        return
    admin = await _admin(settings, timeout)
    try:
        await admin.create_topics([NewTopic(topic, partitions, settings.replication_factor)])
        log.info("created topic %s with %d partitions", topic, partitions)
    except TopicAlreadyExistsError:
        pass
    finally:
        await admin.close()


async def preflight(settings: Settings, create: bool = True) -> int:
    """The input topics' common partition count; PartitionsMismatch naming each when they differ."""
    if create:
        counts = await ensure_topics(settings)
    else:
        counts = await partition_counts(settings, names(settings).inputs)
    return require_copartitioned(counts)
