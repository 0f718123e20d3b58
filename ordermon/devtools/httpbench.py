"""The HTTP benchmark: how fast a worker answers `GET /warehouses` with many warehouses.

One run starts an embedded broker, publishes traffic for `--warehouses` warehouses (30 minutes of
event time, all four topics), starts one worker, waits until it holds every warehouse, then sends
`--requests` requests to `/warehouses`, `--concurrency` at a time, with a fresh stream of events
arriving meanwhile (so the answer keeps changing), and prints the latency percentiles per request
(client side, whole answer read). Results go to bench-results/http.json.

    .venv/bin/python -m ordermon.devtools.httpbench  [--warehouses 1000 --requests 2000 ...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp

from ordermon.devtools.bench import (
    bench_worker,
    events_total,
    generate,
    percentile,
    publish,
)
from ordermon.devtools.broker import EmbeddedBroker, create_topics, free_port
from ordermon.devtools.worker import WorkerProcess, get_json

MINUTE_MS = 60_000


async def _load(url: str, requests: int, concurrency: int) -> list[tuple[float, float]]:
    """(start, latency) of each request, seconds since the first; every answer must be a 200
    with a JSON list."""
    latencies: list[tuple[float, float]] = []
    origin = time.perf_counter()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(requests):
        queue.put_nowait(i)
    timeout = aiohttp.ClientTimeout(total=60)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:

        async def client() -> None:
            while not queue.empty():
                queue.get_nowait()
                started = time.perf_counter()
                async with session.get(url) as answer:
                    body = await answer.read()
                    if answer.status != 200 or not body.startswith(b"["):
                        raise RuntimeError(f"{url}: {answer.status} {body[:200]!r}")
                latencies.append((started - origin, time.perf_counter() - started))

        await asyncio.gather(*(client() for _ in range(concurrency)))
    return latencies


def _wait_for_warehouses(worker: WorkerProcess, n: int, events: int, timeout: float) -> float:
    """Until the worker has counted every event published so far and holds `n` warehouses."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if not worker.alive():
            raise RuntimeError(f"worker exited: {worker.log_tail()}")
        try:
            if events_total(worker.port) >= events and (
                len(get_json(worker.url + "/warehouses?scope=local", timeout=30)) >= n
            ):
                return time.monotonic() - started
        except (OSError, ValueError):
            pass
        time.sleep(1.0)
    raise RuntimeError(f"the worker did not hold {n} warehouses within {timeout:.0f} s")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    now = int(time.time() * 1000)
    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker(free_port()) as broker:
        prefix = f"h{uuid.uuid4().hex[:6]}."
        await create_topics(broker.bootstrap, prefix, 4)
        first = generate(args.events, args.warehouses, 30, now - 5 * MINUTE_MS, seed=1)
        await publish(broker.bootstrap, prefix, first)
        worker = bench_worker(
            broker.bootstrap, prefix, Path(tmp), {"ORDERMON_WEB_PORT": str(free_port())}
        )
        try:
            worker.wait_ready(120)
            filled_s = _wait_for_warehouses(worker, args.warehouses, args.events, 300)
            # events keep arriving while the clients poll: the answer changes under them
            more = generate(args.feed, args.warehouses, 4, now, seed=2)
            feeding = asyncio.ensure_future(publish(broker.bootstrap, prefix, more))
            started = time.perf_counter()
            latencies = await _load(worker.url + "/warehouses", args.requests, args.concurrency)
            wall = time.perf_counter() - started
            await feeding
        finally:
            worker.stop()
    ms = sorted(v * 1000 for _at, v in latencies)
    # the first wave also opens the clients' connections: shown apart
    later = sorted(v * 1000 for _at, v in sorted(latencies)[args.concurrency :])
    slowest = sorted(latencies, key=lambda x: -x[1])[:5]
    return {
        "warehouses": args.warehouses,
        "requests": len(ms),
        "concurrency": args.concurrency,
        "seconds_to_count_everything_before": round(filled_s, 1),
        "requests_per_second": round(len(ms) / wall, 1),
        "p50_ms": round(percentile(ms, 50), 1),
        "p90_ms": round(percentile(ms, 90), 1),
        "p99_ms": round(percentile(ms, 99), 1),
        "max_ms": round(ms[-1], 1),
        "p99_ms_after_the_first_wave": round(percentile(later, 99), 1),
        "slowest (s into the run, ms)": [(round(a, 2), round(v * 1000)) for a, v in slowest],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warehouses", type=int, default=1000)
    parser.add_argument("--events", type=int, default=60_000, help="events before the load")
    parser.add_argument(
        "--feed", type=int, default=0, help="events published (at once) while the clients poll"
    )
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--out", default="bench-results/http.json")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args))
    for key, value in result.items():
        print(f"{key:<34} {value}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
