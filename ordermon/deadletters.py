"""`ordermon deadletters list|replay`: look at rejected messages, and send them again once fixed.

A dead letter names where its message came from (`source_topic`, `partition`, `offset`), why it
was rejected and, when it fits, the original value. Once the publisher is fixed (or the limit
that rejected it is raised), `replay` sends the original payload back to its source topic, or a
corrected one from a file (the JSON lines `list --json` prints, edited). Replays are idempotent
on the letter's source coordinates: each one replayed is recorded on the topic
`ordermon.deadletter.replayed` (keyed `topic/partition/offset`), and a later replay skips what is
recorded there. A replayed message carries the header `ordermon-replay-of: topic/partition/offset`.

The selection and planning are pure (`Letter`, `Selection`, `plan`); `read_letters`,
`read_replayed` and `send` do the Kafka I/O.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import aiokafka
import orjson

from ordermon.config import Settings
from ordermon.kafka import ensure_topic
from ordermon.security import client_options
from ordermon.streams.timefmt import format_rfc3339_ms, parse_rfc3339_ms
from ordermon.streams.topics import TopicNames

REPLAYED: Final = "ordermon.deadletter.replayed"
"""The topic that records replayed letters (contract name; the deployment prefix applies)."""

REPLAY_HEADER: Final = "ordermon-replay-of"

Source = tuple[str, int, int]  # (source topic, partition, offset): what a letter is known by


class LetterError(ValueError):
    """A dead letter or a correction line that cannot be read; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Letter:
    """One message of the dead-letter topic, as `list` shows it."""

    source_topic: str
    partition: int
    offset: int
    reason: str
    error: str
    received_at_ms: int | None
    payload: bytes | None  # the original value, when the letter holds all of it
    key: bytes | None  # the original key, when the letter names it
    truncated: bool = False  # the letter keeps only a prefix of a large payload

    @property
    def source(self) -> Source:
        return (self.source_topic, self.partition, self.offset)

    def to_json(self) -> dict[str, Any]:
        """The line `list --json` prints, and `replay --file` reads back (after editing)."""
        out: dict[str, Any] = {
            "source_topic": self.source_topic,
            "partition": self.partition,
            "offset": self.offset,
            "reason": self.reason,
            "error": self.error,
            "received_at": (
                format_rfc3339_ms(self.received_at_ms) if self.received_at_ms is not None else None
            ),
            "key": _text(self.key),
            "truncated": self.truncated,
        }
        value = _text(self.payload)
        try:
            out["value"] = orjson.loads(value) if value is not None else None
        except orjson.JSONDecodeError:
            out["value"] = value
        return out


