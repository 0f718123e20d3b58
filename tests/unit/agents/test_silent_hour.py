"""A site that falls silent is called silent whatever the minute of the hour it stopped at.

Its pace before its first day is known is read from the hours it was seen in. The row of the
hour it stopped in also holds the silent minutes after its last event (they close like any
other): read over the whole row, a site that stopped at 12:00:50 had the pace of one minute's
events spread over an hour, "normally quiet", and was never called silent. A CI run of
tests/integration/test_network_recovery.py failed that way whenever it started at minutes
52-57 of an hour."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ordermon.agents.logic.rhythm import _EVENT_COLS, HOUR_MS, MINUTE_MS, Rhythm, at_least
from tests.unit.agents.test_detector import interleave, orders, scenario
from tests.unit.agents.test_recovery import run


def silent_kinds(first: int) -> list[tuple[str, str]]:
    """Three sites from minute `first` after 08:00 for 80 minutes; SH-02 stops after 10."""
    busy = [scenario([(80, orders(3, 3))], wh, first=first) for wh in ("BJ-01", "GZ-03", "WH-04")]
    quiet = scenario([(10, orders(3, 3))], "SH-02", first=first)
    alerts, _ = run(interleave(*busy, quiet))
    return [(a.warehouse, a.state) for a in alerts if a.kind == "warehouse_silent"]


@pytest.mark.parametrize("first", [0, 30, 50, 51, 52, 55, 57, 59])
def test_a_site_that_stops_is_silent_whatever_the_minute(first: int) -> None:
    kinds = silent_kinds(first)
    assert kinds[:1] == [("SH-02", "firing")]
    assert {wh for wh, _ in kinds} == {"SH-02"}


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 59))
def test_the_minute_it_stops_at_does_not_matter(first: int) -> None:
    assert [s for wh, s in silent_kinds(first)][:1] == ["firing"]


@pytest.mark.parametrize(
    ("until_minute", "minutes_counted"),
    [(None, 60), (0, 1), (9, 10), (59, 60)],  # None: the whole row, as before
)
def test_the_pace_of_the_hour_it_stopped_in_counts_its_minutes_up_to_then(
    until_minute: int | None, minutes_counted: int
) -> None:
    """Events in the hour's first minute only, then 59 quiet minutes folded into the same row."""
    rhythm = Rhythm()
    hour = 500_000
    end = hour * HOUR_MS + MINUTE_MS
    rhythm.fold(end, [(4, 0, 0)] * 3, 0, keep_hours=48)
    for m in range(1, 60):
        rhythm.fold(end + m * MINUTE_MS, [(0, 0, 0)] * 3, 0, keep_hours=48)
    until = None if until_minute is None else hour * HOUR_MS + until_minute * MINUTE_MS
    events = sum(rhythm.rows[0][c] for c in _EVENT_COLS)
    assert events > 0
    assert rhythm.recent_pace(hour, until_ms=until) == pytest.approx(
        at_least(events) * 60 / minutes_counted
    )
