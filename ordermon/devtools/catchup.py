"""`python -m ordermon.devtools.catchup`: how fast a worker catches up through days of history.

Days of realistic traffic (`ordermon.devtools.realistic.traffic`: shifts, pickups, sparse
complaints and refunds) of N warehouses, ending a minute ago, are published to an embedded broker
(127.0.0.1) before a fresh worker starts; the worker then reads them from the start. Reported:
events/s counted (steady state, 10-90% of the events, from its /metrics), seconds from ready to
the last event counted, the worker's CPU per event, its late events (must be 0), and the same
events through the offline replay (`ordermon backtest`'s engine) for comparison. Measures;
asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from ordermon.backtest import Record, replay
from ordermon.devtools.bench import bench_worker, machine, measure_worker, publish, warehouse_ids
from ordermon.devtools.broker import EmbeddedBroker, create_topics, free_port
from ordermon.devtools.realistic import traffic

MINUTE_MS = 60_000


def history(events: int, warehouses: int, days: float) -> list[tuple[str, bytes, bytes, int]]:
    """(topic, key, value, occurred_at) of about `days` of traffic ending a minute ago (the
    traffic model spreads its events over 85-90% of the minutes it is given)."""
    minutes = days * 1440 / 0.875
    start = int(time.time() * 1000) - round(minutes) * MINUTE_MS - MINUTE_MS
    start -= start % MINUTE_MS
    return [
        (m.topic, m.key, m.value, m.occurred_at_ms)
        for m in traffic(events, warehouse_ids(warehouses), minutes=minutes, start_ms=start)
    ]


def late_total(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("ordermon_late_events_total{")
    )


def offline_speed(messages: list[tuple[str, bytes, bytes, int]]) -> dict[str, Any]:
    started = time.process_time()
    result = replay(Record(topic, key, value) for topic, key, value, _ in messages)
    seconds = time.process_time() - started
    return {
        "events_per_cpu_s": round(len(messages) / seconds),
        "transitions": len(result.transitions),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="ordermon-catchup-"))
    result: dict[str, Any] = {"machine": machine(), "args": vars(args)}
    try:
        messages = history(args.events, args.warehouses, args.days)
        span = (messages[-1][3] - messages[0][3]) / 86_400_000
        result["events"], result["event_time_days"] = len(messages), round(span, 2)
        print(f"[catchup] {len(messages):,} events over {span:.2f} days", flush=True)
        if args.offline:
            result["offline"] = offline_speed(messages)
            print(f"[catchup] offline {result['offline']}", flush=True)
        with EmbeddedBroker(free_port(), log_path=tmp / "broker.log") as broker:
            prefix = f"cu{uuid.uuid4().hex[:6]}."
            await create_topics(broker.bootstrap, prefix, args.partitions)
            sent, _size, pub_s = await publish(broker.bootstrap, prefix, iter(messages))
            print(f"[catchup] published {sent:,} in {pub_s:.1f} s", flush=True)
            worker = bench_worker(
                broker.bootstrap, prefix, tmp, {"ORDERMON_PARTITIONS": str(args.partitions)}
            )
            try:
                await asyncio.to_thread(worker.wait_ready)
                ready = time.monotonic()
                measured = await asyncio.to_thread(
                    measure_worker, worker, sent, max(300.0, sent / 500)
                )
                measured["seconds_to_last_event"] = round(time.monotonic() - ready, 1)
                measured["late_events"] = late_total(worker.port)
                result["worker"] = measured
            finally:
                worker.stop()
        print(f"[catchup] worker {result['worker']}", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m ordermon.devtools.catchup", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--warehouses", type=int, default=100)
    parser.add_argument("--days", type=float, default=3.0)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--offline", action="store_true", help="also time the offline replay")
    parser.add_argument("--out", default="bench-results/catchup.json")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"[catchup] written to {out}")


if __name__ == "__main__":
    main()
