"""`python -m ordermon.devtools.sameout`: do two trees give the same alerts? (For performance work.)

Replays a fixed set of scenarios offline (`ordermon.backtest.replay`: the backtest's engine, in
the worker's batches) and writes every alert transition as its wire JSON (kind, warehouse, state,
severity, alert_id, event times, summary, signals), one line each, to `DIR/<case>.jsonl`, with the
process CPU seconds of each replay and the warehouse-minutes it covered. `--check BASE` compares
the lines byte for byte with a directory written before (e.g. by the tree before a change, run
with `PYTHONPATH=<that tree>`) and exits 1 on the first difference of each case.

The cases: benign fixed-pace scenarios, three weeks of jd2008, realistic stories with alerts
(dispatch_overload, shift_stall, complaint_surge, site_silent) and two days of the load traffic
at 100 warehouses (the catch-up benchmark's data). Measures and compares; asserts nothing else.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import orjson

from ordermon.backtest import Record, replay
from ordermon.devtools import catalogue
from ordermon.devtools.operations import Message
from ordermon.devtools.realistic import traffic

MINUTE_MS = 60_000
LOAD_START_MS = 1_772_409_600_000  # 2026-03-02T00:00:00Z


def _scenario(name: str, **kwargs: float) -> Callable[[], Iterable[Message]]:
    return lambda: catalogue.source(name, **kwargs).run().messages()  # type: ignore[arg-type]


def _load(warehouses: int, events: int, days: float) -> Callable[[], Iterable[Message]]:
    ids = [f"WH-{i:04d}" for i in range(warehouses)]
    minutes = days * 1440 / 0.875
    return lambda: traffic(events, ids, minutes=minutes, start_ms=LOAD_START_MS)


CASES: dict[str, Callable[[], Iterable[Message]]] = {
    "steady": _scenario("steady"),
    "night_lull": _scenario("night_lull"),
    "weekend_dip": _scenario("weekend_dip"),
    "stall": _scenario("stall"),
    "silent": _scenario("silent"),
    "jd2008_21d": _scenario("jd2008", days=21, scale=0.5),
    "dispatch_overload": _scenario("dispatch_overload", scale=0.3),
    "shift_stall": _scenario("shift_stall", scale=0.3),
    "complaint_surge": _scenario("complaint_surge", scale=0.3),
    "site_silent": _scenario("site_silent", scale=0.3),
    "load_100x2d": _load(100, 150_000, 2.0),
}


def warehouse_minutes(messages: list[Message]) -> int:
    """Minutes from each warehouse's first to its last event: about what the engine evaluates."""
    span: dict[bytes, tuple[int, int]] = {}
    for m in messages:
        low, high = span.get(m.key, (m.occurred_at_ms, m.occurred_at_ms))
        span[m.key] = (min(low, m.occurred_at_ms), max(high, m.occurred_at_ms))
    return sum(hi // MINUTE_MS - lo // MINUTE_MS + 1 for lo, hi in span.values())


def run_case(name: str) -> tuple[list[bytes], dict[str, float]]:
    messages = list(CASES[name]())
    records = [Record(m.topic, m.key, m.value) for m in messages]
    started = time.process_time()
    result = replay(records)
    cpu = time.process_time() - started
    lines = [orjson.dumps(a.to_wire(), option=orjson.OPT_SORT_KEYS) for a in result.transitions]
    wm = warehouse_minutes(messages)
    stats = {
        "events": len(messages),
        "transitions": len(lines),
        "cpu_s": round(cpu, 2),
        "warehouse_minutes": wm,
        "us_per_warehouse_minute": round(cpu / wm * 1e6, 1),
        "us_per_event": round(cpu / len(messages) * 1e6, 1),
    }
    return lines, stats


def compare(lines: list[bytes], base: Path) -> str | None:
    """None when equal; otherwise where the first difference is."""
    if not base.exists():
        return f"{base} is missing"
    old = base.read_bytes().splitlines()
    for i, (a, b) in enumerate(zip(old, lines, strict=False)):
        if a != b:
            return f"line {i + 1} differs:\n  before {a.decode()}\n  after  {b.decode()}"
    if len(old) != len(lines):
        return f"{len(old)} transitions before, {len(lines)} after"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="directory to write the lines to")
    parser.add_argument("--check", type=Path, help="directory written before, to compare with")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated case names")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for name in args.cases.split(","):
        if name not in CASES:
            parser.error(f"unknown case {name!r}; known: {', '.join(CASES)}")
        lines, stats = run_case(name)
        (args.out / f"{name}.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))
        verdict = ""
        if args.check is not None:
            diff = compare(lines, args.check / f"{name}.jsonl")
            verdict = " identical" if diff is None else f" DIFFERENT: {diff}"
            failed += diff is not None
        print(f"{name}: {orjson.dumps(stats).decode()}{verdict}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
