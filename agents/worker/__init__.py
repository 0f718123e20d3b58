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
from ordermon.agents.worker.ingest import register_ingest
from ordermon.agents.worker.tables import TableStore, register_tables
from ordermon.agents.worker.topics import Topics, register_topics
from ordermon.agents.worker.views import Views, register_views

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
    for sink in deps.started_sinks:
        register_started_sink(app, deps, sink)
    return Worker(app, topics, store, agent, views)


def register_started_sink(app: Any, deps: Deps, sink: StartedSink) -> None:
    """Start `sink` once the worker runs, add it to the fan-out, and, once the tables are
    recovered, hand it what is still firing (after a restart Alertmanager must hear again about
    it, or its endsAt lapses until the next re-notify); close it at shutdown."""

    async def start_sink() -> None:
        sink.start()
        deps.alerts.add(sink)
        recovery = getattr(app.tables, "recovery", None)
        deadline = time.monotonic() + RECOVERY_WAIT_S
        while recovery is not None and not recovery.completed.is_set():
            if time.monotonic() > deadline:
                return
            await asyncio.sleep(0.5)
        for alert in deps.engine.firing():
            await sink.send(alert)

    async def close_sink(sender: Any, **kwargs: Any) -> None:
        await sink.close()

    start_sink.__name__ = f"start_{sink.name}_sink"
    app.task(start_sink)
    app.on_before_shutdown.connect(close_sink)
