"""Warehouses that stopped sending: when one gives its slot back, and what its alerts become.

A warehouse whose newest event is older than the idle time (default: the retention), counted back
from the newest event time of the worker's other warehouses, is *idle*. When a new warehouse finds
every slot under ORDERMON_MAX_WAREHOUSES taken, the longest idle one is *released*: its state,
records and metric series are removed and the newcomer takes its slot. Not before: a real site
closed for a day or two keeps its backlog and its learned rhythm while there is room, and made-up
ids (the longest idle) go first. A warehouse with nothing at all within the retention (every event
of it late, e.g. dated 1970) is released as soon as it is idle. If a released warehouse sends
again, it starts afresh, as a new warehouse.

Its firing alerts are sent once more as `resolved`, with the reason in the summary and
``released_after_idle_minutes`` in the signals: an on-call tool that saw them fire must see them
end (a monitor that forgets a warehouse cannot say any more that it is in trouble), and the
reason tells a person that the warehouse went away rather than recovered. Pure: no clock."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from ordermon.agents.logic.windows import MINUTE_MS
from ordermon.streams.outputs import Alert


def is_stale(newest_ms: int | None, at_ms: int, after_ms: int) -> bool:
    """Whether a warehouse whose newest event is `newest_ms` (None: none within the retention)
    has been quiet for longer than `after_ms` at event time `at_ms`."""
    return newest_ms is None or at_ms - newest_ms > after_ms


def release_messages(firing: Iterable[Alert], at_ms: int, idle_ms: int) -> list[Alert]:
    """The `resolved` message of every firing alert of a released warehouse."""
    minutes = idle_ms // MINUTE_MS
    out = []
    for alert in firing:
        if alert.state != "firing":
            continue
        out.append(
            dataclasses.replace(
                alert,
                state="resolved",
                updated_at_ms=max(at_ms, alert.updated_at_ms),
                ended_at_ms=max(at_ms, alert.updated_at_ms),
                summary=f"{alert.summary} Resolved because the warehouse sent no events for "
                f"{minutes} minutes and was released (ORDERMON_WAREHOUSE_IDLE_MINUTES).",
                signals={**alert.signals, "released_after_idle_minutes": minutes},
            )
        )
    return out
