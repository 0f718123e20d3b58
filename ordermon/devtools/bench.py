"""`python -m ordermon.devtools.bench` (`make bench`): ordermon against the raw-consumer ceiling.

First the engine alone (`Engine.process` over the same kind of events, no Kafka: CPU µs per event),
then one run, one embedded broker (127.0.0.1, a free port), fresh topics under a prefix per phase:

1. **ceiling**: N contract events of the one traffic model (`realistic.traffic`: ~160 bytes, all
   four topics, keyed by warehouse, event time advancing, topics up to a minute apart) read back
   by a bare aiokafka consumer (getmany + orjson.loads + a dict count);
2. **worker**: the same topics read by one `python -m ordermon worker` process from the start;
   events/s from its `/metrics` (`ordermon_events_total` summed) in steady state (between 10% and
   90% of the events), worker CPU per event and RSS (peak, and growth per million events);
3. **cost**: CPU µs per event of the worker with 10, 100 and 1,000 warehouses, and without what
   it spent serving this benchmark's probe of its /metrics page every 0.5 s (`measure_worker`);
4. **latency**: the warehouses' learned week first (`latency_story`: eight days of quiet history
   published at once and counted before the clock starts, since a stall is judged against the
   site's normal outflow at that hour of the week), then, at half the measured worker throughput,
   a paced stream of the same model in which warehouse after warehouse stops dispatching until
   `dispatch_backpressure` fires; the latency of one alert is
   from the send of the event that closes the minute it fired at (the minute's end is the alert's
   `updated_at`) to its arrival on `<prefix>ordermon.alerts`.

5. **scale** (issue 13): `--scale-events` (1.5 M) of the same model at `--scale-warehouses` (1,000)
   over `--scale-days` (1) of event time, published first and then counted by a new worker: the
   catch-up's events/s, CPU per event and RSS peak; then that worker is stopped and started again
   on its group and data directory, and its recovery timed (until /readyz, until /warehouses
   lists every warehouse).

6. **quiet sites** (issue 13): `--quiet-events` (150,000) over the same warehouses and day, an
   event per site every ten minutes, so that at any minute some of them have been quiet for half
   an hour (a national network at night, its small depots): the catch-up's events/s and CPU per
   warehouse-minute. Every site is evaluated at every closed minute, events or not, and the
   quiet ones are judged against the network's pace (`warehouse_silent`); the scale run above,
   every site busy every minute, never shows what that costs.

Prints a table and writes the JSON (`--out`). Measures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import json
import os
import platform
import shutil
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import murmur2

from ordermon.agents.engine import Engine, MemoryStore, Message
from ordermon.agents.logic.flow import FlowConfig
from ordermon.agents.logic.policy import DAY_MS, Policy
from ordermon.agents.logic.windows import MINUTE_MS, minute_start
from ordermon.devtools.broker import EmbeddedBroker, create_topics, free_port
from ordermon.devtools.operations import Scenario, Site
from ordermon.devtools.realistic import EVENTS_PER_ORDER, load_site, traffic
from ordermon.devtools.worker import WorkerProcess, get_json
from ordermon.streams.flows import INPUT_TOPICS
from ordermon.streams.timefmt import parse_rfc3339_ms
from ordermon.streams.topics import ALERTS

ROOT = Path(__file__).resolve().parents[2]
CLK_TCK = os.sysconf("SC_CLK_TCK")


def warehouse_ids(n: int) -> list[str]:
    return [f"WH-{i:04d}" for i in range(n)]


def generate(
    n_events: int, warehouses: int, span_minutes: int, end_ms: int, seed: int = 1
) -> Iterator[tuple[str, bytes, bytes, int]]:
    """(topic, key, value, occurred_at_ms) of `n_events` of the one traffic model's load
    configuration (`realistic.traffic`: every flow, teams serving in order at capacity, topics up
    to a minute apart), in arrival order over most of the `span_minutes` that end at `end_ms`."""
    start = end_ms - span_minutes * MINUTE_MS
    names = warehouse_ids(warehouses)
    for m in traffic(n_events, names, seed=seed, minutes=span_minutes, start_ms=start):
        yield m.topic, m.key, m.value, m.occurred_at_ms


async def publish(
    bootstrap: str, prefix: str, events: Iterator[tuple[str, bytes, bytes, int]]
) -> tuple[int, int, float]:
    """Send everything as fast as the producer goes; (events, bytes, seconds)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks=1,
        linger_ms=20,
        max_batch_size=512 * 1024,
        enable_idempotence=False,
    )
    await producer.start()
    count = size = 0
    started = time.perf_counter()
    try:
        pending = []
        for topic, key, value, at in events:
            pending.append(await producer.send(f"{prefix}{topic}", value, key=key, timestamp_ms=at))
            count += 1
            size += len(value)
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return count, size, time.perf_counter() - started


# ---- 1. the raw ceiling ------------------------------------------------------------------------


