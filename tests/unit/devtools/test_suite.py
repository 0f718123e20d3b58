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
    reason="not met yet at a tenth of the traffic (issue 11; the reasons measured are in the "
    "README's alert-quality section): LYS-2, a pickup site at capacity on weekends, raises its "
    "backlog by 0.1 days on its first weekend, before a week of history, as much as "
    "the 10% overload that starts that Saturday (the healthy site warns); the complaint "
    "surge adds about 5 complaints in its first 12 hours at 500 orders a day, a share of "
    "the deliveries chance gives once in a few hundred windows (at full size it is caught "
    "within 6 hours on seeds 0-2, `python -m ordermon.devtools.suite --seeds 3 complaint_surge`); "
    "learned_overload: 10% below a weekday's orders once a week is learned, its growth a day "
    "(0.02-0.09 days) is near the mark (0.08) and below its noise; the slow window of three "
    "days sees it after 1.5-1.7 days at full size, not within one",
)
# (scenario, part) the current detector does not meet at seed 0
FAILING_NOW: set[tuple[str, str]] = {
    ("healthy", "no alert at all"),
    # at a tenth of the traffic a forecast_overload warning at FRA-1 on day 16.44 (its orders
    # 5% below its capacity, a trend within the noise); at full size met on seeds 0-2
    ("holiday", "no alert at a closed site within three days of its holiday"),
    ("complaint_surge", "caught within 12 hours"),
    # an overload after a week is learned (README): at full size caught after 1.5-1.7 days on
    # every seed (the slow window); at a tenth of the traffic never within the day
    ("learned_overload", "caught within a day"),
    ("learned_overload", "held while it grows, resolved within an hour of clearing"),
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


@pytest.mark.parametrize("seed", [1, 2])
def test_healthy_sites_are_never_paged_on_other_seeds(seed: int) -> None:
    """The healthy fleet at other seeds: warnings may remain (FAILING_NOW), pages may not (seed 2
    paged a critical stall at LYS-2 in the half hour after a carrier pickup, before the hour
    after a stall window had to be a working hour)."""
    days, scale = REDUCED_DAYS["healthy"], REDUCED_SCALE
    score = run(realistic.build("healthy", seed=seed, days=days, scale=scale))
    assert problems(score, "no page") == []


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
