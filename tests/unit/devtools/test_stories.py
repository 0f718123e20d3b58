"""The story the live tests publish (`realistic.warm_stall`: a small site's warm history, then a
working-hours stall), replayed offline through the worker's code (`ordermon.backtest.replay`,
what `ordermon backtest` runs): it fires, and resolves, where and when the live tests wait for
it, under the settings they give the worker (`realistic.STORY_ENV`)."""

from __future__ import annotations

import pytest

from ordermon.backtest import Record, replay
from ordermon.devtools import realistic
from ordermon.devtools.operations import MINUTE_MS
from ordermon.policy import load_policy
from ordermon.streams.timefmt import parse_rfc3339_ms

END = parse_rfc3339_ms("2026-12-02T03:41:00Z") or 0  # any time of day: the site's clock follows
# an hour in which three minutes failed before (the weekday matters: the learned normals)
SWEPT_HOUR = parse_rfc3339_ms("2026-12-03T17:00:00Z") or 0


def test_the_live_story_fires_within_the_stall_and_resolves_before_it_ends() -> None:
    scenario = realistic.warm_stall(END)
    (truth,) = scenario.truths
    run = scenario.run()
    result = replay((Record(t, k, v) for t, k, v in run.wire()), load_policy(realistic.STORY_ENV))
    episodes = result.episodes
    assert [(e.kind, e.warehouse) for e in episodes] == [
        ("dispatch_backpressure", realistic.STORY_WAREHOUSE)
    ]
    (episode,) = episodes
    assert truth.fire_from_ms < episode.fired_ms <= truth.fire_by_ms  # within the stall
    assert END - episode.fired_ms < 60 * MINUTE_MS  # young enough to be paged
    assert episode.resolved_ms is not None and episode.resolved_ms < END
    assert episode.signals["reason"] == "stall"


@pytest.mark.parametrize("minute", sorted({*range(0, 60, 3), 19, 34, 49}))
def test_the_live_story_fires_whatever_minute_of_the_hour_it_ends(minute: int) -> None:
    """The live tests end the story a minute before the wall clock, at any minute of any hour:
    every one must fire within the stall and resolve (minutes 19, 34 and 49 of SWEPT_HOUR fired
    nothing under the default dispatch minimum of 40 events, and those tests waited 300 s)."""
    end = SWEPT_HOUR + minute * MINUTE_MS
    scenario = realistic.warm_stall(end)
    (truth,) = scenario.truths
    run = scenario.run()
    result = replay((Record(t, k, v) for t, k, v in run.wire()), load_policy(realistic.STORY_ENV))
    assert [
        (e.kind, truth.fire_from_ms < e.fired_ms <= truth.fire_by_ms) for e in result.episodes
    ] == [("dispatch_backpressure", True)]
    assert result.episodes[0].resolved_ms is not None


def test_the_simulated_story_ends_with_its_alert_firing() -> None:
    """`ordermon simulate --scenario warm_stall` under the default policy (the live dashboard
    test): the stall's alert is still firing when the stream ends."""
    scenario = realistic.STORIES["warm_stall"]()
    run = scenario.run()
    episodes = replay((Record(t, k, v) for t, k, v in run.wire())).episodes
    assert [(e.kind, e.warehouse, e.resolved_ms) for e in episodes] == [
        ("dispatch_backpressure", realistic.STORY_WAREHOUSE, None)
    ]