async def raw_ceiling(
    bootstrap: str, prefix: str, partitions: int, expected: int, warmup: float = 0.1
) -> dict[str, Any]:
    """A bare consumer of all input partitions: getmany, orjson.loads, count per (warehouse,
    status). Events/s in steady state: the first `warmup` share of the events is left out."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        group_id=None,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    try:
        tps = [TopicPartition(f"{prefix}{t}", p) for t in INPUT_TOPICS for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        counts: dict[tuple[str, str], int] = {}
        seen = 0
        first: float | None = None
        mark: tuple[float, int] | None = None
        loads = orjson.loads
        started = time.perf_counter()
        deadline = time.monotonic() + 300
        while seen < expected and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
            for records in batch.values():
                for record in records:
                    obj = loads(record.value)  # type: ignore[arg-type]
                    k = (obj["warehouse"], obj["status"])
                    counts[k] = counts.get(k, 0) + 1
                seen += len(records)
            now = time.perf_counter()
            if first is None and seen:
                first = now
            if mark is None and seen >= warmup * expected:
                mark = (now, seen)
        ended = time.perf_counter()
    finally:
        await consumer.stop()
    assert first is not None and mark is not None, "the raw consumer read nothing"
    steady = seen > mark[1]
    if not steady:  # everything came in the first fetches: too few events for a steady state
        mark = (started, 0)
    rate = (seen - mark[1]) / max(1e-9, ended - mark[0])
    return {
        "steady_state": steady,
        "events": seen,
        "events_per_s": round(rate),
        "seconds": round(ended - first, 2),
        "warmup_share": warmup,
        "keys_counted": len(counts),
    }


# ---- the worker process --------------------------------------------------------------------------


def proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def proc_mem_kb(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            out[line.split(":")[0]] = int(line.split()[1])
    return out


def events_total(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith("ordermon_events_total{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def bench_worker(
    bootstrap: str, prefix: str, tmp: Path, extra_env: dict[str, str] | None = None
) -> WorkerProcess:
    """A worker of its own group and data directory, on the benchmark's topics."""
    tag = uuid.uuid4().hex[:8]
    env = {
        **os.environ,
        "ORDERMON_KAFKA": bootstrap,
        "ORDERMON_TOPIC_PREFIX": prefix,
        "ORDERMON_APP_ID": f"ordermon-bench-{tag}",
        "ORDERMON_SESSION_TIMEOUT_SECONDS": "6",
        "ORDERMON_DATA_DIR": str(tmp / f"data-{tag}"),
        "ORDERMON_LOG_LEVEL": "warning",
        **(extra_env or {}),
    }
    return WorkerProcess(env, tmp / f"worker-{tag}.log").start()


PROBE_PAGES: Final = 5  # pages read back to back to price one (`probe_cpu_s`)


def probe_cpu_s(worker: WorkerProcess) -> float:
    """The worker's CPU seconds to serve one /metrics page, once it has counted everything:
    `PROBE_PAGES` pages read back to back, less what it spends as long without them."""
    pid = worker.pid
    time.sleep(1.0)  # the last flush and commit
    started, cpu = time.monotonic(), proc_cpu_s(pid)
    for _ in range(PROBE_PAGES):
        events_total(worker.port)
    pages_s, pages_cpu = time.monotonic() - started, proc_cpu_s(pid) - cpu
    cpu = proc_cpu_s(pid)
    time.sleep(pages_s)
    idle_cpu = proc_cpu_s(pid) - cpu
    return max(0.0, pages_cpu - idle_cpu) / PROBE_PAGES


def measure_worker(
    worker: WorkerProcess, expected: int, timeout: float, interval: float = 0.5
) -> dict[str, Any]:
    """Sample the worker's events counted, CPU and RSS until it has counted `expected` events;
    throughput and CPU per event between 10% and 90% of them (the steady state).

    Each sample reads the worker's whole /metrics page, whose series grow with the warehouses
    (some 30,000 at 1,000): `cpu_us_per_event_net` leaves out what the worker spent serving
    this probe (`probe_cpu_s` a page, one page per sample), which Prometheus asks for every 15 s
    (dashboards/prometheus/prometheus.yml), not every `interval`."""
    samples: list[tuple[float, float, float, int]] = []  # (t, events, cpu_s, rss_kb)
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if not worker.alive():
            raise RuntimeError(f"worker exited: {worker.log_tail()}")
        try:
            n = events_total(worker.port)
        except OSError:
            n = samples[-1][1] if samples else 0.0
        samples.append(
            (time.monotonic(), n, proc_cpu_s(worker.pid), proc_mem_kb(worker.pid)["VmRSS"])
        )
        if n >= expected:
            break
        time.sleep(interval)
    mem = proc_mem_kb(worker.pid)
    counted = samples[-1][1]
    lo = next((s for s in samples if s[1] >= 0.1 * expected), samples[0])
    hi = next((s for s in samples if s[1] >= 0.9 * expected), samples[-1])
    # counted between two samples (or before the first): too few events for a steady state
    steady = hi[1] > lo[1] and hi[0] > lo[0]
    seconds = max(1e-9, hi[0] - lo[0])
    events = max(1.0, hi[1] - lo[1])
    probe = probe_cpu_s(worker) if steady and worker.alive() else None
    pages = sum(1 for s in samples if lo[0] < s[0] <= hi[0])
    net = None if probe is None else max(0.0, hi[2] - lo[2] - pages * probe)
    rss_lo = next((s for s in samples if s[1] >= 0.2 * expected), samples[0])
    growth = (samples[-1][3] - rss_lo[3]) / max(1.0, counted - rss_lo[1]) * 1e6
    return {
        "steady_state": steady,
        "events_counted": int(counted),
        "complete": counted >= expected,
        "events_per_s": round(events / seconds) if steady else None,
        "cpu_us_per_event": round((hi[2] - lo[2]) / events * 1e6, 1) if steady else None,
        "cpu_share": round((hi[2] - lo[2]) / seconds, 2) if steady else None,
        "probe_ms_per_page": None if probe is None else round(probe * 1000, 1),
        "cpu_us_per_event_net": None if net is None else round(net / events * 1e6, 1),
        "rss_peak_mb": round(mem["VmHWM"] / 1024, 1),
        "rss_end_mb": round(mem["VmRSS"] / 1024, 1),
        "rss_growth_mb_per_million": round(growth / 1024, 1),
    }


