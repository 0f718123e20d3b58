"""The benchmark's pure parts: its events are contract events, its stories stall as described,
its percentile is the nearest rank. (The measurements themselves run in `make bench`.)"""

from __future__ import annotations

import random
from collections import Counter

from ordermon.devtools.bench import (
    engine_cost,
    generate,
    latency_minute,
    percentile,
    stall_minutes,
    warehouse_ids,
)
from ordermon.streams.codec import decode
from ordermon.streams.validation import Rejection

END = 1_795_335_300_000


def test_generated_events_are_valid_keyed_and_advance_in_event_time() -> None:
    events = list(generate(2_000, warehouses=7, span_minutes=10, end_ms=END))
    assert len(events) == 2_000
    topics = Counter(topic for topic, *_ in events)
    assert set(topics) == {"orders", "dispatches", "complaints", "refunds"}
    sizes = []
    for topic, key, value, at in events:
        event = decode(topic, key, value)
        assert not isinstance(event, Rejection), event
        assert event.warehouse == key.decode() and event.occurred_at_ms == at
        sizes.append(len(value))
    assert 150 <= sum(sizes) / len(sizes) <= 250  # "about 200 bytes"
    times = [at for *_, at in events]
    assert times[-1] - times[0] > 9 * 60_000 and max(times) <= END
    assert len({key for _t, key, _v, _a in events}) == 7


def test_the_latency_story_slows_dispatch_from_the_stall_minute_on() -> None:
    stalls, minutes = stall_minutes(4, stagger_min=1, lead_min=3, tail_min=2)
    assert stalls == {"WH-0000": 3, "WH-0001": 4, "WH-0002": 5, "WH-0003": 6} and minutes == 9
    rnd, counter = random.Random(0), [0]
    per_minute = [latency_minute(m, END, stalls, rnd, counter) for m in range(minutes)]
    for events in per_minute:
        for topic, key, value, _at in events:
            assert not isinstance(decode(topic, key, value), Rejection)
        assert [e[3] for e in events] == sorted(e[3] for e in events)

    def dispatched(minute: int, wh: str) -> int:
        return sum(
            1
            for _t, key, value, _a in per_minute[minute]
            if key == wh.encode() and b'"dispatched"' in value
        )

    assert dispatched(3, "WH-0001") == 10 and dispatched(4, "WH-0001") == 4
    assert dispatched(8, "WH-0003") == 4 and dispatched(5, "WH-0003") == 10
    assert warehouse_ids(2) == ["WH-0000", "WH-0001"]


def test_percentile_is_the_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([3.0], 99) == 3.0


def test_the_engine_alone_counts_every_event_it_is_timed_on() -> None:
    result = engine_cost(4_000, warehouses=5, minute_events=1_000)
    assert result["counted"] == result["events"] == 4_000
    assert result["cpu_us_per_event"] > 0
