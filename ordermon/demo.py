"""`ordermon demo`: the embedded broker, one worker and the jd2008 scenario, with a live view.

Everything runs on 127.0.0.1 on free ports, in a temporary directory, and is cleaned up at the
end."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ordermon.devtools.broker import EmbeddedBroker, free_port
from ordermon.devtools.worker import WorkerFailed, WorkerProcess, get_json
from ordermon.liveview import render

DEFAULT_DAYS = 60.0
DEFAULT_SPEED = 86_400 / 1.2  # one simulated day every 1.2 s


def print_summary(base: str, last: list[dict[str, Any]], sent: int) -> None:
    """The final view, the counts and the alerts still firing."""
    alerts: list[dict[str, Any]] = []
    with contextlib.suppress(OSError, ValueError):
        alerts = get_json(base + "/alerts")
    print("\n" + render(last, "final state"))
    counted = sum(sum(s.get("totals", {}).values()) for s in last)
    print(
        f"\nsummary: {sent:,} events sent over {len(last)} warehouses, "
        f"{counted:,} counted; {len(alerts)} alerts firing at the end"
    )
    if counted < sent:
        print(
            f"note: the demo's time (--duration) ran out with {sent - counted:,} events not yet"
            " counted: the worker was still catching up (none is lost: they stay in the topics)"
        )
    for a in alerts:
        print(f"  {a['severity']:<8} {a['kind']:<22} {a['warehouse']:<8} {a['summary']}")


def run_demo(duration: float = 600.0, days: float | None = None, speed: float | None = None) -> int:
    from ordermon.devtools.scenarios import build
    from ordermon.devtools.simulate import SimStats, run
    from ordermon.streams.publisher import Publisher

    started = time.monotonic()
    deadline = started + duration
    tty = sys.stdout.isatty()
    workdir = Path(tempfile.mkdtemp(prefix="ordermon-demo-"))
    broker = EmbeddedBroker(free_port(), log_path=workdir / "broker.log")
    env = {
        **os.environ,
        "ORDERMON_KAFKA": broker.bootstrap,
        "ORDERMON_WEB_HOST": "127.0.0.1",
        "ORDERMON_DATA_DIR": str(workdir / "data"),
        "ORDERMON_SESSION_TIMEOUT_SECONDS": "6",
        # a simulated day passes every 1.2 s: a topic that has not started yet (refunds begin
        # after a few days) may hold the view back only briefly
        "ORDERMON_IDLE_AFTER_SECONDS": "2",
        "ORDERMON_LOG_LEVEL": "warning",
    }
    worker = WorkerProcess(env, workdir / "worker.log")
    base = worker.url
    scenario = build("jd2008", days=days or DEFAULT_DAYS)
    print(f"ordermon demo: {scenario.description}")
    print(f"  broker 127.0.0.1:{broker.port}, worker {base}, logs in {workdir}")
    broker.start()
    # The worker runs in a session of its own: Ctrl-C reaches only the demo, which stops it.
    worker.start(new_session=True)
    stats = SimStats()
    code = 0
    last: list[dict[str, Any]] = []
    interrupted = {"now": False}

    def on_interrupt(*_: object) -> None:
        interrupted["now"] = True

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        try:
            worker.wait_ready(timeout=max(1.0, min(deadline - time.monotonic(), 90.0)))
        except WorkerFailed:
            print(f"the worker did not become ready; see {workdir / 'worker.log'}")
            return 1

        async def simulate() -> None:
            async with Publisher(broker.bootstrap) as pub:
                await run(scenario, pub, speed=speed or DEFAULT_SPEED, stats=stats)

        async def main() -> None:
            nonlocal last
            task = asyncio.create_task(simulate())
            shown = 0.0
            while time.monotonic() < deadline and not interrupted["now"]:
                await asyncio.sleep(1.0)
                with contextlib.suppress(OSError, ValueError):
                    last = await asyncio.to_thread(get_json, base + "/warehouses")
                counted = sum(sum(s.get("totals", {}).values()) for s in last)
                title = (
                    f"ordermon demo — jd2008 — sent {stats.total:,} events, counted {counted:,}"
                    f" — {time.monotonic() - started:5.0f}s"
                )
                if tty:
                    print("\x1b[2J\x1b[H" + render(last, title), flush=True)
                elif time.monotonic() - shown >= 10:
                    print(render(last, title) + "\n", flush=True)
                    shown = time.monotonic()
                if task.done() and counted >= sum(stats.sent.values()):
                    break
                if not worker.alive():
                    raise RuntimeError(f"the worker exited; see {workdir / 'worker.log'}")
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            elif task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

        asyncio.run(main())
        if interrupted["now"]:
            print("\ninterrupted")
            return 130
        print_summary(base, last, stats.total)
    except (RuntimeError, OSError) as exc:
        if interrupted["now"]:
            print("\ninterrupted")
            return 130
        print(f"demo failed: {exc}")
        code = 1
    finally:
        signal.signal(signal.SIGINT, previous)
        worker.stop()
        broker.stop()
    return code
