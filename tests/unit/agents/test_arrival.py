"""The same alerts whatever the order and pace of arrival (issue 15), without Kafka: a realistic
nine-day story with all four topics (sparse complaints and refunds included) read the way a
consumer in a catch-up may read it (topic by topic, or in random chunks from random partitions,
the sources' ends and the processing clock as the worker passes them) gives exactly the alert
transitions of the offline replay in event-time order, and counts no event late."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator

import pytest

from ordermon.agents.engine import Engine, MemoryStore, Message, Outcome
from ordermon.agents.logic.flow import FlowConfig, source_of
from ordermon.agents.logic.policy import Policy
from ordermon.devtools import realistic
from ordermon.streams.flows import INPUT_TOPICS
from ordermon.streams.outputs import Alert

PARTITIONS = 2
CONFIG = FlowConfig()
# Silence judged after 10 minutes at any hour (the default waits for 30 minutes in hours the
# site normally sends in): the small sites' quiet nights give many network-evaluated transitions
# in a three-day story, before any rhythm is learned.
POLICY = Policy.from_mapping({"silent_after_ms": "10m", "silent_min_events": 0})


def story() -> list[tuple[int, Message]]:
    """(partition, message) in arrival order: nine days of four sites (the detector judges a
    site's rhythm after a week), one of them short of dispatch capacity from day 5."""
    sc = realistic.dispatch_overload(days=9, scale=0.05)
    offsets: Counter[tuple[str, int]] = Counter()
    out = []
    for m in sc.run().messages():
        p = sum(m.key) % PARTITIONS
        offset = offsets[m.topic, p]
        offsets[m.topic, p] += 1
        out.append((p, Message(m.topic, p, offset, m.key, m.value)))
    return out


STORY = story()


def key(a: Alert) -> tuple[object, ...]:
    return (
        a.updated_at_ms,
        a.kind,
        a.warehouse,
        a.state,
        a.severity,
        a.alert_id,
        a.started_at_ms,
        a.ended_at_ms,
    )


def offline() -> tuple[list[Alert], Outcome]:
    engine = Engine.offline(CONFIG, POLICY)
    alerts: list[Alert] = []
    late: Counter[str] = Counter()
    messages = [m for _, m in STORY]
    for i in range(0, len(messages), 500):
        out = engine.process(messages[i : i + 500], None)
        alerts += out.alerts
        late.update(out.late)
    return alerts, Outcome(late=late)


# A reading order: the sources' queues -> the next (source, how many) to read
Chooser = Callable[[dict[str, list[Message]], random.Random], tuple[str, int]]


def topic_by_topic(queues: dict[str, list[Message]], rng: random.Random) -> tuple[str, int]:
    """Everything of the sparse topics first, then the dispatches, then the orders."""
    for topic in ("complaints", "refunds", "dispatches", "orders"):
        for p in range(PARTITIONS):
            source = source_of(topic, p)
            if queues[source]:
                return source, 700
    raise AssertionError("nothing left")


def random_chunks(queues: dict[str, list[Message]], rng: random.Random) -> tuple[str, int]:
    """A random partition, a random chunk (a fetch of a sparse topic covers days)."""
    source = rng.choice(sorted(s for s, q in queues.items() if q))
    return source, rng.choice((1, 50, 400, 3000))


def consume(choose: Chooser, seed: int = 0) -> tuple[list[Alert], Counter[str]]:
    """The worker's loop around the engine: batches as chosen, `ends` as the consumer would
    report them, a processing clock one second per batch, and the timer's ticks."""
    rng = random.Random(seed)
    queues = {source_of(t, p): [] for t in INPUT_TOPICS for p in range(PARTITIONS)}
    for p, m in STORY:
        queues[source_of(m.topic, p)].append(m)
    engine = Engine(CONFIG, POLICY, MemoryStore(), max_future_ms=None)
    alerts: list[Alert] = []
    late: Counter[str] = Counter()
    now = 1_000_000
    while any(queues.values()):
        source, n = choose(queues, rng)
        batch, queues[source] = queues[source][:n], queues[source][n:]
        now += 1_000
        ends = {s: not q for s, q in queues.items()}
        out = engine.process(batch, now, ends=ends)
        alerts += out.alerts + engine.tick(now, ends=ends).alerts
        late.update(out.late)
    ends = dict.fromkeys(queues, True)
    alerts += engine.tick(now + CONFIG.idle_after_ms, ends=ends).alerts
    return alerts, late


def chunks() -> Iterator[int]:
    yield from range(3)


@pytest.mark.parametrize(
    ("choose", "seed"),
    [(topic_by_topic, 0), *((random_chunks, seed) for seed in chunks())],
    ids=["topic_by_topic", "random_0", "random_1", "random_2"],
)
def test_any_reading_order_gives_the_offline_alerts(choose: Chooser, seed: int) -> None:
    expected, offline_out = offline()
    warehouse_alerts = [a for a in expected if a.warehouse != "*"]
    assert len(warehouse_alerts) >= 10  # a story with something to say
    assert {a.state for a in warehouse_alerts} == {"firing", "resolved"}
    assert not offline_out.late
    got, late = consume(choose, seed)
    assert not late
    assert any(a.kind == "dispatch_backpressure" for a in expected)
    assert any(a.kind == "warehouse_silent" for a in expected)  # network-wide alerts too
    assert sorted(map(key, got)) == sorted(map(key, expected))
