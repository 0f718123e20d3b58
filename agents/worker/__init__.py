"""The Faust layer: the only code that touches Faust (and its private names, each pinned by
tests/unit/worker/test_faust_pins.py). On an app made by `create_app`, the composition root
(ordermon.app) calls `register_topics` and `register_tables`, builds the engine on that table
store, then `register(app, deps, topics, store)` adds the ingest agent, its timer and rebalance
hooks, the monitor, the alert sinks' start-up and the HTTP views. Nothing happens at import
time."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from ordermon.agents.worker.app import App, create_app
from ordermon.agents.worker.deps import Deps, StartedSink, WorkerConfig
from ordermon.agents.worker.heap import HeapKeeper
from ordermon.agents.worker.ingest import register_ingest
from ordermon.agents.worker.tables import TableStore, register_tables
from ordermon.agents.worker.topics import Topics, register_topics
from ordermon.agents.worker.views import Views, register_views
from ordermon.streams.outputs import NETWORK_KEY

__all__ = [
    "App",
    "Deps",
    "TableStore",
    "Worker",
    "WorkerConfig",
    "create_app",
    "register",
    "register_tables",
    "register_topics",
]

RECOVERY_WAIT_S = 600.0


@dataclass(frozen=True, slots=True)
class Worker:
    """What `register` put on the app."""

    app: Any
    topics: Topics
    store: TableStore
    agent: Any
    views: Views


def register(app: Any, deps: Deps, topics: Topics, store: TableStore) -> Worker:
    """Wire the worker onto `app`: `topics` and `store` come from `register_topics` and
    `register_tables` (the engine in `deps` is built on that store)."""
    if deps.monitor is not None:
        app.monitor = deps.monitor  # Faust adds it to its sensors when the worker starts
    agent = register_ingest(app, deps, topics, store)
    views = register_views(app, deps)
    register_heap_keeper(app, deps.config.tick_seconds)
    for sink in deps.started_sinks:
        register_started_sink(app, deps, sink)
    return Worker(app, topics, store, agent, views)


def register_heap_keeper(app: Any, interval_s: float, keeper: HeapKeeper | None = None) -> None:
    """Keep the collector's full collections short (agents.worker.heap) at every tick."""
    heap = keeper or HeapKeeper()

    async def keep_heap() -> None:
        heap.step()

    app.timer(interval=interval_s)(keep_heap)


def register_started_sink(app: Any, deps: Deps, sink: StartedSink) -> None:
    """Start `sink` once the worker runs, add it to the fan-out, and, once the tables are
    recovered, offer it what is firing (after a restart Alertmanager must hear again about it,
    or its endsAt lapses until the next re-notify); close it at shutdown.

    After each rebalance the sink forgets (without resolving) the alerts of warehouses this
    worker no longer holds, which their new owner sends on, and is offered those it holds now (a
    warehouse that moved here keeps firing in Alertmanager under the same labels). At every tick
    it is offered the firing alerts again: one that fired while the worker was catching up (not
    live then) pages once it is live."""

    started = asyncio.Event()

    async def start_sink() -> None:
        sink.start()
        deps.alerts.add(sink)
        started.set()
        recovery = getattr(app.tables, "recovery", None)
        deadline = time.monotonic() + RECOVERY_WAIT_S
        while recovery is not None and not recovery.completed.is_set():
            if time.monotonic() > deadline:
                return
            await asyncio.sleep(0.5)
        await hand_over()

    async def hand_over() -> None:
        firing = deps.engine.firing(now_ms=int(time.time() * 1000))
        held = deps.engine.known() | ({NETWORK_KEY} if deps.engine.holds(0) else set())
        sink.retain(held.__contains__)
        sink.offer(firing)

    async def offer() -> None:
        if started.is_set() and not app.rebalancing:
            sink.offer(deps.engine.firing(now_ms=int(time.time() * 1000)))

    async def on_rebalance_complete(sender: Any, **kwargs: Any) -> None:
        if started.is_set():  # the first recovery: start_sink hands over
            await hand_over()

    async def close_sink(sender: Any, **kwargs: Any) -> None:
        await sink.close()

    start_sink.__name__ = f"start_{sink.name}_sink"
    app.task(start_sink)
    app.on_rebalance_complete.connect(on_rebalance_complete)
    app.on_before_shutdown.connect(close_sink)
    offer.__name__ = f"offer_{sink.name}_sink"
    app.timer(interval=deps.config.tick_seconds)(offer)
