"""Hand-built hourly rows of a warehouse's rhythm (agents.logic.rhythm), for tests that judge a
queue from a history written down hour by hour."""

from __future__ import annotations

from collections.abc import Sequence

from ordermon.agents.logic.rhythm import (
    BACKLOG,
    BASE,
    FLAGS,
    IN,
    LOW,
    MINUTES,
    N_QUEUES,
    OUT,
    ROW_LEN,
    WIDTH,
    Rhythm,
)


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
