"""The benchmark's pure parts: its events are contract events, its stories stall as described,
its percentile is the nearest rank. (The measurements themselves run in `make bench`.)"""

from __future__ import annotations

from collections import Counter

from ordermon.agents.logic.flow import FlowConfig
from ordermon.backtest import Record, replay
from ordermon.devtools.bench import (
    LAT_ENV,
    STALL_TAIL_MIN,
    closing_sends,
    engine_cost,
    generate,
    latency_story,
    partition_of,
    percentile,
    stall_minutes,
    table,
    warehouse_ids,
)
from ordermon.devtools.operations import DAY_MS, MINUTE_MS
from ordermon.policy import load_policy
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


def test_the_latency_story_learns_a_week_then_stops_dispatch_from_the_stall_minute_on() -> None:
    stalls, minutes = stall_minutes(4, stagger_min=1, lead_min=3, tail_min=2)
    assert stalls == {"WH-0000": 3, "WH-0001": 4, "WH-0002": 5, "WH-0003": 6} and minutes == 9
    t0 = END - minutes * MINUTE_MS
    story = latency_story(stalls, minutes, t0, load_orders_per_minute=200, history_days=1.0)
    for topic, key, value, _at in story:
        assert not isinstance(decode(topic, key, value), Rejection)
    assert [e[3] for e in story] == sorted(e[3] for e in story)  # no arrival lag
    assert min(e[3] for e in story) >= t0 - DAY_MS and max(e[3] for e in story) < END

    def per_minute(wh: str, status: bytes, lo: float, hi: float) -> float:
        n = sum(
            1
            for _t, key, value, at in story
            if key == wh.encode()
            and status in value
            and t0 + lo * MINUTE_MS <= at < t0 + hi * MINUTE_MS
        )
        return n / (hi - lo)

    # the stalling sites: their quiet pace all day before t0 (dispatch keeping up), then none
    # dispatched from the stall minute on while orders go on
    for wh in stalls:
        assert 0.65 <= per_minute(wh, b'"placed"', -1440, 0) <= 0.85
        assert 0.65 <= per_minute(wh, b'"dispatched"', -1440, 0) <= 0.85
    assert per_minute("WH-0003", b'"dispatched"', 6, 9) == 0
    assert per_minute("WH-0000", b'"dispatched"', 3, 9) == 0
    # the load sites: live part only, about 200 orders a minute in all, every topic flowing
    load = [e for e in story if e[1].startswith(b"LOAD-")]
    assert min(at for *_, at in load) >= t0
    placed = sum(1 for e in load if b'"placed"' in e[2])
    assert 150 <= placed / minutes <= 250
    assert {t for t, *_ in load} == {"orders", "dispatches", "complaints", "refunds"}


def test_the_latency_story_fires_dispatch_backpressure_at_each_stalling_site_and_nothing_else() -> (
    None
):
    """Offline, under the benchmark's worker settings: the stall is judged against the learned
    week, so each stalling site fires, within the story, and no other alert does: not in the
    learned week either, where a quiet site's half hours are noisy (WH-0003 and WH-0008 fired
    there when a stall was judged on the ratio alone)."""
    stalls, minutes = stall_minutes(9, stagger_min=1, lead_min=10, tail_min=STALL_TAIL_MIN)
    t0 = END - minutes * MINUTE_MS
    story = latency_story(stalls, minutes, t0, load_orders_per_minute=100)
    env = {k: v for k, v in LAT_ENV.items() if k.startswith("ORDERMON_POLICY_")}
    flow = FlowConfig(
        lateness_ms=int(LAT_ENV["ORDERMON_LATENESS_SECONDS"]) * 1000,
        horizon_ms=int(LAT_ENV["ORDERMON_HORIZON_MINUTES"]) * MINUTE_MS,
    )
    result = replay(
        (Record(topic, key, value) for topic, key, value, _at in story), load_policy(env), flow
    )
    fired = {(e.kind, e.warehouse) for e in result.episodes}
    assert fired == {("dispatch_backpressure", wh) for wh in stalls}
    for e in result.episodes:
        assert t0 + stalls[e.warehouse] * MINUTE_MS < e.fired_ms < END


def test_warehouse_ids_are_numbered() -> None:
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


def test_a_run_too_short_for_a_steady_state_says_so_instead_of_dividing_by_zero() -> None:
    worker = {
        "steady_state": False,
        "events_per_s": None,
        "cpu_us_per_event": None,
        "rss_peak_mb": 63.4,
        "rss_growth_mb_per_million": 0.0,
    }
    result = {
        "throughput": {"raw": {"events_per_s": 34_134, "steady_state": True}, "worker": worker},
        "ratio": None,
        "cost": [{"warehouses": 10, "worker": worker}],
    }
    text = table(result)
    assert "too few events for a steady state" in text
    assert "| ordermon worker, end to end" in text and "None" not in text
    assert "CPU per event, 10 warehouses" in text and "n/a (n/a)" in text


def test_a_partition_closes_a_minute_when_its_last_topic_passes_it_plus_the_lateness() -> None:
    key = b"WH-0000"
    p = partition_of(key, 4)
    other = next(k for k in (b"WH-0001", b"WH-0002", b"WH-0003") if partition_of(k, 4) != p)
    t0 = 1_795_335_000_000 - 1_795_335_000_000 % MINUTE_MS
    at = t0 + MINUTE_MS + 30_000  # 30 s of lateness after the first minute's end
    story = [
        ("orders", key, b"", at),
        ("dispatches", key, b"", at),
        ("complaints", key, b"", at),
        ("refunds", other, b"", at),  # another partition: holds nothing here
        ("refunds", key, b"", at - 1),  # the last topic, but not yet past the minute + lateness
        ("refunds", key, b"", at),  # now every topic of the partition is
        ("orders", key, b"", at + 10),  # nothing new closes
    ]
    closing = closing_sends(story, 4, FlowConfig(lateness_ms=30_000))
    assert closing == {4: (p, t0), 5: (p, t0 + MINUTE_MS)}
