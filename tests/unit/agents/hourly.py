"""Hand-built hourly rows of a warehouse's rhythm (agents.logic.rhythm), for tests that judge a
queue from a history written down hour by hour."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ordermon.agents.logic.backpressure import Flows, Judgement, judge
from ordermon.agents.logic.policy import Policy
from ordermon.agents.logic.rhythm import (
    BACKLOG,
    BASE,
    FLAGS,
    HOURS_PER_DAY,
    IN,
    LOW,
    MINUTES,
    N_QUEUES,
    OUT,
    ROW_LEN,
    WIDTH,
    Rhythm,
)
from ordermon.agents.logic.windows import HOUR_MS


def hour_row(
    queue: int,
    inflow: int,
    outflow: int,
    backlog: int,
    *,
    low: int | None = None,
    flagged: bool = False,
) -> list[int]:
    """A complete hour of `queue` (0 dispatch, 1 delivery, 2 service, 3 refund): what came in,
    what was served, the backlog at its end and the lowest at the end of any of its minutes
    (`low`, the backlog at its end unless given); the other queues empty."""
    row = [0] * ROW_LEN
    row[MINUTES] = 60
    row[FLAGS] = (1 << queue) if flagged else 0
    base = BASE + WIDTH * queue
    row[base + IN], row[base + OUT], row[base + BACKLOG] = inflow, outflow, backlog
    row[base + LOW] = backlog if low is None else low
    return row


def rhythm_of(rows: Sequence[list[int]], first_hour: int = 0) -> Rhythm:
    """The rhythm of `rows` (consecutive hours from `first_hour`), every queue learned from
    its first hour."""
    return Rhythm(first_hour=first_hour, rows=list(rows), since=[first_hour] * N_QUEUES)


def serve_hour(rows: list[list[int]], backlog: int, inflow: int, pace: float) -> int:
    """One hour of a dispatch team that serves what waits up to `pace` (0: off duty): appends
    its row to `rows` and returns the backlog at its end."""
    backlog += inflow
    out = min(backlog, round(pace))
    rows.append(hour_row(0, inflow, out, backlog - out))
    return backlog - out


def judged_dispatch(rows: list[list[int]], hour: int, first_hour: int, policy: Policy) -> Judgement:
    """The dispatch queue of `rows` (queue 0, consecutive hours from `first_hour`) judged at
    the first minute after `hour` (hours since `first_hour`), from what was known then."""
    known = rows[: hour + 1]
    day = known[-HOURS_PER_DAY:]
    last = known[-1]
    flows = Flows(
        backlog=last[BASE + BACKLOG],
        in_stall=last[BASE + IN] // 2,
        out_stall=last[BASE + OUT] // 2,
        in_day=sum(r[BASE + IN] for r in day),
        out_day=sum(r[BASE + OUT] for r in day),
    )
    at = (first_hour + hour + 1) * HOUR_MS + 60_000
    rhythm = rhythm_of(known, first_hour)
    return judge(rhythm, "dispatch", flows, at, policy.queues["dispatch"], policy)


def learned_judgement(**fields: Any) -> Judgement:
    """A learned dispatch queue's judgement at a working hour: 8,000 parcels waiting against a
    normal of 1,200, growth and excess unset; `fields` override any of it."""
    base: dict[str, Any] = {
        "queue": "dispatch",
        "backlog": 8_000,
        "learned": True,
        "judged": True,
        "growth": None,
        "excess": None,
        "noise": 0.03,
        "throughput_day": 12_000.0,
        "normal_backlog": 1_200.0,
        "outflow_share": None,
        "stalled": False,
        "resumed": True,
        "wait_hours": 12.0,
        "normal_wait_hours": 3.0,
        "working": True,
    }
    return Judgement(**{**base, **fields})
