"""The worker's collector policy (agents.worker.heap): long-lived objects frozen at every tick
after the young generations are collected, everything unfrozen and collected every interval."""

from __future__ import annotations

import gc
import weakref

from ordermon.agents.worker.heap import NEVER, HeapKeeper


class Recorder:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def collect(self, generation: int = 2) -> int:
        self.calls.append(f"collect({generation})")
        return 0

    def freeze(self) -> None:
        self.calls.append("freeze")

    def unfreeze(self) -> None:
        self.calls.append("unfreeze")

    def get_threshold(self) -> tuple[int, int, int]:
        return (700, 10, 10)

    def set_threshold(self, *thresholds: int) -> None:
        self.calls.append(f"set_threshold{thresholds}")


def test_each_tick_freezes_after_a_young_collection_and_every_interval_collects_everything() -> (
    None
):
    now = [0.0]
    gc_ = Recorder()
    keeper = HeapKeeper(full_every_s=60.0, clock=lambda: now[0], collector=gc_)
    done = []
    for t in (0.0, 5.0, 59.0, 60.0, 65.0, 119.0, 121.0):
        now[0] = t
        done.append(keeper.step())
    assert done == ["freeze", "freeze", "freeze", "full", "freeze", "freeze", "full"]
    assert gc_.calls[:3] == [f"set_threshold{(700, 10, NEVER)}", "collect(1)", "freeze"]
    assert gc_.calls[7:10] == ["unfreeze", "collect(2)", "freeze"]


class Node:
    def __init__(self) -> None:
        self.me = self


def test_cyclic_garbage_is_collected_before_the_freeze_and_frozen_objects_by_the_full_one() -> None:
    """With the real collector: cyclic garbage made before a tick is freed, not frozen (it
    would live until the next full collection); a cycle frozen while alive that became garbage
    afterwards is freed by the full collection."""
    gc.unfreeze()
    thresholds = gc.get_threshold()
    try:
        keeper = HeapKeeper(full_every_s=3600.0)
        dead = Node()
        gone = weakref.ref(dead)
        del dead
        alive = Node()
        later = weakref.ref(alive)
        assert keeper.step() == "freeze"
        assert gone() is None
        assert gc.get_freeze_count() > 0
        del alive
        gc.collect()
        assert later() is not None  # frozen: left out of every collection
        keeper.full_every_s = 0.0
        assert keeper.step() == "full"
        assert later() is None
        assert gc.get_threshold()[2] == NEVER
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
