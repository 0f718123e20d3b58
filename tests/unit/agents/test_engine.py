"""The engine without Kafka: decode, dead letters, warehouse limit, persistence, recovery, and
the network-wide evaluation with the processing clock and offline."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import orjson

from ordermon.agents.engine import MINUTES, Engine, MemoryStore, Message, message_of
from ordermon.agents.logic.flow import FlowConfig, source_of
from ordermon.agents.logic.policy import Policy
from ordermon.devtools.catalogue import events as scenario_events
from ordermon.devtools.malformed import Malformed
from ordermon.devtools.realistic import STORY_ENV, warm_stall
from ordermon.policy import load_policy
from ordermon.streams.events import Event
from ordermon.streams.flows import INPUT_TOPICS
from ordermon.streams.outputs import Alert
from ordermon.streams.topics import TopicNames
from tests.unit.agents.offline import replay
from tests.unit.agents.test_detector import FLOW, POLICY, T0, M, interleave, orders, scenario

T0_ISO = "2026-11-22T08:{:02d}:{:02d}Z"
NOW_MS = 1_795_334_400_000 + 3_600_000  # 2026-11-22T09:00:00Z: the worker's clock


def order(n: int, wh: str = "W1", minute: int = 0, status: str = "placed") -> bytes:
    return orjson.dumps(
        {
            "event_id": f"e{n}",
            "status": status,
            "order_id": f"o{n}",
            "warehouse": wh,
            "occurred_at": T0_ISO.format(minute, n % 60),
        }
    )


def msg(offset: int, value: bytes, wh: str = "W1", topic: str = "orders", p: int = 0) -> Message:
    return Message(topic, p, offset, wh.encode(), value)


def engine(backend: MemoryStore, **kw: object) -> Engine:
    return Engine(FlowConfig(), Policy(), backend, **kw)  # type: ignore[arg-type]


def run(p: Engine, backend: MemoryStore, batch: list[Message]) -> None:
    for w in p.process(batch, NOW_MS).writes:
        backend.write(w)


def test_counts_and_dead_letters_in_one_batch() -> None:
    backend = MemoryStore()
    p = engine(backend)
    batch = [msg(i, order(i)) for i in range(5)]
    batch.append(msg(5, b"{not json"))
    batch.append(msg(6, order(6, wh="W2"), wh="W1"))  # key differs from the warehouse field
    out = p.process(batch, NOW_MS)
    assert out.counted == {("orders", "placed", "W1"): 5}
    assert [d.reason for d in out.deadletters] == ["not_json", "key_mismatch"]
    dead = out.deadletters[0].to_wire()
    assert dead["source_topic"] == "orders" and dead["offset"] == 5
    assert dead["payload"] == "{not json"


def test_prefixed_topics_map_back_to_the_contract() -> None:
    backend = MemoryStore()
    p = Engine(FlowConfig(), Policy(), backend, names=TopicNames("shop1."))
    out = p.process([msg(0, order(0), topic="shop1.orders")], NOW_MS)
    assert out.counted == {("orders", "placed", "W1"): 1}


def test_warehouse_limit_dead_letters_new_warehouses_only() -> None:
    backend = MemoryStore()
    p = engine(backend, max_warehouses=2)
    batch = [msg(i, order(i, wh=f"W{i % 3}"), wh=f"W{i % 3}") for i in range(9)]
    out = p.process(batch, NOW_MS)
    assert sum(out.counted.values()) == 6
    assert {d.reason for d in out.deadletters} == {"warehouse_limit"}
    assert len(out.deadletters) == 3
    assert "ORDERMON_MAX_WAREHOUSES" in out.deadletters[0].error


def test_future_timestamp_is_dead_lettered() -> None:
    backend = MemoryStore()
    p = engine(backend, max_future_ms=60_000)
    late_clock = NOW_MS - 2 * 3_600_000  # the events are 1-2 h ahead of this clock
    out = p.process([msg(0, order(0))], late_clock)
    assert [d.reason for d in out.deadletters] == ["future_timestamp"]


def test_a_new_pipeline_recovers_from_the_backend_and_skips_replayed_offsets() -> None:
    backend = MemoryStore()
    first = engine(backend)
    run(first, backend, [msg(i, order(i, minute=i % 20)) for i in range(40)])
    # a crash: the new process replays offsets 30..39 (already applied), then new ones
    second = engine(backend)
    replay = [msg(i, order(i, minute=i % 20)) for i in range(30, 50)]
    out = second.process(replay, NOW_MS)
    assert sum(out.duplicates.values()) == 10
    assert sum(out.counted.values()) == 10
    state = second.state("W1")
    assert state is not None
    assert state.totals[0] == 50
    assert sum(b.counts[0] for b in state.minutes.values()) == 50


def test_snapshots_list_every_known_warehouse() -> None:
    backend = MemoryStore()
    p = engine(backend)
    run(p, backend, [msg(i, order(i, wh=f"W{i % 4}"), wh=f"W{i % 4}") for i in range(8)])
    fresh = engine(backend)
    assert [s.warehouse for s in fresh.snapshots()] == ["W0", "W1", "W2", "W3"]
    assert all(s.totals["orders_placed"] == 2 for s in fresh.snapshots())


def test_a_replay_rewrites_the_records_it_touches_to_the_changelog() -> None:
    """After a crash the changelog may lack what the uncommitted messages changed, while an
    on-disk store holds it: the replay changes nothing but writes those records again, so a
    worker that rebuilds from the changelog alone sees every minute."""
    local = MemoryStore()  # the crashed worker's on-disk store: every write arrived
    first = engine(local)
    run(first, local, [msg(i, order(i, minute=i % 20)) for i in range(40)])
    changelog = MemoryStore()  # what reached Kafka: only the writes up to offset 19
    run(engine(changelog), changelog, [msg(i, order(i, minute=i % 20)) for i in range(20)])

    restarted = engine(local)
    out = restarted.process([msg(i, order(i, minute=i % 20)) for i in range(20, 40)], NOW_MS)
    assert sum(out.duplicates.values()) == 20 and not out.counted
    assert changelog.tables[MINUTES] != local.tables[MINUTES]  # minutes 0..19 of 20..39 lost
    for w in out.writes:
        changelog.write(w)
        local.write(w)
    assert changelog.tables == local.tables
    rebuilt = engine(changelog).state("W1")
    assert rebuilt is not None and rebuilt.totals[0] == 40
    assert sum(b.counts[0] for b in rebuilt.minutes.values()) == 40


# ---- the network-wide evaluation: one rule, with the processing clock and offline ----------


def quiet_story() -> list[Event]:
    """BJ-01 sends 08:00-09:00; SH-02 stops after 08:10:30 (its final minute)."""
    busy = scenario([(60, orders(10, 10))], "BJ-01")
    quiet = scenario([(10, orders(10, 10))], "SH-02")
    return interleave(busy, quiet)


def test_offline_the_network_is_evaluated_at_the_end_of_the_newest_closed_minute() -> None:
    engine = Engine.offline(FLOW, POLICY)
    alerts = []
    for event in quiet_story():
        alerts += engine.process([message_of(event)], None).alerts
    silent = [a for a in alerts if a.kind == "warehouse_silent"]
    assert [(a.warehouse, a.state, a.updated_at_ms) for a in silent] == [
        ("SH-02", "firing", T0 + 41 * M)
    ]


def test_batches_of_any_size_give_the_same_network_alerts_when_minutes_close_alike() -> None:
    """One batch per minute of event time or one event at a time: the newest closed minute moves
    at the same minute ends, so the network alerts are the same."""
    events = quiet_story()
    one_by_one = replay(events, FLOW, POLICY)
    by_minute: dict[int, list[Event]] = {}
    for event in events:
        by_minute.setdefault(event.occurred_at_ms // M, []).append(event)
    engine = Engine.offline(FLOW, POLICY)
    batched = []
    for minute in sorted(by_minute):
        batched += engine.process([message_of(e) for e in by_minute[minute]], None).alerts
    assert [a.to_wire() for a in batched if a.warehouse == "SH-02"] == [
        a.to_wire() for a in one_by_one if a.warehouse == "SH-02"
    ]


def test_with_the_clock_a_partition_still_being_read_is_not_called_silent() -> None:
    """The worker passes its sources and whether each is read to its end; SH-02's partition (1)
    is still behind (a restart reading its backlog), so its old newest event is no sign of
    silence: the network waits for that partition's watermark."""
    events = quiet_story()
    partition = {"BJ-01": 0, "SH-02": 1}
    start = T0 + 2 * 60 * M  # the processing clock: two hours after the story began, 1 s a record
    behind = Engine(FLOW, POLICY, MemoryStore(), max_future_ms=None)
    caught_up = Engine(FLOW, POLICY, MemoryStore(), max_future_ms=None)
    sources = [source_of(t, p) for t in INPUT_TOPICS for p in (0, 1)]
    at_end = dict.fromkeys(sources, True)
    reading = {**at_end, "orders/1": False}
    alerts_behind, alerts_caught_up = [], []
    for n, event in enumerate(events):
        clock = start + n * 1000
        record = [message_of(event, partition=partition[event.warehouse])]
        alerts_behind += behind.process(record, clock, ends=reading).alerts
        alerts_caught_up += caught_up.process(record, clock, ends=at_end).alerts
    assert [a for a in alerts_behind if a.kind == "warehouse_silent"] == []
    silent = [a for a in alerts_caught_up if a.kind == "warehouse_silent"]
    assert [(a.warehouse, a.updated_at_ms) for a in silent] == [("SH-02", T0 + 41 * M)]