async def throughput_run(
    bootstrap: str,
    tmp: Path,
    *,
    events: int,
    warehouses: int,
    partitions: int,
    span_minutes: int,
    ceiling: bool,
    restart: bool = False,
    interval: float = 0.5,
) -> dict[str, Any]:
    """Publish, then count with a worker from the start: a catch-up. `restart`: then stop it
    and start it again on the same group and data directory (`restart_run`)."""
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    await create_topics(bootstrap, prefix, partitions)
    end_ms = int(time.time() * 1000) - MINUTE_MS
    sent, size, pub_s = await publish(
        bootstrap, prefix, generate(events, warehouses, span_minutes, end_ms)
    )
    result: dict[str, Any] = {
        "events": sent,
        "warehouses": warehouses,
        "event_time_span_minutes": span_minutes,
        "mean_event_bytes": round(size / max(1, sent)),
        "publish_events_per_s": round(sent / pub_s),
    }
    if ceiling:
        result["raw"] = await raw_ceiling(bootstrap, prefix, partitions, sent)
    worker = bench_worker(bootstrap, prefix, tmp, {"ORDERMON_PARTITIONS": str(partitions)})
    try:
        await asyncio.to_thread(worker.wait_ready)
        result["worker"] = await asyncio.to_thread(
            measure_worker, worker, sent, max(120.0, sent / 1000), interval
        )
        if restart:
            worker.stop()
            worker = WorkerProcess(worker.env, worker.log_path)
            result["restart"] = await asyncio.to_thread(restart_run, worker, warehouses)
    finally:
        worker.stop()
    return result


def restart_run(worker: WorkerProcess, warehouses: int, timeout: float = 1800.0) -> dict[str, Any]:
    """Start `worker` (stopped cleanly before, same group and data directory) and time its
    recovery: until /readyz answers 200 (its tables read back from their changelogs), and until
    /warehouses lists every warehouse (their states loaded from the tables)."""
    started = time.monotonic()
    worker.start()
    worker.wait_ready(timeout)
    ready_s = time.monotonic() - started
    listed = 0
    while time.monotonic() - started < timeout:
        try:  # the first answer loads every warehouse from the tables: it may take a while
            listed = len(get_json(worker.url + "/warehouses", timeout=120))
        except OSError:  # a timeout too
            listed = 0
        if listed >= warehouses:
            break
        time.sleep(0.5)
    mem = proc_mem_kb(worker.pid)
    return {
        "ready_s": round(ready_s, 1),
        "all_listed_s": round(time.monotonic() - started, 1) if listed >= warehouses else None,
        "warehouses_listed": listed,
        "cpu_s": round(proc_cpu_s(worker.pid), 1),
        "rss_mb": round(mem["VmRSS"] / 1024, 1),
        "rss_peak_mb": round(mem["VmHWM"] / 1024, 1),
    }


# ---- 4. alert latency ----------------------------------------------------------------------------

LAT_ENV = {
    "ORDERMON_HORIZON_MINUTES": "5",
    "ORDERMON_LATENESS_SECONDS": "30",
    "ORDERMON_POLICY_FOR_MS": "2m",
    "ORDERMON_POLICY_CLEAR_HOLD_MS": "2m",
    "ORDERMON_POLICY_DISPATCH_MIN_BACKLOG": "20",
    "ORDERMON_POLICY_DISPATCH_DRAINED_BACKLOG": "5",
    # the history's normal outflow is about 22 parcels per stall window (30 min), at the lowest
    # hour of a week about 14: judge a ratio of it
    "ORDERMON_POLICY_DISPATCH_MIN_EVENTS": "10",
}
STALL_ORDERS_PER_MINUTE: Final = 0.75  # a stalling site: quiet, so that its learned week is cheap
HISTORY_DAYS: Final = 8.2  # a week and a day of complete hours: the rhythm is learned
LOAD_WAREHOUSES: Final = 20  # sites of the live part only: the load the alerts are measured under
LIVE_SECONDS: Final = 20.0  # the paced live part lasts about this long at the target rate
# event minutes after the last stall: at 14-22 parcels a normal half hour, only an outflow of 2-6
# or fewer in 30 minutes is beyond chance (backpressure.STALL_SIGNIFICANCE), 22-27 minutes after
# a full stop, and the alert holds 2 minutes more
STALL_TAIL_MIN: Final = 40


def stall_minutes(
    warehouses: int, stagger_min: float, lead_min: int, tail_min: int
) -> tuple[dict[str, float], int]:
    """Warehouse -> the event minute its dispatching stops; total minutes of the live part."""
    stalls = {wh: lead_min + i * stagger_min for i, wh in enumerate(warehouse_ids(warehouses))}
    return stalls, int(lead_min + warehouses * stagger_min + tail_min)


