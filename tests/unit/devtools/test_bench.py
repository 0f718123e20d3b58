"""The benchmark's pure parts: its events are contract events, its stories stall as described,
its percentile is the nearest rank. (The measurements themselves run in `make bench`.)"""

from __future__ import annotations

from collections import Counter

from ordermon.devtools.bench import (
    engine_cost,
    generate,
    latency_story,
    percentile,
    stall_minutes,
    warehouse_ids,
)
from ordermon.devtools.operations import MINUTE_MS
from ordermon.streams.codec import decode
from ordermon.streams.validation import Rejection

END = 1_795_335_300_000


def test_generated_events_are_valid_keyed_and_advance_in_event_time() -> None:
    events = list(generate(10_000, warehouses=7, span_minutes=20, end_ms=END))
    assert len(events) == 10_000
    topics = Counter(topic for topic, *_ in events)
    assert set(topics) == {"orders", "dispatches", "complaints", "refunds"}
    sizes = []
    for topic, key, value, at in events:
        event = decode(topic, key, value)
        assert not isinstance(event, Rejection), event
        assert event.warehouse == key.decode() and event.occurred_at_ms == at
        sizes.append(len(value))
    assert 120 <= sum(sizes) / len(sizes) <= 250  # "about 200 bytes"
    times = [at for *_, at in events]
    assert max(times) - min(times) > 16 * 60_000 and max(times) <= END
    assert len({key for _t, key, _v, _a in events}) == 7


def test_the_latency_story_slows_dispatch_from_the_stall_minute_on() -> None:
    stalls, minutes = stall_minutes(4, stagger_min=1, lead_min=3, tail_min=2)
    assert stalls == {"WH-0000": 3, "WH-0001": 4, "WH-0002": 5, "WH-0003": 6} and minutes == 9
    t0 = END - minutes * MINUTE_MS
    story = latency_story(stalls, minutes, t0)
    for topic, key, value, _at in story:
        assert not isinstance(decode(topic, key, value), Rejection)
    assert [e[3] for e in story] == sorted(e[3] for e in story)  # no arrival lag
    assert min(e[3] for e in story) >= t0 and max(e[3] for e in story) < END

    def per_minute(wh: str, status: bytes, lo: int, hi: int) -> float:
        n = sum(
            1
            for _t, key, value, at in story
            if key == wh.encode()
            and status in value
            and t0 + lo * MINUTE_MS <= at < t0 + hi * MINUTE_MS
        )
        return n / (hi - lo)

    # WH-0003 stalls at minute 6: before, dispatch keeps up with the 10 orders a minute; after,
    # it packs about 4 a minute
    assert 7 <= per_minute("WH-0003", b'"dispatched"', 1, 6) <= 13
    assert per_minute("WH-0003", b'"dispatched"', 6, 9) <= 6.5
    assert per_minute("WH-0003", b'"placed"', 6, 9) >= 7
    for wh in stalls:  # every topic flows every minute
        topics = {(t, (at - t0) // MINUTE_MS) for t, key, _v, at in story if key == wh.encode()}
        assert {(t, m) for t in ("orders", "dispatches") for m in range(minutes)} <= topics
        assert sum(1 for t, m in topics if t in ("complaints", "refunds")) >= minutes
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