def test_offline_and_with_the_clock_the_warehouse_alerts_agree() -> None:
    """The worker's clock only releases quiet topics earlier; on a stream where every topic
    keeps sending (the live tests' story: a site's nine days, then a working-hours stall), the
    warehouse alerts are those of the offline run, and the stall is among them."""
    end = T0 + 24 * 60 * M
    events = [e for e in scenario_events(warm_stall(end)) if not isinstance(e, Malformed)]
    policy = load_policy(STORY_ENV)
    offline = replay(events, FLOW, policy, batch=50)
    live = Engine(FLOW, policy, MemoryStore(), max_future_ms=None)
    clocked = []
    for i in range(0, len(events), 50):  # the clock: a second after the batch's newest event
        batch = events[i : i + 50]
        now = max(e.occurred_at_ms for e in batch) + 1000
        clocked += live.process([message_of(e) for e in batch], now).alerts
    assert ("dispatch_backpressure", "firing") in {(a.kind, a.state) for a in offline}
    # the same transitions; the clock may close the story's last minutes, which offline wait
    # for the quietest topic (refunds), so it may see more of the end

    def bare(alerts: list[Alert]) -> list[dict[str, object]]:
        return [dataclasses.replace(a, live=None).to_wire() for a in alerts]

    assert bare(clocked)[: len(offline)] == bare(offline)
    # the same alerts; only the clocked run (caught up, at its clock) is live
    assert all(a.live for a in clocked) and not any(a.live for a in offline)
    assert all(a.updated_at_ms > offline[-1].updated_at_ms for a in clocked[len(offline) :])