def latency_story(
    stalls: dict[str, float],
    minutes: int,
    t0: int,
    *,
    load_orders_per_minute: float = 0.0,
    history_days: float = HISTORY_DAYS,
) -> list[tuple[str, bytes, bytes, int]]:
    """The latency story as the one traffic model tells it (`realistic.load_site`, no noise, no
    arrival lag), (topic, key, value, occurred_at_ms) in arrival order:
    - the stalling sites (`stalls`): 0.75 orders a minute from `history_days` before `t0` (every
      hour of the week learned) to the end, `minutes` after `t0`, against a dispatch team that
      packs up to 1.125 a minute until its stall minute (after `t0`), then none;
    - `LOAD_WAREHOUSES` load sites, from `t0` only, `load_orders_per_minute` in all, never stalled
      (no history: not judged within the story).
    Parcels are delivered 1-3 minutes after dispatch and every topic flows (10% of deliveries
    complain, half of the resolved ask a refund; the desk and finance keep up)."""
    start = t0 - round(history_days * DAY_MS / MINUTE_MS) * MINUTE_MS
    end = t0 + minutes * MINUTE_MS

    def site(wh: str, per_minute: float, **changes: Any) -> Site:
        per_day = per_minute * 1440
        return load_site(
            wh,
            per_day,
            dispatch_per_day=1.5 * per_day,
            desk_per_day=per_day,
            finance_per_day=per_day,
            complaint_steps=((start, 0.1),),
            complaint_delay_ms=20_000,
            transit_ms=(MINUTE_MS, 3 * MINUTE_MS),
            day_noise=0.0,
            block_noise=0.0,
            lag_max_ms=0,
            **changes,
        )

    stalling = tuple(
        site(
            wh, STALL_ORDERS_PER_MINUTE, dispatch_windows=((t0 + round(at * MINUTE_MS), end, 0.0),)
        )
        for wh, at in stalls.items()
    )
    parts = [Scenario("latency", "latency", stalling, (end - start) / DAY_MS, 2, start_ms=start)]
    if load_orders_per_minute > 0:
        per_site = load_orders_per_minute / LOAD_WAREHOUSES
        loads = tuple(site(f"LOAD-{i:03d}", per_site) for i in range(LOAD_WAREHOUSES))
        parts.append(Scenario("load", "load", loads, minutes / 1440, 3, start_ms=t0))
    stories = [
        ((m.topic, m.key, m.value, m.occurred_at_ms) for m in part.run().messages())
        for part in parts
    ]
    return list(heapq.merge(*stories, key=lambda m: m[3]))


def partition_of(key: bytes, partitions: int) -> int:
    """The partition a keyed record goes to (the Java client's and aiokafka's default)."""
    return (int(murmur2(key)) & 0x7FFFFFFF) % partitions


def closing_sends(
    story: list[tuple[str, bytes, bytes, int]], partitions: int, config: FlowConfig
) -> dict[int, tuple[int, int]]:
    """Index in `story` -> (partition, minute closed through) of each send that moves its
    partition's watermark past a minute end. The engine's rule for a worker reading every
    partition to its end as the records come (`Engine._mark`): the watermark of a partition's
    warehouses is the oldest of the newest event times read from each of its four topics, less
    the lateness; no processing clock."""
    newest: dict[tuple[str, int], int] = {}
    closed: dict[int, int] = {}
    closing: dict[int, tuple[int, int]] = {}
    for n, (topic, key, _value, at) in enumerate(story):
        p = partition_of(key, partitions)
        if at <= newest.get((topic, p), at - 1):
            continue
        newest[topic, p] = at
        read = [newest.get((t, p)) for t in INPUT_TOPICS]
        if None in read:
            continue
        through = minute_start(min(t for t in read if t is not None) - config.lateness_ms)
        if through > closed.get(p, through - 1):
            closed[p] = through
            closing[n] = (p, through)
    return closing


def is_first_fire(alert: dict[str, Any], stall_ms: dict[str, int]) -> bool:
    """A firing `dispatch_backpressure` of a stalling site at or after its stall began (any other
    firing alert is not the story's)."""
    begun = stall_ms.get(alert["warehouse"])
    return bool(
        alert["kind"] == "dispatch_backpressure"
        and alert["state"] == "firing"
        and begun is not None
        and (parse_rfc3339_ms(alert["updated_at"]) or 0) >= begun
    )


async def until_fired(
    arrivals: list[tuple[dict[str, Any], float]], stall_ms: dict[str, int], timeout_s: float
) -> None:
    """Wait until every stalled warehouse's alert has arrived, or `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if {a["warehouse"] for a, _t in arrivals if is_first_fire(a, stall_ms)} >= set(stall_ms):
            return
        await asyncio.sleep(0.2)


def first_fire_latencies(
    arrivals: list[tuple[dict[str, Any], float]],
    closes: dict[str, list[tuple[int, float]]],
    stall_ms: dict[str, int],
    created: Mapping[str, float] | None = None,
) -> tuple[list[float], list[tuple[str, str, float, float]], list[float]]:
    """Seconds from the send that closed the minute an alert fired at to the alert's arrival,
    for the first message of each alert; the detail (warehouse, minute, sent, arrived); and the
    seconds from that send to the alert's record timestamp (`created`, by alert id: set by the
    worker's producer as it sent the alert, so without the time the alert then waited for this
    process's consumer, which shares its event loop with the paced publisher)."""
    latencies: list[float] = []
    detail: list[tuple[str, str, float, float]] = []
    sent: list[float] = []
    wall = time.time() - time.perf_counter()
    seen_ids: set[str] = set()
    for alert, arrived in arrivals:
        if not is_first_fire(alert, stall_ms) or alert["alert_id"] in seen_ids:
            continue
        seen_ids.add(alert["alert_id"])
        minute_end = parse_rfc3339_ms(alert["updated_at"]) or 0
        closed = next(
            (t for through, t in closes[alert["warehouse"]] if through >= minute_end), None
        )
        if closed is not None:
            latencies.append(arrived - closed)
            detail.append((alert["warehouse"], alert["updated_at"], closed + wall, arrived + wall))
            if created is not None and alert["alert_id"] in created:
                sent.append(created[alert["alert_id"]] - (closed + wall))
    return latencies, detail, sent


