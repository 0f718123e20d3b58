"""What survives a restart and a rebalance (network episodes with their ids, the learned
detector state), what leaves a worker at once on revocation, and which alerts are live."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pytest

from ordermon.agents.engine import NETWORK, Engine, MemoryStore, is_live, message_of
from ordermon.agents.logic.alerts import Episode
from ordermon.agents.logic.persist import episode_from_bytes
from ordermon.streams.events import Event
from ordermon.streams.outputs import Alert
from tests.unit.agents.test_detector import FLOW, POLICY, T0, M, interleave, orders, scenario

Key = tuple[str, str, str, str, str, int]


def key(alert: Alert) -> Key:
    return (
        alert.kind,
        alert.warehouse,
        alert.alert_id,
        alert.state,
        alert.severity,
        alert.updated_at_ms,
    )


def by_minute(events: Sequence[Event]) -> list[list[Event]]:
    batches: dict[int, list[Event]] = {}
    for event in events:
        batches.setdefault(event.occurred_at_ms // M, []).append(event)
    return [batches[m] for m in sorted(batches)]


def run(
    events: Sequence[Event],
    restart_at: set[int] = frozenset(),  # type: ignore[assignment]
    partition: dict[str, int] | None = None,
) -> tuple[list[Alert], MemoryStore]:
    """Batches of one minute of event time through an engine on a store that receives its
    writes; before each batch index in `restart_at` the engine is dropped and a new one starts
    on the same store (a restart: only what was written survives)."""
    store = MemoryStore()
    engine = Engine(FLOW, POLICY, store, max_future_ms=None)
    alerts: list[Alert] = []
    for n, batch in enumerate(by_minute(events)):
        if n in restart_at:
            engine = Engine(FLOW, POLICY, store, max_future_ms=None)
        parts = partition or {}
        records = [message_of(e, partition=parts.get(e.warehouse, 0)) for e in batch]
        out = engine.process(records, None)
        for write in out.writes:
            store.write(write)
        alerts += out.alerts
    return alerts, store


def silent_story() -> list[Event]:
    """BJ-01 sends 08:00-10:00; SH-02 sends 08:00-08:10, goes quiet (silent from 08:41), and
    comes back 09:30-10:00."""
    busy = scenario([(120, orders(10, 10))], "BJ-01")
    before = scenario([(10, orders(10, 10))], "SH-02")
    after = scenario([(30, orders(10, 10))], "SH-02", first=90)
    return interleave(busy, before + after)


def cascade_story() -> list[Event]:
    """Three warehouses whose dispatch falls behind for 20 minutes, then catches up: the network
    cascade fires and resolves."""
    return interleave(
        *(
            scenario([(10, orders(10, 10)), (20, orders(20, 10)), (30, orders(10, 40))], wh)
            for wh in ("A-1", "B-2", "C-3")
        )
    )


def test_a_silent_warehouse_keeps_its_episode_across_restarts() -> None:
    """The warehouse_silent episode is a record of its own: restarted while it fires (SH-02 sends
    nothing that would load it), the engine still knows it, keeps its id and resolves it."""
    whole, _ = run(silent_story())
    silent = [key(a) for a in whole if a.kind == "warehouse_silent"]
    assert silent[0][3] == "firing" and silent[-1][3] == "resolved", silent
    assert len({k[2] for k in silent}) == 1  # one episode, one id (a re-notify between)
    for restarts in ({50}, {45, 60, 89}, set(range(41, 100, 7))):
        restarted, _ = run(silent_story(), restarts)
        assert [key(a) for a in restarted] == [key(a) for a in whole], restarts


def test_a_warehouse_read_again_from_its_start_does_not_take_the_network_back() -> None:
    """Killed after the silent episode's record reached its changelog but before those of another
    partition did: the restarted engine reads that partition's warehouse (GZ-03) again from
    its start, so the network is evaluated again from 08:01. The episode (since 08:41, loaded
    from its record) must not be resolved as of 08:01 and fired anew: after the restart the
    same messages as without it (a CI run of test_network_recovery saw firing, resolved, firing)."""
    parts = {"BJ-01": 0, "SH-02": 0, "GZ-03": 1}
    events = interleave(silent_story(), scenario([(120, orders(10, 10))], "GZ-03"))
    cut = T0 + 60 * M

    def feed(engine: Engine, store: MemoryStore, batches: list[list[Event]], lost: int | None):
        alerts: list[Alert] = []
        for batch in batches:
            out = engine.process([message_of(e, partition=parts[e.warehouse]) for e in batch], None)
            for write in out.writes:
                if write.partition != lost:
                    store.write(write)
            alerts += out.alerts
        return alerts

    whole, _ = run(events, partition=parts)
    store = MemoryStore()
    before = [e for e in events if e.occurred_at_ms < cut]
    feed(Engine(FLOW, POLICY, store, max_future_ms=None), store, by_minute(before), lost=1)
    again = [e for e in before if parts[e.warehouse] == 1]  # its offsets were not committed
    rest = by_minute([e for e in events if e.occurred_at_ms >= cut])
    restarted = feed(Engine(FLOW, POLICY, store, max_future_ms=None), store, [again, *rest], None)
    expected = [key(a) for a in whole if a.updated_at_ms >= cut]
    assert [k[3] for k in expected if k[0] == "warehouse_silent"] == ["firing", "resolved"]
    assert [key(a) for a in restarted] == expected


def seeded_cascade() -> tuple[MemoryStore, list[Event], str]:
    """The first hour of the silent story on a store, with a network cascade firing since 08:20
    written with it (nothing in the story is in backpressure: the next evaluation resolves it).
    Returns the store, the rest of the story and the cascade's id."""
    events = silent_story()
    first = [e for e in events if e.occurred_at_ms < T0 + 60 * M]
    _, store = run(first)
    engine = Engine(FLOW, POLICY, store, max_future_ms=None)
    since = T0 + 20 * M
    episode = Episode("cascade", "*", "firing", since_ms=since, updated_ms=T0 + 59 * M)
    engine.firing()  # loads the network episodes
    engine.network.episodes["cascade:*"] = episode
    for write in engine.flush():
        store.write(write)
    assert store.tables[NETWORK][b"*@cascade"]
    rest = [e for e in events if e.occurred_at_ms >= T0 + 60 * M]
    return store, rest, episode.alert_id


