"""What the detector must show on realistic operations (issue 11), at reduced scale: each
scenario replayed through the worker's code (`ordermon.backtest.replay`) and scored against its
ground truth, each expectation on its own. The full suite (every scenario at full size, three
seeds) is ``python -m ordermon.devtools.suite``, or this file with ``ORDERMON_FULL_SUITE=1``.

The expectations are the real ones. Those the current detector does not meet are marked
``xfail(strict=True)``: they turn into failures (to be unmarked) the day they pass."""

from __future__ import annotations

import os
from functools import cache

import pytest

from ordermon.devtools import realistic
from ordermon.devtools.scoring import Score
from ordermon.devtools.suite import (
    EXPECTATIONS,
    REDUCED_DAYS,
    REDUCED_SCALE,
    problems,
    run,
)

NOT_YET = pytest.mark.xfail(
    strict=True,
    reason="not met yet by the rhythm-aware detector at a tenth of the traffic: before a week "
    "a pickup site's whole-day floor rises on its first weekend (LYS-2) and its overload is seen "
    "only once the floor has passed its last healthy low (~1.5 days); at 250-900 orders a day "
    "a day-over-day backlog change of a delivery queue is within its counting noise; the "
    "complaint surge's complaints arrive days after its fire_by; warehouse_silent still warns at "
    "small sites' quiet hours",
)
# (scenario, part) the current detector does not meet
FAILING_NOW: set[tuple[str, str]] = {
    ("healthy", "no alert at all"),
    ("dispatch_overload", "caught within a day"),
    ("dispatch_overload", "held while it grows, resolved within an hour of clearing"),
    ("demand_growth", "no other alert (backpressure only after the crossing)"),
    ("complaint_surge", "caught within 12 hours"),
    # false warehouse_silent warnings at the small sites' quiet hours at a tenth of the traffic,
    # since the network is judged at every minute of event time (issue 11, left open)
    ("dispatch_overload", "at that site only"),
    ("shift_stall", "at that site only"),
    ("capacity_noise", "at most one episode per site per 14 days"),
    ("complaint_surge", "at that site only"),
    ("site_silent", "nothing else"),
}


@cache
def reduced(name: str) -> Score:
    return run(realistic.build(name, seed=0, days=REDUCED_DAYS[name], scale=REDUCED_SCALE))


def _cases() -> list[object]:
    cases = []
    for name, parts in EXPECTATIONS.items():
        if name not in REDUCED_DAYS:
            continue
        for part in parts:
            marks = [NOT_YET] if (name, part) in FAILING_NOW else []
            cases.append(pytest.param(name, part, marks=marks, id=f"{name}: {part}"))
    return cases


@pytest.mark.parametrize(("name", "part"), _cases())
def test_realistic_scenario_at_reduced_length(name: str, part: str) -> None:
    assert problems(reduced(name), part) == []


def test_every_scenario_has_expectations_and_a_reduced_run() -> None:
    assert set(EXPECTATIONS) == set(realistic.SCENARIOS)
    assert set(REDUCED_DAYS) == set(realistic.SCENARIOS) - {"jd2008_shifts"}  # 60 days: in full


@pytest.mark.skipif(
    os.environ.get("ORDERMON_FULL_SUITE") != "1",
    reason="the full suite takes about an hour: ORDERMON_FULL_SUITE=1 or "
    "python -m ordermon.devtools.suite",
)
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("name", list(realistic.SCENARIOS))
def test_realistic_scenario_in_full(name: str, seed: int) -> None:
    assert problems(run(realistic.build(name, seed=seed))) == []