async def latency_run(
    bootstrap: str,
    tmp: Path,
    *,
    rate: float,
    warehouses: int,
    partitions: int,
    stagger_min: float,
) -> dict[str, Any]:
    prefix = f"lat{uuid.uuid4().hex[:6]}."
    await create_topics(bootstrap, prefix, partitions)
    worker = bench_worker(
        bootstrap, prefix, tmp, {"ORDERMON_PARTITIONS": str(partitions), **LAT_ENV}
    )
    config = FlowConfig(lateness_ms=30_000)
    stalls, minutes = stall_minutes(warehouses, stagger_min, lead_min=10, tail_min=STALL_TAIL_MIN)
    t0 = minute_start(int(time.time() * 1000)) - (minutes + 5) * MINUTE_MS
    stall_ms = {wh: t0 + round(at * MINUTE_MS) for wh, at in stalls.items()}
    # warehouse -> [(minute closed through, perf_counter of the send that closed it)]
    closes: dict[str, list[tuple[int, float]]] = {wh: [] for wh in stalls}
    arrivals: list[tuple[dict[str, Any], float]] = []
    created: dict[str, float] = {}  # alert id -> its first record's timestamp (s since epoch)
    consumer = AIOKafkaConsumer(
        f"{prefix}{ALERTS}",
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
        fetch_max_wait_ms=5,
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks=1, linger_ms=5, enable_idempotence=False
    )
    try:
        await asyncio.to_thread(worker.wait_ready)
        await consumer.start()
        await producer.start()
        stop = asyncio.Event()

        async def collect() -> None:
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=50)
                now = time.perf_counter()
                for records in batch.values():
                    for r in records:
                        alert = orjson.loads(r.value)  # type: ignore[arg-type]
                        arrivals.append((alert, now))
                        created.setdefault(alert["alert_id"], r.timestamp / 1000)

        collector = asyncio.create_task(collect())
        sent = 0
        started = time.perf_counter()
        lags: list[tuple[float, int]] = []  # (seconds since start, events sent but not counted)

        async def sample_lag() -> None:
            while not stop.is_set():
                try:
                    counted = await asyncio.to_thread(events_total, worker.port)
                except OSError:
                    continue
                lags.append((round(time.perf_counter() - started, 1), int(sent - counted)))
                await asyncio.sleep(2.0)  # a scrape costs the worker a little

        # The whole story and the minutes each send closes are worked out before the clock
        # starts, so that the publisher spends as little of the shared CPU as it can.
        load = rate * LIVE_SECONDS / minutes / EVENTS_PER_ORDER  # orders per event minute
        story = latency_story(stalls, minutes, t0, load_orders_per_minute=load)
        closing = closing_sends(story, partitions, config)
        parts = [partition_of(key, partitions) for _topic, key, _value, _at in story]
        stalled_in: dict[int, list[str]] = {}
        for wh in stalls:
            stalled_in.setdefault(partition_of(wh.encode(), partitions), []).append(wh)
        live_from = next((n for n, m in enumerate(story) if m[3] >= t0), len(story))
        # the learned week: published at once and counted before the clock starts
        await publish(bootstrap, prefix, iter(story[:live_from]))
        history_counted = await asyncio.to_thread(
            wait_counted, worker, live_from, HISTORY_TIMEOUT_S
        )
        settled_s = await asyncio.to_thread(wait_settled, worker, SETTLE_TIMEOUT_S)
        step(
            f"the learned week counted ({live_from:,} events) and its records written "
            f"({settled_s:.0f} s); the paced stream begins"
        )
        sent = live_from
        lagger = asyncio.create_task(sample_lag())
        started = time.perf_counter()

        def handed(upto: int, indices: list[int], at: float) -> None:
            nonlocal sent
            sent = upto
            for n in indices:
                p, through = closing[n]
                for wh in stalled_in.get(p, ()):
                    closes[wh].append((through, at))

        await paced_publish(producer, prefix, story, live_from, rate, parts, set(closing), handed)
        publish_s = time.perf_counter() - started
        await until_fired(arrivals, stall_ms, timeout_s=60)
        stop.set()
        await collector
        await lagger
    finally:
        await producer.stop()
        await consumer.stop()
        worker.stop()
    latencies, detail, produced = first_fire_latencies(arrivals, closes, stall_ms, created)
    latencies.sort()
    produced.sort()
    return {
        "target_events_per_s": round(rate),
        "achieved_events_per_s": round((sent - live_from) / publish_s),
        "events": sent - live_from,
        "history_events": live_from,
        "history_counted": history_counted,
        "warehouses": warehouses,
        "samples": len(latencies),
        "expected_samples": warehouses,
        "p50_ms": round(percentile(latencies, 50) * 1000, 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 99) * 1000, 1) if latencies else None,
        "max_ms": round(latencies[-1] * 1000, 1) if latencies else None,
        # to the alert's record timestamp, set by the worker as it sent it (see
        # `first_fire_latencies`): the worker's part of the latency
        "sent_p50_ms": round(percentile(produced, 50) * 1000, 1) if produced else None,
        "sent_p99_ms": round(percentile(produced, 99) * 1000, 1) if produced else None,
        # firing alerts other than the stalls' dispatch_backpressure (the story has no others)
        "other_alerts": sorted(
            {
                (a["kind"], a["warehouse"])
                for a, _t in arrivals
                if a["state"] == "firing" and not is_first_fire(a, stall_ms)
            }
        ),
        "lag_max_events": max((n for _t, n in lags), default=None),
        "lag": lags if os.environ.get("ORDERMON_BENCH_DETAIL") else None,
        "detail": detail if os.environ.get("ORDERMON_BENCH_DETAIL") else None,
    }