def test_the_network_cascade_keeps_its_id_across_restarts() -> None:
    store, rest, cascade_id = seeded_cascade()
    restarted = Engine(FLOW, POLICY, store, max_future_ms=None)
    assert [a.alert_id for a in restarted.firing("*")] == [cascade_id]
    out: list[Alert] = []
    for batch in by_minute(rest):
        result = restarted.process([message_of(e) for e in batch], None)
        for write in result.writes:
            store.write(write)
        out += result.alerts
    assert [(a.alert_id, a.state) for a in out if a.warehouse == "*"] == [(cascade_id, "resolved")]
    assert b"*@cascade" not in store.tables[NETWORK]


def test_an_ended_episode_leaves_no_record() -> None:
    alerts, store = run(silent_story())
    assert alerts and store.tables[NETWORK] == {}
    _, firing_store = run(silent_story()[: len(silent_story()) // 2])
    episodes = [episode_from_bytes(raw) for raw in firing_store.tables[NETWORK].values()]
    assert [(e.kind, e.warehouse, e.phase) for e in episodes] == [
        ("warehouse_silent", "SH-02", "firing")
    ]


def test_revoked_warehouses_leave_at_once_and_their_alerts_go_on_at_the_new_owner() -> None:
    """SH-02 (partition 1) fires warehouse_silent on the worker holding both partitions; a
    rebalance gives partition 1 to another worker: the first no longer lists, reports or
    resolves it (nothing is written), the second goes on with the same episode."""
    events = silent_story()
    parts = {"BJ-01": 0, "SH-02": 1}
    half = [e for e in events if e.occurred_at_ms < T0 + 60 * M]
    _, store = run(half, partition=parts)
    old = Engine(FLOW, POLICY, store, max_future_ms=None)
    assert old.known() == {"BJ-01", "SH-02"}
    firing_id = [a.alert_id for a in old.firing() if a.kind == "warehouse_silent"]
    assert len(firing_id) == 1

    old.revoke()  # a rebalance begins: everything held is given up
    assert old.known() == set() and old.firing() == [] and old.snapshots() == []
    old.assign({0})
    assert old.known() == {"BJ-01"}
    assert [a for a in old.firing() if a.warehouse == "SH-02"] == []
    assert old.state("SH-02") is None and [s.warehouse for s in old.snapshots()] == ["BJ-01"]

    new = Engine(FLOW, POLICY, store, max_future_ms=None)
    new.assign({1})
    assert new.known() == {"SH-02"}
    assert [a.alert_id for a in new.firing()] == firing_id

    rest = by_minute([e for e in events if e.occurred_at_ms >= T0 + 60 * M])
    old_alerts: list[Alert] = []
    new_alerts: list[Alert] = []
    for batch in rest:
        for engine, alerts in ((old, old_alerts), (new, new_alerts)):
            mine = [e for e in batch if engine.holds(parts[e.warehouse])]
            out = engine.process([message_of(e, partition=parts[e.warehouse]) for e in mine], None)
            for write in out.writes:
                assert write.partition == parts[engine_wh(write.key)] or write.table == NETWORK
                store.write(write)
            alerts += out.alerts
    assert [a for a in old_alerts if a.warehouse == "SH-02"] == []  # not resolved by the old owner
    # the new owner carries the episode on exactly as a worker that never lost it
    moved_on = [key(a) for a in new_alerts if a.kind == "warehouse_silent"]
    whole, _ = run(events, partition=parts)
    expected = [
        key(a) for a in whole if a.kind == "warehouse_silent" and a.updated_at_ms >= T0 + 60 * M
    ]
    assert moved_on == expected and moved_on[-1][2:4] == (firing_id[0], "resolved")


def engine_wh(key: bytes) -> str:
    return key.split(b"@", 1)[0].decode()


def test_the_cascade_belongs_to_the_holder_of_partition_0() -> None:
    store, rest, cascade_id = seeded_cascade()
    holder = Engine(FLOW, POLICY, store, max_future_ms=None)
    holder.assign({0, 1})
    other = Engine(FLOW, POLICY, store, max_future_ms=None)
    other.assign({1, 2})
    assert [a.alert_id for a in holder.firing("*")] == [cascade_id]
    assert other.firing("*") == []
    # a record of a partition not held (a batch fetched before a rebalance took it away) is
    # left to the new owner, which reads it from the last committed offset: not counted here,
    # no state made up for it, nothing written over the new owner's records
    out = other.process([message_of(e, partition=0) for e in rest[:50]], None)
    assert not out.counted and not out.writes and not out.alerts and other.known() == set()


# ---- live ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("at_ms", "now_ms", "caught_up", "max_age_ms", "live"),
    [
        (1_000, None, True, 3_600_000, False),  # offline: never live
        (1_000, 1_000, True, 3_600_000, True),
        (1_000, 3_601_000, True, 3_600_000, True),  # exactly the age: still live
        (1_000, 3_601_001, True, 3_600_000, False),  # older: history
        (1_000, 2_000, False, 3_600_000, False),  # a partition still being read
        (5_000, 1_000, True, 0, True),  # ahead of the clock (skew within the future limit)
    ],
)
def test_is_live(
    at_ms: int, now_ms: int | None, caught_up: bool, max_age_ms: int, live: bool
) -> None:
    assert is_live(at_ms, now_ms, caught_up, max_age_ms) is live


def test_replayed_history_is_not_live_and_a_caught_up_clocked_run_is() -> None:
    events = interleave(silent_story(), cascade_story())
    history = Engine(FLOW, POLICY, MemoryStore(), max_future_ms=None)
    behind = Engine(FLOW, POLICY, MemoryStore(), max_future_ms=None)
    live = Engine(FLOW, POLICY, MemoryStore(), max_future_ms=None, live_max_age_ms=5 * M)
    got: dict[str, list[Alert]] = {"history": [], "behind": [], "live": []}
    for batch in by_minute(events):
        clock = max(e.occurred_at_ms for e in batch) + M  # a worker keeping up with the stream
        records = [message_of(e) for e in batch]
        got["history"] += history.process(records, clock + 86_400_000, caught_up={0}).alerts
        got["behind"] += behind.process(records, clock, caught_up=set()).alerts
        got["live"] += live.process(records, clock, caught_up={0}).alerts

    def bare(alerts: list[Alert]) -> list[Key]:
        return [key(dataclasses.replace(a, live=None)) for a in alerts]

    assert got["live"] and bare(got["history"]) == bare(got["live"])
    # the same alerts while behind (a partition still being read): only not live
    assert bare(got["behind"]) == bare(got["live"])
    assert all(a.live is True for a in got["live"])
    assert all(a.live is False for a in got["history"] + got["behind"])
    # what is firing now is live as of the clock it is asked with
    partial = Engine(FLOW, POLICY, MemoryStore(), max_future_ms=None, live_max_age_ms=5 * M)
    now = 0
    for batch in by_minute([e for e in silent_story() if e.occurred_at_ms < T0 + 60 * M]):
        now = max(e.occurred_at_ms for e in batch) + M
        partial.process([message_of(e) for e in batch], now, caught_up={0})
    assert [a.live for a in partial.firing(now_ms=now)] == [True]
    assert [a.live for a in partial.firing(now_ms=now + 86_400_000)] == [False]
    assert [a.live for a in partial.firing()] == [False]


# ---- the detectors' learned state ------------------------------------------------------------
def test_a_restart_keeps_what_the_detectors_learned() -> None:
    """Eight days of a realistic network (daily cycle, weekend): a worker restarted late on the
    last day restores each detector's state from its head record exactly (episodes, daily
    totals, and the learned rhythm: DetectorState version 2), and goes on with the same alerts
    and the same state as one that never stopped: no re-learning week."""
    from ordermon.devtools.catalogue import events as scenario_events
    from ordermon.devtools.scenarios import build

    story = scenario_events(build("steady", days=8, scale=0.2))
    events = [e for e in story if isinstance(e, Event)]
    cut = events[0].occurred_at_ms + round(7.6 * 86_400_000)
    hour = 3_600_000
    batches: dict[int, list[Event]] = {}
    for event in events:
        batches.setdefault(event.occurred_at_ms // hour, []).append(event)

    def go(engine: Engine, store: MemoryStore, hours: list[int]) -> list[Alert]:
        alerts: list[Alert] = []
        for h in hours:
            out = engine.process([message_of(e) for e in batches[h]], None)
            for write in out.writes:
                store.write(write)
            alerts += out.alerts
        return alerts

    before = [h for h in sorted(batches) if h * hour < cut]
    after = [h for h in sorted(batches) if h * hour >= cut]
    kept_store = MemoryStore()
    kept = Engine(FLOW, POLICY, kept_store, max_future_ms=None)
    go(kept, kept_store, before)
    store = MemoryStore()
    store.tables = {name: dict(table) for name, table in kept_store.tables.items()}
    restarted = Engine(FLOW, POLICY, store, max_future_ms=None)
    for warehouse in kept.known():
        assert restarted.state(warehouse) is not None
        learned = kept.detectors[warehouse].to_json()
        assert learned["days"], warehouse  # it has learned something to lose
        assert learned["rhythm"]["rows"] and learned["v"] == 2, warehouse  # its normal week
        assert restarted.detectors[warehouse].to_json() == learned, warehouse
    assert [key(a) for a in go(restarted, store, after)] == [
        key(a) for a in go(kept, kept_store, after)
    ]
    for warehouse in kept.known():
        assert restarted.detectors[warehouse].to_json() == kept.detectors[warehouse].to_json()
