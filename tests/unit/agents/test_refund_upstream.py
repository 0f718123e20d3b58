"""Refund requests that follow orders, not resolved complaints (agents.logic.surge.UPSTREAM): a
shop whose customers ask a refund without a complaint sends about 1% of its orders as requests
at any hour, while its desk resolves complaints from 09:00 to 21:00. Judged as a share of the
resolutions alone, a day the desk resolved fewer than usual made the same requests a "surge":
six false warnings over four seeds of data from a generator written apart from the project's.
The arrivals are now judged against each stream they may follow, and a surge is one that none
explains; a real surge of requests is still one."""

from __future__ import annotations

import random

from ordermon.agents.logic.policy import Policy
from ordermon.agents.logic.rhythm import (
    BASE,
    FLAGS,
    HOURS_PER_DAY,
    IN,
    MINUTES,
    OUT,
    QUEUE_INDEX,
    ROW_LEN,
    WIDTH,
)
from ordermon.agents.logic.surge import SURGE_SIGNIFICANCE, UPSTREAM, judge_surge
from ordermon.agents.logic.windows import HOUR_MS
from ordermon.devtools.operations import poisson
from tests.unit.agents.hourly import rhythm_of

DAY0 = 20_454 * HOURS_PER_DAY  # 2026-01-01 00:00 UTC
ORDERS = (100, 60, 40, 40, 40, 60, 200, 400, 600, 700, *([650] * 10), 900, 900, 600, 300)
DAYS = 14
SLOW_DESK = range(10, 12)  # days the desk resolves a third of its usual


def col(queue: str, what: int) -> int:
    return BASE + WIDTH * QUEUE_INDEX[queue] + what


def site(seed: int, refund_surge_from: int | None = None) -> list[list[int]]:
    """Hourly rows: orders on a daily curve; refund requests 1% of the hour's orders (four
    times that from hour `refund_surge_from`); complaints resolved 09-21, 250 a day, a third of
    that on the slow desk's days."""
    rng = random.Random(seed)
    rows = []
    for h in range(DAYS * HOURS_PER_DAY):
        day, hod = divmod(h, HOURS_PER_DAY)
        row = [0] * ROW_LEN
        row[MINUTES] = 60
        row[FLAGS] = 0
        orders = poisson(rng, ORDERS[hod])
        share = 0.04 if refund_surge_from is not None and h >= refund_surge_from else 0.01
        row[col("dispatch", IN)] = orders
        row[col("refund", IN)] = poisson(rng, share * orders)
        if 9 <= hod < 21:
            row[col("service", OUT)] = poisson(rng, 250 / 12 / (3 if day in SLOW_DESK else 1))
        rows.append(row)
    return rows


def p_value_at(rows: list[list[int]], hour: int) -> tuple[float, float]:
    rhythm = rhythm_of(rows[:hour], DAY0)
    found = judge_surge(rhythm, "refund", (DAY0 + hour) * HOUR_MS + 60_000, Policy())
    assert found is not None
    return found.p_value, found.ratio


def test_requests_that_follow_orders_do_not_surge_on_a_slow_desks_day() -> None:
    hours = [10 * HOURS_PER_DAY + h for h in range(12, 24)]
    for seed in range(5):
        rows = site(seed)
        assert all(p_value_at(rows, h)[0] >= SURGE_SIGNIFICANCE for h in hours), seed


def test_against_resolutions_alone_they_would(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The same requests judged as a share of the resolutions only (the old rule): a surge."""
    monkeypatch.setitem(UPSTREAM, "refund", ((QUEUE_INDEX["service"], OUT),))
    rows = site(0)
    assert any(p_value_at(rows, 10 * HOURS_PER_DAY + h)[0] < SURGE_SIGNIFICANCE for h in (18, 21))


def test_a_real_surge_of_requests_is_still_one() -> None:
    start = 10 * HOURS_PER_DAY + 9
    for seed in range(5):
        rows = site(seed, refund_surge_from=start)
        p, ratio = p_value_at(rows, start + 6)
        assert p < SURGE_SIGNIFICANCE and ratio > 2.5, (seed, p, ratio)
