"""The pace of the other sites, read once per network evaluation (issue 13).

A site that fell quiet is judged against its own pace scaled by how the other sites' paces
changed since (`network_pace_change`). With a thousand sites and a few quiet at every minute,
reading every other site's pace for every quiet one cost a thousand paces per quiet site and
minute (100,000 events over a day at 1,000 sites: more than 15 minutes of CPU). The evaluation
now reads it once per hour the quiet sites fell silent in (`_NetworkPaces`), and a site's pace of
a past hour is kept until its next row completes (`Rhythm.recent_pace`). Both must give what a
reading from scratch gives."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ordermon.agents.logic.detector import (
    AsOf,
    NetworkState,
    _NetworkPaces,
    evaluate_network,
    network_pace_change,
)
from ordermon.agents.logic.policy import Policy
from ordermon.agents.logic.rhythm import HOUR_MS, MINUTE_MS, Rhythm, hour_of

START_HOUR = 480_000


def folded(rng: random.Random, minutes: int, busy: float) -> Rhythm:
    """A site's rhythm after `minutes` minutes of events, quiet at night-like hours."""
    rhythm = Rhythm()
    end = START_HOUR * HOUR_MS + MINUTE_MS
    for m in range(minutes):
        hour_of_day = (m // 60) % 24
        rate = busy if 7 <= hour_of_day < 22 else busy / 10
        orders = sum(rng.random() < rate / 4 for _ in range(4))
        rhythm.fold(end + m * MINUTE_MS, [(orders, orders, 0)] * 4, 0, keep_hours=72)
    return rhythm


def scratch(rhythm: Rhythm) -> Rhythm:
    """The same rows in a rhythm with nothing kept."""
    return Rhythm.from_json(rhythm.to_json())


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), minutes=st.integers(61, 60 * 40))
def test_a_past_hours_pace_kept_is_the_pace_read_from_scratch(seed: int, minutes: int) -> None:
    rng = random.Random(seed)
    rhythm = folded(rng, minutes, busy=rng.choice([0.2, 2.0, 20.0]))
    now_hour = START_HOUR + (minutes - 1) // 60
    hours = range(START_HOUR - 1, now_hour + 2)
    first = [rhythm.recent_pace(h) for h in hours]  # kept where the hour is past
    # more minutes folded into the running hour (and maybe the next): nothing past changes
    end = START_HOUR * HOUR_MS + MINUTE_MS + minutes * MINUTE_MS
    for m in range(rng.randrange(1, 90)):
        rhythm.fold(end + m * MINUTE_MS, [(3, 1, 2)] * 4, 0, keep_hours=72)
    again = [rhythm.recent_pace(h) for h in hours]
    fresh = scratch(rhythm)
    assert again == [fresh.recent_pace(h) for h in hours]
    # the hours that were past at the first reading read the same before and after
    assert first[: now_hour - START_HOUR] == again[: now_hour - START_HOUR]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), sites=st.integers(1, 12))
def test_one_reading_per_hour_gives_every_quiet_site_its_own_change(seed: int, sites: int) -> None:
    rng = random.Random(seed)
    minutes = rng.randrange(6 * 60, 30 * 60)
    rhythms = {f"W{i}": folded(rng, minutes, busy=rng.choice([0.5, 5.0])) for i in range(sites)}
    at_ms = (START_HOUR * 60 + minutes) * MINUTE_MS
    moving = {w for w in rhythms if rng.random() < 0.7}
    warehouses = {w: (_Det(r), at_ms) for w, r in rhythms.items()}
    paces = _NetworkPaces(warehouses, moving, at_ms)  # type: ignore[arg-type]
    for _quiet in sorted(set(rhythms) - moving):  # each quiet one, in any hour of the last day
        since = at_ms - rng.randrange(MINUTE_MS, 24 * HOUR_MS)
        fresh = [scratch(rhythms[o]) for o in moving]
        now_hour = hour_of(at_ms - 1)
        expected = network_pace_change([(r, r.recent_pace(now_hour)) for r in fresh], since)
        assert paces.change(since) == expected


class _Det:
    """What the evaluation reads of a detector state here: its rhythm."""

    def __init__(self, rhythm: Rhythm) -> None:
        self.rhythm = rhythm


def test_the_paces_read_per_network_minute_grow_with_the_sites_not_their_square(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Half of 2 x n sites quiet (each since its own minute of the same two hours), half moving:
    one network evaluation reads each moving site's pace twice per hour the quiet ones fell
    silent in, whatever their number (the per-site loop read n paces for each of n sites)."""
    rng = random.Random(7)
    calls = 0
    original = Rhythm.recent_pace

    def counted(self: Rhythm, hour: int, until_ms: int | None = None) -> float | None:
        nonlocal calls
        calls += 1
        return original(self, hour, until_ms)

    monkeypatch.setattr(Rhythm, "recent_pace", counted)
    reads = {}
    for n in (10, 40):
        minutes = 20 * 60
        at_ms = (START_HOUR * 60 + minutes) * MINUTE_MS
        warehouses = {}
        for i in range(2 * n):
            rhythm = folded(rng, minutes, busy=2.0)
            quiet = i % 2 == 1
            newest = at_ms - (rng.randrange(61, 179) * MINUTE_MS if quiet else MINUTE_MS)
            warehouses[f"W{i:03d}"] = (AsOf(False, rhythm), newest)
        calls = 0
        evaluate_network(NetworkState(), warehouses, at_ms, Policy(), cascade=False)
        quiet_hours = {
            hour_of(newest) for w, (_, newest) in warehouses.items() if newest < at_ms - HOUR_MS
        }
        reads[n] = (calls, len(quiet_hours))
    for n, (read, hours) in reads.items():
        # each moving site twice per such hour, and each quiet site's own pace once
        assert read <= 2 * n * hours + n, (n, read, hours)