def _text(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    return raw.decode("utf-8", errors="replace")


def _bytes_field(wire: Mapping[str, Any], name: str) -> bytes | None:
    """`name` (text) or `name_b64` of a letter, as bytes; None when neither is there."""
    text = wire.get(name)
    if isinstance(text, str):
        return text.encode("utf-8")
    b64 = wire.get(f"{name}_b64")
    if isinstance(b64, str):
        try:
            return base64.b64decode(b64, validate=True)
        except ValueError as exc:
            raise LetterError(f"{name}_b64 is not base64: {exc}") from None
    return None


def parse_letter(raw: bytes | None) -> Letter:
    """A dead letter from its wire value (the contract's `ordermon.deadletter` format)."""
    try:
        wire = orjson.loads(raw or b"")
    except orjson.JSONDecodeError as exc:
        raise LetterError(f"not JSON: {exc}") from None
    if not isinstance(wire, dict):
        raise LetterError("not a JSON object")
    try:
        source_topic, partition, offset = wire["source_topic"], wire["partition"], wire["offset"]
    except KeyError as exc:
        raise LetterError(f"no {exc.args[0]}") from None
    if not (isinstance(source_topic, str) and type(partition) is int and type(offset) is int):
        raise LetterError("source_topic, partition and offset must be a string and integers")
    received = wire.get("received_at")
    truncated = bool(wire.get("payload_truncated", False))
    return Letter(
        source_topic=source_topic,
        partition=partition,
        offset=offset,
        reason=str(wire.get("reason", "")),
        error=str(wire.get("error", "")),
        received_at_ms=parse_rfc3339_ms(received) if isinstance(received, str) else None,
        payload=_bytes_field(wire, "payload"),
        key=_bytes_field(wire, "key"),
        truncated=truncated,
    )


@dataclass(frozen=True, slots=True)
class Selection:
    """Which letters a command acts on: every field that is set must match."""

    reasons: frozenset[str] = frozenset()
    topics: frozenset[str] = frozenset()  # contract names (no prefix) or full names
    since_ms: int | None = None  # received at or after
    until_ms: int | None = None  # received before
    names: TopicNames = field(default_factory=TopicNames)

    def matches(self, letter: Letter) -> bool:
        if self.reasons and letter.reason not in self.reasons:
            return False
        topic = letter.source_topic
        if self.topics and topic not in self.topics and self.names.base(topic) not in self.topics:
            return False
        at = letter.received_at_ms
        if self.since_ms is not None and (at is None or at < self.since_ms):
            return False
        return self.until_ms is None or (at is not None and at < self.until_ms)


@dataclass(frozen=True, slots=True)
class Replay:
    """One message to send again."""

    source: Source
    topic: str
    key: bytes | None
    value: bytes


@dataclass
class Plan:
    """What `replay` will send, and what it leaves, each with the reason."""

    send: list[Replay] = field(default_factory=list)
    skipped: list[tuple[Source, str]] = field(default_factory=list)


def _key_of(value: bytes) -> bytes | None:
    """The warehouse of a JSON event (the contract's key), for letters that do not name one."""
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    warehouse = obj.get("warehouse") if isinstance(obj, dict) else None
    return warehouse.encode("utf-8") if isinstance(warehouse, str) and warehouse else None


def _message(
    letter: Letter, corrections: Mapping[Source, tuple[bytes | None, bytes]] | None
) -> tuple[bytes | None, bytes] | str:
    """The key and value to send for `letter`, or why there is none."""
    if corrections is not None:
        key, value = corrections[letter.source]
    elif letter.truncated or letter.payload is None:
        return (
            "the letter keeps only part of the payload: replay it from a corrected file "
            "(`list --json`, edited), or from the source offset it names"
        )
    else:
        key, value = letter.key, letter.payload
    return (key if key is not None else (letter.key or _key_of(value))), value


def plan(
    letters: Iterable[Letter],
    selection: Selection,
    replayed: Iterable[Source],
    corrections: Mapping[Source, tuple[bytes | None, bytes]] | None = None,
) -> Plan:
    """The replays for the selected letters: the original payload, or the correction for that
    letter when `corrections` is given (then only corrected letters are replayed). Letters already
    in `replayed`, twice in the topic, with only a prefix of their payload or with no key to send
    them with are skipped, with the reason."""
    done = set(replayed)
    out = Plan()
    for letter in letters:
        if not selection.matches(letter) or (
            corrections is not None and letter.source not in corrections
        ):
            continue
        source = letter.source
        message = _message(letter, corrections)
        if isinstance(message, str):
            out.skipped.append((source, message))
            continue
        key, value = message
        if source in done:
            out.skipped.append((source, "already replayed"))
            continue
        if key is None:
            out.skipped.append((source, "no key: give one in a corrected file (`key`)"))
            continue
        done.add(source)
        out.send.append(Replay(source, letter.source_topic, key, value))
    if corrections is not None:
        seen = {r.source for r in out.send} | {s for s, _ in out.skipped}
        for source in corrections:
            if source not in seen:
                out.skipped.append((source, "no such dead letter (or not selected)"))
    return out


def read_corrections(lines: Iterable[str]) -> dict[Source, tuple[bytes | None, bytes]]:
    """Corrected messages from JSON lines (`list --json`'s, edited): `source_topic`, `partition`,
    `offset`, `value` (a JSON object, or its text) and optionally `key`. LetterError names the
    first bad line."""
    out: dict[Source, tuple[bytes | None, bytes]] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
            source = (str(obj["source_topic"]), int(obj["partition"]), int(obj["offset"]))
            value = obj["value"]
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise LetterError(
                f"line {number}: not a correction ({exc!r}); each line needs source_topic, "
                "partition, offset and value"
            ) from None
        if isinstance(value, dict):
            raw = orjson.dumps(value)
        elif isinstance(value, str):
            raw = value.encode("utf-8")
        else:
            raise LetterError(f"line {number}: value must be a JSON object or a string")
        key = obj.get("key")
        out[source] = (key.encode("utf-8") if isinstance(key, str) else None, raw)
    return out


def marker(replay: Replay, at_ms: int, to: tuple[int, int] | None) -> tuple[bytes, bytes]:
    """The key and value recording one replay on the `ordermon.deadletter.replayed` topic."""
    topic, partition, offset = replay.source
    value: dict[str, Any] = {
        "source_topic": topic,
        "partition": partition,
        "offset": offset,
        "replayed_at": format_rfc3339_ms(at_ms),
    }
    if to is not None:
        value["to_partition"], value["to_offset"] = to
    return f"{topic}/{partition}/{offset}".encode(), orjson.dumps(value)


def parse_marker(raw: bytes | None) -> Source | None:
    try:
        obj = orjson.loads(raw or b"")
        return (str(obj["source_topic"]), int(obj["partition"]), int(obj["offset"]))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


# ---- Kafka I/O -----------------------------------------------------------------------------------


Stored = tuple[int, int, bytes | None]  # (partition, offset, value) of a message read back


async def read_topic(settings: Settings, topic: str, idle_s: float = 1.0) -> list[Stored]:
    """Every message of `topic` from the start to its end (the high-water mark of each
    partition); an empty list when the topic does not exist."""
    consumer = aiokafka.AIOKafkaConsumer(
        bootstrap_servers=settings.kafka, enable_auto_commit=False, **client_options(settings)
    )
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            await consumer.topics()  # metadata of every topic
            partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            return []
        tps = [aiokafka.TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        values: list[Stored] = []
        quiet_since = time.monotonic()
        while True:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                values.extend((r.partition, r.offset, r.value) for r in records)
            if batch:
                quiet_since = time.monotonic()
            done = True
            for tp in tps:
                end = max(ends.get(tp) or 0, consumer.highwater(tp) or 0)
                if await consumer.position(tp) < end or consumer.highwater(tp) is None:
                    done = False
            if done or time.monotonic() - quiet_since > idle_s * 5:
                return values
    finally:
        await consumer.stop()


async def read_replayed(settings: Settings) -> set[Source]:
    names = TopicNames(settings.topic_prefix)
    values = await read_topic(settings, names.full(REPLAYED))
    return {s for _, _, v in values if (s := parse_marker(v)) is not None}


async def send(settings: Settings, replays: Sequence[Replay], clock: Any = time.time) -> int:
    """Send each replay to its source topic, then record it as replayed; returns how many."""
    names = TopicNames(settings.topic_prefix)
    await ensure_topic(settings, names.full(REPLAYED))
    producer = aiokafka.AIOKafkaProducer(
        bootstrap_servers=settings.kafka, acks="all", **client_options(settings)
    )
    await producer.start()
    try:
        for replay in replays:
            topic, partition, offset = replay.source
            header = (REPLAY_HEADER, f"{topic}/{partition}/{offset}".encode())
            meta = await producer.send_and_wait(
                replay.topic, replay.value, key=replay.key, headers=[header]
            )
            key, value = marker(replay, int(clock() * 1000), (meta.partition, meta.offset))
            await producer.send_and_wait(names.full(REPLAYED), value, key=key)
        return len(replays)
    finally:
        await producer.stop()


async def read_letters(settings: Settings) -> tuple[list[Letter], list[str]]:
    """The letters of the dead-letter topic, one per source message (a worker that restarts may
    reject the same message twice: the first letter is kept), and a line for each message of
    the topic that is not a letter."""
    topic = TopicNames(settings.topic_prefix).deadletter
    letters: dict[Source, Letter] = {}
    bad: list[str] = []
    for partition, offset, value in await read_topic(settings, topic):
        try:
            letter = parse_letter(value)
        except LetterError as exc:
            bad.append(f"{topic}[{partition}]@{offset} is not a dead letter: {exc}")
            continue
        letters.setdefault(letter.source, letter)
    return list(letters.values()), bad
