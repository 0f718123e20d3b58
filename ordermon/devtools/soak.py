"""`python -m ordermon.devtools.soak --events 1000000`: the worker's memory over a long run.

Starts an embedded broker (127.0.0.1, a free port) and one `python -m ordermon worker`, publishes
N contract events as fast as the broker takes them (all four topics, keyed by warehouse, event
time advancing over `--days` and ending now, so minutes expire from the retention as in a long
live run), samples the worker's resident memory (VmRSS of /proc/<pid>/status) every second, and
prints RSS at every 100,000 events counted (`ordermon_events_total` summed on /metrics), and the
growth per million events between the first step and the end. Measures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import threading
import time
import urllib.error
import uuid
from collections.abc import Iterator
from pathlib import Path

from aiokafka import AIOKafkaProducer

from ordermon.devtools.bench import events_total, proc_mem_kb
from ordermon.devtools.broker import EmbeddedBroker, create_topics, free_port
from ordermon.devtools.realistic import traffic
from ordermon.devtools.worker import WorkerFailed, WorkerProcess

DAY_MS = 86_400_000


def rss_kib(pid: int) -> int | None:
    try:
        return proc_mem_kb(pid)["VmRSS"]
    except (OSError, KeyError):
        return None


def messages(
    n: int, warehouses: int, days: float, seed: int
) -> Iterator[tuple[str, bytes, bytes, int]]:
    """(topic, key, value, timestamp_ms) of n valid events of realistic traffic (the one traffic
    model: `ordermon.devtools.realistic.traffic`), event time advancing over `days` to now."""
    end = int(time.time() * 1000) - 60_000
    names = [f"SOAK-{i:04d}" for i in range(warehouses)]
    start = end - int(days * DAY_MS)
    for m in traffic(n, names, seed=seed, minutes=days * 1440, start_ms=start):
        yield m.topic, m.key, m.value, m.occurred_at_ms


async def publish(bootstrap: str, prefix: str, args: argparse.Namespace) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=False,
        linger_ms=20,
        max_batch_size=512 * 1024,
    )
    await producer.start()
    try:
        pending = []
        for topic, key, value, ts in messages(args.events, args.warehouses, args.days, args.seed):
            pending.append(await producer.send(prefix + topic, value, key=key, timestamp_ms=ts))
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


def report(
    args: argparse.Namespace,
    samples: list[tuple[float, int, int]],
    steps: dict[int, int],
    start_rss: int,
) -> None:
    """The summary: throughput end to end, RSS at the start, the first step, the end and the
    peak, and the growth per million events (over the whole run and its second half)."""
    end_rss = samples[-1][2]
    peak = max(s[2] for s in samples)
    seconds = next(s[0] for s in samples if s[1] >= args.events)
    first = steps.get(args.step, end_rss)
    span = (args.events - args.step) / 1_000_000
    growth = (end_rss - first) / span if span > 0 else 0.0
    print(
        f"counted {args.events:,} events in {seconds:.0f} s "
        f"({args.events / max(seconds, 1e-9):,.0f} events/s end to end)"
    )
    print(
        f"RSS: {start_rss / 1024:.1f} MiB at start, {first / 1024:.1f} MiB at "
        f"{args.step:,} events, {end_rss / 1024:.1f} MiB at the end, peak {peak / 1024:.1f} MiB"
    )
    print(f"growth per million events (from {args.step:,} to the end): {growth / 1024:.1f} MiB")
    half = max((k for k in steps if k <= args.events // 2), default=None)
    if half is not None and args.events > half:
        late_growth = (end_rss - steps[half]) / ((args.events - half) / 1_000_000)
        print(
            f"growth per million events over the second half (from {half:,}): "
            f"{late_growth / 1024:.1f} MiB"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--warehouses", type=int, default=50)
    parser.add_argument("--days", type=float, default=1.0, help="event-time span of the stream")
    parser.add_argument("--step", type=int, default=100_000, help="print RSS every this many")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=3600.0, help="give up after (s)")
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="ordermon-soak-"))
    tag = uuid.uuid4().hex[:8]
    prefix = f"soak{tag}."
    broker = EmbeddedBroker(free_port(), log_path=tmp / "broker.log").start()
    worker: WorkerProcess | None = None
    try:
        asyncio.run(create_topics(broker.bootstrap, prefix))
        worker = WorkerProcess(
            {
                **os.environ,
                "ORDERMON_KAFKA": broker.bootstrap,
                "ORDERMON_TOPIC_PREFIX": prefix,
                "ORDERMON_APP_ID": f"ordermon-soak-{tag}",
                "ORDERMON_DATA_DIR": str(tmp / "data"),
                "ORDERMON_LOG_LEVEL": "warning",
            },
            tmp / "worker.log",
        ).start()
        try:
            worker.wait_ready(120)
        except WorkerFailed as exc:
            print(exc, file=sys.stderr)
            return 1
        start_rss = rss_kib(worker.pid) or 0
        print(f"worker ready: pid {worker.pid}, RSS {start_rss / 1024:.1f} MiB before any event")
        print(f"publishing {args.events:,} events over {args.days:g} days of event time, ")
        print(f"{args.warehouses} warehouses; RSS sampled every second")
        errors: list[BaseException] = []

        def run_publisher() -> None:
            try:
                asyncio.run(publish(broker.bootstrap, prefix, args))
            except BaseException as exc:
                errors.append(exc)

        publisher = threading.Thread(target=run_publisher, daemon=True)
        began = time.monotonic()
        publisher.start()
        samples: list[tuple[float, int, int]] = []  # (seconds, events counted, RSS KiB)
        steps: dict[int, int] = {}
        next_step = args.step
        print(f"{'events':>10} {'RSS MiB':>9} {'peak MiB':>9} {'seconds':>8}")
        while True:
            time.sleep(1.0)
            if not worker.alive():
                print(f"the worker exited:\n{worker.log_tail()}", file=sys.stderr)
                return 1
            rss = rss_kib(worker.pid)
            try:
                n = int(events_total(worker.port))
            except (urllib.error.URLError, OSError):
                continue
            if rss is None:
                continue
            samples.append((time.monotonic() - began, n, rss))
            peak = max(s[2] for s in samples)
            while n >= next_step:
                steps[next_step] = rss
                print(
                    f"{next_step:>10,} {rss / 1024:>9.1f} {peak / 1024:>9.1f} "
                    f"{samples[-1][0]:>8.0f}"
                )
                next_step += args.step
            if n >= args.events:
                break
            if errors:
                print(f"publishing failed: {errors[0]!r}", file=sys.stderr)
                return 1
            if time.monotonic() - began > args.timeout:
                print(f"gave up after {args.timeout:.0f} s at {n:,} events", file=sys.stderr)
                return 1
        publisher.join(60)
        # settle: a few more samples once everything is counted
        for _ in range(5):
            time.sleep(1.0)
            rss = rss_kib(worker.pid)
            if rss is not None:
                samples.append((time.monotonic() - began, args.events, rss))
        report(args, samples, steps, start_rss)
        return 0
    finally:
        if worker is not None:
            worker.stop()
        broker.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