PACE_TICK_S: Final = 0.005  # the paced publisher hands over what is due every 5 ms


async def paced_publish(
    producer: AIOKafkaProducer,
    prefix: str,
    story: list[tuple[str, bytes, bytes, int]],
    first: int,
    rate: float,
    partition: list[int],
    watched: set[int],
    handed: Callable[[int, list[int], float], None],
) -> None:
    """Publish `story[first:]` at `rate` events/s. Every `PACE_TICK_S` the events due by then
    go into one record batch per topic partition, handed to the producer with `send_batch`
    (about 1.5 µs of CPU per event against 9 for one `send` per event, which could not keep
    half the worker's pace on two shared cores and took a core from the worker and the broker).
    `partition[i]` is the partition of `story[i]`. `handed(upto, indices, at)` after each
    batch: the events before `upto` are in batches handed over or about to be, and `indices`
    (those of the batch in `watched`) were handed over at `perf_counter` `at`. As with `send`,
    the producer still lingers, and holds a batch while the one before it to the same
    partition is in flight."""
    started = time.perf_counter()
    pending: list[asyncio.Future[Any]] = []

    async def hand_over(tp: tuple[str, int], builder: Any, marks: list[int], upto: int) -> None:
        pending.append(await producer.send_batch(builder, f"{prefix}{tp[0]}", partition=tp[1]))
        handed(upto, marks, time.perf_counter())

    n, end = first, len(story)
    while n < end:
        due = min(end, first + int((time.perf_counter() - started) * rate) + 1)
        batches: dict[tuple[str, int], tuple[Any, list[int]]] = {}
        for i in range(n, due):
            topic, key, value, at = story[i]
            tp = (topic, partition[i])
            if tp not in batches:
                batches[tp] = (producer.create_batch(), [])
            builder, marks = batches[tp]
            if builder.append(key=key, value=value, timestamp=at) is None:  # full: hand it over
                await hand_over(tp, builder, marks, i)
                batches[tp] = (builder, marks) = (producer.create_batch(), [])
                builder.append(key=key, value=value, timestamp=at)
            if i in watched:
                marks.append(i)
        for tp, (builder, marks) in batches.items():
            await hand_over(tp, builder, marks, due)
        n = due
        if len(pending) > 1000:
            await asyncio.gather(*pending)
            pending = []
        next_tick = started + (n - first) / rate
        await asyncio.sleep(max(0.0, min(PACE_TICK_S, next_tick - time.perf_counter())))
    await asyncio.gather(*pending)


HISTORY_TIMEOUT_S: Final = 1800.0
SETTLE_TIMEOUT_S: Final = 120.0
SETTLE_SAMPLE_S: Final = 1.0
SETTLE_SHARE: Final = 0.1


def step(what: str) -> None:
    print(f"[bench] {what}", flush=True)


def wait_settled(worker: WorkerProcess, timeout_s: float) -> float:
    """Wait until the worker's CPU rests (under SETTLE_SHARE of a core over SETTLE_SAMPLE_S): a
    week counted at once leaves changelog records to send for seconds after its last event is
    counted, and the paced stream is to be measured on its own. The seconds waited."""
    started = time.monotonic()
    before = proc_cpu_s(worker.pid)
    while time.monotonic() - started < timeout_s:
        time.sleep(SETTLE_SAMPLE_S)
        now = proc_cpu_s(worker.pid)
        if now - before < SETTLE_SHARE * SETTLE_SAMPLE_S:
            break
        before = now
    return time.monotonic() - started