def test_a_minute_deletion_waits_until_the_head_that_no_longer_needs_it_is_written() -> None:
    """With confirmed_deletes (the worker) a flush's deletions of expired hours are written only
    once the caller says the flush that made them unneeded is in the changelogs (`durable`): a
    producer sends the heads and the minutes on their own, and a worker killed in between must not
    be left with the minutes deleted and a head from before that still needs them."""

    def deletions(p: Engine, first: int, last: int) -> list[list[bytes]]:
        """One order a minute, each batch flushed: the hour deletions of each flush."""
        out = []
        for minute in range(first, last):
            stamp = datetime.fromtimestamp(T0 / 1000 + minute * 60, UTC)
            value = orjson.dumps(
                {
                    "event_id": f"e{minute}",
                    "status": "placed",
                    "order_id": f"o{minute}",
                    "warehouse": "W1",
                    "occurred_at": stamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
                }
            )
            writes = p.process([msg(minute, value)], None).writes
            out.append([w.key for w in writes if w.table == MINUTES and w.value is None])
        return out

    config = dataclasses.replace(FlowConfig(), retention_ms=10 * 60_000)
    eager = Engine(config, Policy(), MemoryStore())
    confirmed = Engine(config, Policy(), MemoryStore(), confirmed_deletes=True)
    # an hour's record goes once the whole hour is below the retention floor
    assert any(deletions(eager, 0, 150))  # hours expire: deleted by the next flush
    assert not any(deletions(confirmed, 0, 150)) and confirmed.deletes_waiting()
    confirmed.durable(confirmed.flushes)
    later = deletions(confirmed, 150, 152)
    assert len(later[0]) == 2 and not later[1]  # those of every flush confirmed, at once
    assert not any(deletions(confirmed, 152, 200)) and confirmed.deletes_waiting()
    confirmed.durable()
    assert deletions(confirmed, 200, 201)[0]  # and of the flushes after, once confirmed
