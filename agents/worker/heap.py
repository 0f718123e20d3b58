"""The garbage collector of a worker whose heap is mostly long-lived state.

A worker holds every warehouse's minutes, rhythm and detector state for the retention: hundreds of
thousands of objects that live for hours. CPython's cyclic collector scans all of them at every
full (oldest-generation) collection, which it runs whenever the objects promoted since the last
one reach a quarter of those that survived it: while a catch-up fills the retention, several
times a minute. Measured in `make bench` (the latency phase, 30 warehouses after eight days of
history): 30 full collections in three minutes, up to 412 ms each, every one of them a pause of
the event loop and of every alert waiting behind it.

So the collector's own full collections are turned off (its third threshold set out of reach:
the young generations are still collected as usual), and at every tick, after a collection of
the young generations that frees their cyclic garbage first, what survived is frozen
(`gc.freeze`: left out of every collection, still freed as usual when nothing refers to it). What
may be left, a cycle of objects frozen while alive that became garbage later, is collected by an
unfrozen full collection every `full_every_s` (15 minutes by default): one pause of the former
kind per interval instead of several a minute."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

FULL_EVERY_S: Final = 900.0
NEVER: Final = 1 << 30  # gen1 collections before the collector would start a full one


@dataclass
class HeapKeeper:
    """`step()` at every tick of the worker; `clock` and `collector` are injectable for tests."""

    full_every_s: float = FULL_EVERY_S
    clock: Callable[[], float] = time.monotonic
    collector: Any = gc
    _full_at: float | None = field(default=None, init=False)

    def step(self) -> str:
        """Freeze what survived the young generations' collection; every `full_every_s`, first
        unfreeze everything and collect it all. The first step turns the collector's own full
        collections off. Returns what it did ("full" or "freeze")."""
        now = self.clock()
        gc_ = self.collector
        if self._full_at is None:
            self._full_at = now
            young, middle, _old = gc_.get_threshold()
            gc_.set_threshold(young, middle, NEVER)
        if now - self._full_at >= self.full_every_s:
            self._full_at = now
            gc_.unfreeze()
            gc_.collect()
            gc_.freeze()
            return "full"
        gc_.collect(1)
        gc_.freeze()
        return "freeze"
