"""The realistic scenario suite of issue 11: each scenario replayed through the worker's code
(`ordermon.backtest.replay`), scored against its truth (`scoring`), and checked against what it
must show.

Run in full (14-60 days, sites of 2,500-18,000 orders a day, three seeds; about half an hour on
a 2-core machine) with::

    python -m ordermon.devtools.suite [--seeds 3] [--scale 1.0] [--policy FILE] [NAME ...]

It prints the README's table and every unmet expectation. `make test` runs the same checks at
reduced scale (tests/unit/devtools/test_suite.py).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from typing import Final

from ordermon.agents.logic.policy import Policy
from ordermon.backtest import Record, replay
from ordermon.devtools import realistic
from ordermon.devtools.operations import DAY_MS, HOUR_MS, Scenario
from ordermon.devtools.scoring import Score, score, table

Check = Callable[[Score], list[str]]
# `make test` (tests/unit/devtools/test_suite.py) and `--reduced`: a tenth of the traffic, and
# days enough for a week of history, the fault and its end; jd2008_shifts (60 days) only in full.
REDUCED_SCALE: Final = 0.1
REDUCED_DAYS: Final = {
    "healthy": 14,
    "holiday": 21,
    "late_trucks": 14,
    "clock_forward": 21,
    "clock_back": 21,
    "dispatch_overload": 13,
    "learned_overload": 21,
    "shift_stall": 11,
    "capacity_noise": 14,
    "demand_growth": 22,
    "complaint_surge": 10,
    "site_silent": 10,
}


def run(scenario: Scenario, policy: Policy | None = None) -> Score:
    """Replay `scenario` through the worker's code and score it against its truth, with
    `policy`, or the policy its sites declare (`Scenario.policy`), or the default."""
    if policy is None and scenario.policy is not None:
        policy = Policy.from_mapping(scenario.policy)
    sim = scenario.run()
    result = replay((Record(t, k, v) for t, k, v in sim.wire()), policy)
    return score(
        scenario.name,
        result.episodes,
        sim.truths,
        start_ms=scenario.start_ms,
        end_ms=scenario.end_ms,
        sites=len(scenario.sites),
        seed=scenario.seed,
    )


def _describe(s: Score, limit: int = 5) -> str:
    start = s.run_end_ms - round(s.days * DAY_MS)
    shown = [
        f"{e.kind}@{e.warehouse} {e.severity} day {(e.fired_ms - start) / DAY_MS:.2f}"
        for e in s.false[:limit]
    ]
    more = f" (+{len(s.false) - limit} more)" if len(s.false) > limit else ""
    return "; ".join(shown) + more


def no_alert(s: Score) -> list[str]:
    return [] if s.episodes == 0 else [f"{s.episodes} episodes: {_describe(s)}"]


def no_page(s: Score) -> list[str]:
    """Nothing that pages (critical): a warning is a ticket for the day shift, a page wakes
    someone."""
    return [] if s.pages == 0 else [f"{s.pages} pages: {_describe(s)}"]


def only_true(s: Score) -> list[str]:
    return [] if not s.false else [f"{len(s.false)} false episodes: {_describe(s)}"]


def caught(s: Score) -> list[str]:
    return [
        f"missed: {d.truth.kind}@{d.truth.warehouse} ({d.truth.label})"
        for d in s.detections
        if d.truth.required and d.episode is None
    ]


def held_and_reset(s: Score, within_ms: int = HOUR_MS) -> list[str]:
    """Not resolved while the fault lasts; resolved within `within_ms` of the backlog clearing
    (a fault not caught cannot meet this either)."""
    out = [
        f"not caught, so not held: {d.truth.kind}@{d.truth.warehouse}"
        for d in s.detections
        if d.truth.required and d.episode is None
    ]
    out += [
        f"{d.truth.kind}@{d.truth.warehouse} resolved before the fault ended"
        for d in s.resolved_early()
    ]
    for d in s.detections:
        if d.episode is None or d.truth.cleared_ms is None or not d.truth.required:
            continue
        reset = d.reset_ms
        if reset is None or reset > within_ms:
            late = "never" if reset is None else f"{reset / 60_000:.0f} min after"
            out.append(f"{d.truth.kind}@{d.truth.warehouse} resolved {late} it cleared")
    return out


def quiet_after_holidays(s: Score, days: float = 3.0) -> list[str]:
    """No alert at a site closed for a declared holiday (`realistic.HOLIDAYS`), from its
    holiday to `days` days after it."""
    start = s.run_end_ms - round(s.days * DAY_MS)
    return [
        f"{e.kind}@{e.warehouse} {e.severity} day {(e.fired_ms - start) / DAY_MS:.2f}"
        for e in s.false
        if (day := realistic.HOLIDAYS.get(e.warehouse)) is not None
        and start + day * DAY_MS <= e.fired_ms < start + (day + days) * DAY_MS
    ]


def at_most_one_per_site_per_two_weeks(s: Score) -> list[str]:
    rate = s.episodes_per_site_per_14_days
    return [] if rate <= 1.0 else [f"{rate:.1f} episodes per site per 14 days"]


def capacity_within(s: Score, share: float = 0.15) -> list[str]:
    out = []
    for d in s.detections:
        if d.truth.value and d.episode is not None:
            err = d.capacity_error
            if err is None or err > share:
                shown = "no estimate" if err is None else f"{err:.0%} off"
                out.append(f"capacity estimate {shown} at {d.truth.warehouse}")
    return out


# What each scenario must show, in named parts (the tests check each part on its own).
EXPECTATIONS: Final[dict[str, dict[str, Check]]] = {
    "healthy": {"no alert at all": no_alert, "no page": no_page},
    "holiday": {
        "no page": no_page,
        "no alert at a closed site within three days of its holiday": quiet_after_holidays,
    },
    "late_trucks": {"no page": no_page},
    "clock_forward": {"no page": no_page},
    "clock_back": {"no page": no_page},
    "dispatch_overload": {
        "caught within a day": caught,
        "at that site only": only_true,
        "held while it grows, resolved within an hour of clearing": held_and_reset,
    },
    "learned_overload": {
        "caught within a day": caught,
        "at that site only": only_true,
        "held while it grows, resolved within an hour of clearing": held_and_reset,
    },
    "shift_stall": {"caught within 60 minutes": caught, "at that site only": only_true},
    "capacity_noise": {
        "at most one episode per site per 14 days": at_most_one_per_site_per_two_weeks
    },
    "demand_growth": {
        "forecast 5-14 days ahead": caught,
        "capacity estimate within 15%": capacity_within,
        "no other alert (backpressure only after a team's crossing)": only_true,
    },
    "complaint_surge": {"caught within 12 hours": caught, "at that site only": only_true},
    "site_silent": {"caught within an hour": caught, "nothing else": only_true},
    "jd2008_shifts": {"forecast days before each crossing": caught},
}


def problems(s: Score, part: str | None = None) -> list[str]:
    """What scenario `s.scenario` must show (all parts, or one) and did not; empty: all met."""
    parts = EXPECTATIONS[s.scenario]
    chosen = parts.items() if part is None else [(part, parts[part])]
    return [f"{name}: {problem}" for name, check in chosen for problem in check(s)]


def _main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m ordermon.devtools.suite", description=__doc__)
    names = ", ".join(EXPECTATIONS)
    parser.add_argument("names", nargs="*", help=f"scenarios (default all: {names})")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--policy", help="a policy file (JSON or TOML), as the worker reads it")
    parser.add_argument(
        "--reduced", action="store_true", help="the reduced runs of `make test` (scale 0.1)"
    )
    args = parser.parse_args(argv)
    policy = None
    if args.policy:
        from ordermon.config import ConfigError
        from ordermon.policy import FILE_VARIABLE, load_policy

        try:
            policy = load_policy({FILE_VARIABLE: args.policy})
        except ConfigError as exc:
            parser.error(str(exc))
    unknown = [n for n in args.names if n not in EXPECTATIONS]
    if unknown:
        parser.error(f"unknown scenario {unknown[0]!r}; known: {', '.join(EXPECTATIONS)}")
    scores: list[Score] = []
    failed = 0
    chosen = args.names or list(REDUCED_DAYS if args.reduced else EXPECTATIONS)
    for name in chosen:
        for seed in range(args.seeds):
            began = time.monotonic()
            if args.reduced:
                days: float | None = REDUCED_DAYS.get(name)
                scale = REDUCED_SCALE
            else:
                days, scale = None, args.scale
            s = run(realistic.build(name, seed=seed, days=days, scale=scale), policy)
            scores.append(s)
            found = problems(s)
            failed += bool(found)
            status = "ok" if not found else "FAIL: " + " | ".join(found)
            took = time.monotonic() - began
            print(f"{name} seed {seed} ({took:.0f} s): {status}", file=sys.stderr, flush=True)
    print(table(scores))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