def wait_counted(worker: WorkerProcess, expected: int, timeout_s: float) -> bool:
    """Wait until the worker has counted `expected` events (False after `timeout_s`)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not worker.alive():
            raise RuntimeError(f"worker exited: {worker.log_tail()}")
        try:
            if events_total(worker.port) >= expected:
                return True
        except OSError:
            pass
        time.sleep(1.0)
    return False


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    k = max(0, min(len(sorted_values) - 1, int(-(-p * len(sorted_values) // 100)) - 1))
    return sorted_values[k]


# ---- the run ---------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
    }


def engine_cost(events: int, warehouses: int, minute_events: int) -> dict[str, Any]:
    """The engine alone, no Kafka: CPU µs per event of `Engine.process` (decode, validate,
    count, dedup, close minutes, evaluate the detector and the network, the records to write)
    over the benchmark's events in batches of 2,000, with the processing clock."""
    span = max(1, events // minute_events)
    end_ms = minute_start(int(time.time() * 1000))
    stream = list(generate(events, warehouses=warehouses, span_minutes=span, end_ms=end_ms))
    records = [
        Message(topic, n % 4, n, key, value) for n, (topic, key, value, _at) in enumerate(stream)
    ]
    engine = Engine(FlowConfig(), Policy(), MemoryStore(), max_warehouses=max(1000, warehouses))
    now_ms = end_ms + MINUTE_MS
    counted = 0
    started = time.process_time()
    for i in range(0, len(records), 2000):
        counted += engine.process(records[i : i + 2000], now_ms).counted.total()
    seconds = time.process_time() - started
    return {
        "events": events,
        "counted": counted,
        "warehouses": warehouses,
        "cpu_us_per_event": round(seconds / events * 1e6, 2),
    }


def _us(value: float | None) -> str:
    return "n/a" if value is None else f"{value} µs"


def _rate(events_per_s: int | None) -> str:
    return "n/a" if events_per_s is None else f"{events_per_s:,} ev/s"


def scale_rows(result: dict[str, Any]) -> list[tuple[str, str]]:
    """The scale section's rows (issue 13's goals in brackets), and the cost runs' ratio of CPU
    per event at the most warehouses to that at the fewest."""
    rows = []
    costs = [r for r in result.get("cost", []) if r["worker"]["cpu_us_per_event"]]
    if len(costs) > 1:
        few, many = (
            min(costs, key=lambda r: r["warehouses"]),
            max(costs, key=lambda r: r["warehouses"]),
        )
        ratio = many["worker"]["cpu_us_per_event"] / few["worker"]["cpu_us_per_event"]
        rows.append(
            (
                f"CPU per event, {many['warehouses']:,} / {few['warehouses']:,} warehouses",
                f"{ratio:.1f}x  (goal <= 2x)",
            )
        )
    quiet = result.get("quiet")
    if quiet:
        w = quiet["worker"]
        per_site_minute = "n/a"  # no steady state seen: no CPU per event, no made-up figure
        if w["cpu_us_per_event"]:
            site_minutes = quiet["warehouses"] * quiet["event_time_span_minutes"]
            per_site_minute = f"{w['cpu_us_per_event'] * quiet['events'] / site_minutes:.1f}"
        rows.append(
            (
                f"quiet sites: catch-up, {quiet['warehouses']:,} warehouses, "
                f"{quiet['events']:,} events over {quiet['event_time_span_minutes'] / 1440:g} d",
                f"{_rate(w['events_per_s'])}, {_us(w['cpu_us_per_event'])} CPU per event, "
                f"{per_site_minute} µs per warehouse-minute",
            )
        )
    scale = result.get("scale")
    if scale:
        w, again = scale["worker"], scale.get("restart") or {}
        days = scale["event_time_span_minutes"] / 1440
        rows += [
            (
                f"scale: catch-up, {scale['warehouses']:,} warehouses, {scale['events']:,} events "
                f"over {days:g} d",
                f"{_rate(w['events_per_s'])} (goal >= 20,000), {_us(w['cpu_us_per_event'])} CPU "
                f"per event; RSS peak {w['rss_peak_mb']} MB (goal <= 400 MiB)",
            ),
            (
                "scale: restart recovery",
                f"ready after {again.get('ready_s')} s, all {scale['warehouses']:,} listed after "
                f"{again.get('all_listed_s')} s; RSS {again.get('rss_mb')} MB "
                f"(peak {again.get('rss_peak_mb')} MB)",
            ),
        ]
    return rows


def table(result: dict[str, Any]) -> str:
    main = result["throughput"]
    raw = main["raw"]["events_per_s"]
    w = main["worker"]
    lat = result.get("latency") or {}
    rows = [
        ("raw aiokafka ceiling (getmany + orjson + dict count)", f"{raw:,} ev/s"),
        ("ordermon worker, end to end", _rate(w["events_per_s"])),
        (
            "worker / ceiling",
            "n/a" if result["ratio"] is None else f"{result['ratio']:.1%}  (goal >= 25%)",
        ),
        *(
            [("note", "too few events for a steady state (try --events 100000 or more)")]
            if not (main["raw"]["steady_state"] and w["steady_state"])
            else []
        ),
        ("worker CPU per event", _us(w["cpu_us_per_event"])),
        ("worker RSS peak", f"{w['rss_peak_mb']} MB"),
        ("worker RSS growth", f"{w['rss_growth_mb_per_million']} MB per million events"),
    ]
    engine = result.get("engine")
    if engine:
        rows.append(
            (
                f"engine alone (Engine.process), {engine['warehouses']:,} warehouses",
                f"{engine['cpu_us_per_event']} µs CPU per event",
            )
        )
    for run in result.get("cost", []):
        cost = run["worker"]
        probe = cost.get("probe_ms_per_page")
        rows.append(
            (
                f"CPU per event, {run['warehouses']:,} warehouses",
                f"{_us(cost['cpu_us_per_event'])} ({_rate(cost['events_per_s'])}); "
                f"{_us(cost.get('cpu_us_per_event_net'))} without the bench's probe "
                f"({'n/a' if probe is None else f'{probe} ms'} a /metrics page, every 0.5 s)",
            )
        )
    rows += scale_rows(result)
    if lat:
        rows.append(
            (
                f"alert latency at {lat['achieved_events_per_s']:,} ev/s "
                f"({lat['samples']}/{lat['expected_samples']} alerts)",
                f"p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms (to the alert's record"
                f" timestamp, set by the worker as it sent it: p50 {lat.get('sent_p50_ms')} ms,"
                f" p99 {lat.get('sent_p99_ms')} ms)",
            )
        )
    width = max(len(r[0]) for r in rows)
    lines = [f"| {'measure':<{width}} | value |", f"|{'-' * (width + 2)}|---|"]
    lines += [f"| {a:<{width}} | {b} |" for a, b in rows]
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="ordermon-bench-"))
    log = tmp / "broker.log"
    result: dict[str, Any] = {"machine": machine(), "args": vars(args)}
    try:
        step(f"the engine alone, {args.engine_events:,} events")
        result["engine"] = engine_cost(args.engine_events, args.warehouses, args.minute_events)
        with EmbeddedBroker(free_port(), log_path=log) as broker:
            step(f"broker on {broker.bootstrap}; {args.events:,} events, ceiling and worker")
            result["throughput"] = await throughput_run(
                broker.bootstrap,
                tmp,
                events=args.events,
                warehouses=args.warehouses,
                partitions=args.partitions,
                span_minutes=max(1, args.events // args.minute_events),
                ceiling=True,
            )
            main = result["throughput"]
            worker_rate = main["worker"]["events_per_s"]
            result["ratio"] = (
                None if worker_rate is None else worker_rate / max(1, main["raw"]["events_per_s"])
            )
            step(f"raw {main['raw']['events_per_s']:,} ev/s, worker {_rate(worker_rate)}")
            result["cost"] = []
            for n in args.cost_warehouses:
                step(f"cost with {n} warehouses ({args.cost_events:,} events)")
                result["cost"].append(
                    await throughput_run(
                        broker.bootstrap,
                        tmp,
                        events=args.cost_events,
                        warehouses=n,
                        partitions=args.partitions,
                        span_minutes=max(1, args.cost_events // args.minute_events),
                        ceiling=False,
                    )
                )
            # the scale run (then a restart) and the quiet sites: many warehouses over days
            for key, events, then in (
                ("scale", args.scale_events, ", then a restart"),
                ("quiet", args.quiet_events, ", quiet sites"),
            ):
                if not events:
                    continue
                step(
                    f"{key}: {args.scale_warehouses:,} warehouses, {events:,} events "
                    f"over {args.scale_days:g} days of event time{then}"
                )
                # samples 2 s apart: a /metrics page of 1,000 warehouses costs the worker ~150 ms
                result[key] = await throughput_run(
                    broker.bootstrap,
                    tmp,
                    events=events,
                    warehouses=args.scale_warehouses,
                    partitions=args.partitions,
                    span_minutes=max(1, round(args.scale_days * 1440)),
                    ceiling=False,
                    restart=key == "scale",
                    interval=2.0,
                )
            if args.latency_warehouses:
                # half the worker's throughput (the ceiling's when the run was too short)
                rate = args.latency_rate or (worker_rate or main["raw"]["events_per_s"] * 0.25) / 2
                step(f"alert latency at {rate:,.0f} ev/s, {args.latency_warehouses} warehouses")
                result["latency"] = await latency_run(
                    broker.bootstrap,
                    tmp,
                    rate=rate,
                    warehouses=args.latency_warehouses,
                    partitions=args.partitions,
                    stagger_min=args.stagger_minutes,
                )
    finally:
        if args.keep_logs:
            print(f"[bench] logs in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m ordermon.devtools.bench", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--events", type=int, default=500_000, help="events of the main run")
    parser.add_argument(
        "--engine-events", type=int, default=200_000, help="events of the engine-alone run"
    )
    parser.add_argument("--warehouses", type=int, default=20, help="warehouses of the main run")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument(
        "--minute-events",
        type=int,
        default=10_000,
        help="events per minute of event time, network-wide (sets how fast event time advances)",
    )
    parser.add_argument("--cost-events", type=int, default=150_000)
    parser.add_argument(
        "--cost-warehouses",
        type=lambda s: [int(x) for x in s.split(",") if x],
        default=[10, 100, 1000],
        help="comma-separated warehouse counts of the cost runs ('' for none)",
    )
    parser.add_argument(
        "--scale-events",
        type=int,
        default=1_500_000,
        help="events of the scale run: a catch-up over many warehouses, then a restart (0: skip)",
    )
    parser.add_argument("--scale-warehouses", type=int, default=1000)
    parser.add_argument(
        "--quiet-events",
        type=int,
        default=150_000,
        help="events of the quiet-sites run over the scale run's warehouses and days (0: skip)",
    )
    parser.add_argument(
        "--scale-days", type=float, default=1.0, help="event time the scale run's events span"
    )
    parser.add_argument(
        "--latency-warehouses", type=int, default=30, help="stalling warehouses (0: skip)"
    )
    parser.add_argument(
        "--latency-rate",
        type=float,
        default=None,
        help="events/s of the paced latency stream (default: half the worker's throughput)",
    )
    parser.add_argument(
        "--stagger-minutes", type=float, default=0.5, help="event minutes between two stalls"
    )
    parser.add_argument("--out", default="bench-results/bench.json")
    parser.add_argument("--keep-logs", action="store_true")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args))
    print(table(result))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"[bench] wrote {out}")


if __name__ == "__main__":
    main()
