"""The alert state machine, step by step: a table of literal minutes, then properties."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from ordermon.agents.logic.alerts import Episode, Observation, Timing, step
from ordermon.streams.outputs import Alert
from ordermon.streams.timefmt import parse_rfc3339_ms

M = 60_000
T0 = parse_rfc3339_ms("2026-11-22T08:00:00Z") or 0
TIMING = Timing(for_ms=5 * M, clear_hold_ms=3 * M, renotify_ms=30 * M)
KIND, WH = "dispatch_backpressure", "BJ-01"

# What the detector may observe. The fire mark is above the clear mark; BAND lies between.
ON = Observation(active=True, clear=False, escalate=False, deescalate=False, summary="on")
HOT = Observation(active=True, clear=False, escalate=True, deescalate=False, summary="hot")
BAND = Observation(active=False, clear=False, escalate=False, deescalate=False, summary="band")
CALM = Observation(active=False, clear=False, escalate=False, deescalate=True, summary="calm")
OFF = Observation(active=False, clear=True, summary="off")
OBSERVATIONS = {"ON": ON, "HOT": HOT, "BAND": BAND, "CALM": CALM, "OFF": OFF}

# (minute after T0, observation, expected message: (state, severity, started minute) or None)
TABLE: list[tuple[int, Observation, tuple[str, str, int] | None]] = [
    (0, ON, None),  # fire condition holds: pending since 08:00, nothing sent yet
    (4, ON, None),  # 4 min pending: the 5-min hold is not over
    (5, ON, ("firing", "warning", 0)),  # held 5 min: fires; started_at is when pending began
    (6, BAND, None),  # between the marks: keeps firing, no message
    (7, HOT, ("firing", "critical", 0)),  # severity changed: one message
    (8, BAND, None),  # not low enough to de-escalate: stays critical, no message
    (9, CALM, None),  # below the lower mark: calm since 08:09, must hold 3 min to de-escalate
    (10, CALM, None),  # calm 1 min
    (11, HOT, None),  # hot again: still critical, the calm starts over, no message
    (12, CALM, None),  # calm since 08:12
    (15, CALM, ("firing", "warning", 0)),  # calm held 3 min: back to warning
    (16, OFF, None),  # clear since 08:16, hold 3 min
    (17, BAND, None),  # the clear condition broke off: the clear hold starts over
    (18, OFF, None),  # clear since 08:18
    (20, OFF, None),  # 2 min of clear: still firing
    (21, OFF, ("resolved", "warning", 0)),  # 3 min of clear: resolved, ended_at 08:21
    (22, OFF, None),  # inactive: nothing
    (23, ON, None),  # a new condition: pending since 08:23
    (24, OFF, None),  # broke off before the hold: no episode, no message
    (25, ON, None),  # pending since 08:25
    (30, HOT, ("firing", "critical", 25)),  # a new episode, critical from the start
    (59, HOT, None),  # 29 min since the last message: no repeat yet
    (60, HOT, ("firing", "critical", 25)),  # 30 min: re-notify
    (61, CALM, None),  # calm since 09:01
    (64, CALM, ("firing", "warning", 25)),  # held 3 min: severity changed (repeat clock restarts)
    (93, ON, None),  # 29 min since the change
    (94, ON, ("firing", "warning", 25)),  # re-notify
]


def test_table() -> None:
    episode: Episode | None = None
    for minute, obs, expected in TABLE:
        at = T0 + minute * M
        episode, message = step(episode, KIND, WH, obs, at, TIMING)
        if expected is None:
            assert message is None, f"08:{minute:02d}: unexpected {message}"
            continue
        state, severity, started = expected
        assert message is not None, f"08:{minute:02d}: expected {expected}"
        assert (message.state, message.severity) == (state, severity), f"08:{minute:02d}"
        assert message.started_at_ms == T0 + started * M
        assert message.updated_at_ms == at
        assert message.alert_id == f"{KIND}:{WH}:{T0 + started * M}"
        assert message.ended_at_ms == (at if state == "resolved" else None)
        if state == "resolved":
            assert episode is None


def test_zero_hold_fires_in_the_first_minute() -> None:
    episode, message = step(None, "cascade", WH, ON, T0, Timing(0, 0, 30 * M))
    assert message is not None and message.state == "firing" and message.started_at_ms == T0
    episode, message = step(episode, "cascade", WH, OFF, T0 + M, Timing(0, 0, 30 * M))
    assert message is not None and message.state == "resolved" and episode is None


def test_resolved_message_wire_has_ended_at() -> None:
    episode, _ = step(None, KIND, WH, ON, T0, Timing(0, 0, 30 * M))
    _, message = step(episode, KIND, WH, OFF, T0 + 7 * M, Timing(0, 0, 30 * M))
    assert message is not None
    wire = message.to_wire()
    assert wire["ended_at"] == "2026-11-22T08:07:00Z"
    assert wire["started_at"] == "2026-11-22T08:00:00Z"
    assert "resolved 0.1 h after it began" in wire["summary"]


def test_episode_round_trips_through_json() -> None:
    episode, _ = step(None, KIND, WH, HOT, T0, Timing(0, 0, 30 * M))
    assert episode is not None
    episode.signals = {"pressure": 1.2345, "backlog": 1240, "queue": "dispatch", "x": None}
    episode.clear_since_ms = T0 + M
    again = Episode.from_json(json.loads(json.dumps(episode.to_json())))
    assert again == episode


# ---- properties -------------------------------------------------------------------------------

steps = st.lists(
    st.tuples(st.integers(min_value=1, max_value=40), st.sampled_from(sorted(OBSERVATIONS))),
    max_size=200,
)


def run(sequence: list[tuple[int, str]], timing: Timing = TIMING) -> list[Alert]:
    episode: Episode | None = None
    at = T0
    out: list[Alert] = []
    for gap, name in sequence:
        at += gap * M
        episode, message = step(episode, KIND, WH, OBSERVATIONS[name], at, timing)
        if message is not None:
            out.append(message)
    return out


def check_alternation(messages: list[Alert], timing: Timing) -> int:
    """Messages of one (kind, warehouse) form episodes: firing+ then resolved, ids unique per
    episode. Returns the number of episodes."""
    open_id: str | None = None
    last: Alert | None = None
    seen: set[str] = set()
    episodes = 0
    for m in messages:
        if open_id is None:
            assert m.state == "firing", "resolved without a fire"
            assert m.alert_id not in seen, "an alert id was reused by a new episode"
            assert m.updated_at_ms - m.started_at_ms >= timing.for_ms
            open_id = m.alert_id
            seen.add(open_id)
            episodes += 1
        else:
            assert m.alert_id == open_id, "one episode changed its id"
            assert last is not None
            if m.state == "firing":  # a severity change or a repeat, never a second fire
                assert (
                    m.severity != last.severity
                    or m.updated_at_ms - last.updated_at_ms >= timing.renotify_ms
                )
            else:
                open_id = None
        last = m
    return episodes


@given(steps)
@settings(max_examples=300, deadline=None)
def test_messages_alternate_and_ids_are_unique_per_episode(sequence: list[tuple[int, str]]) -> None:
    check_alternation(run(sequence), TIMING)


@given(
    st.lists(st.tuples(st.integers(1, 40), st.sampled_from(["ON", "HOT", "BAND"])), max_size=200)
)
@settings(max_examples=200, deadline=None)
def test_noise_above_the_clear_mark_never_resolves(sequence: list[tuple[int, str]]) -> None:
    # Wobbling between above the fire mark and the band never clears: at most one episode.
    assert check_alternation(run(sequence), TIMING) <= 1
    assert all(m.state == "firing" for m in run(sequence))


@given(st.lists(st.tuples(st.integers(1, 4), st.sampled_from(["ON", "OFF"])), max_size=200))
@settings(max_examples=200, deadline=None)
def test_episodes_are_bounded_by_the_holds(sequence: list[tuple[int, str]]) -> None:
    # Each episode needs for_ms of fire and clear_hold_ms of clear: flapping input cannot make
    # more episodes than the time span allows.
    messages = run(sequence)
    span = sum(gap for gap, _ in sequence) * M
    episodes = check_alternation(messages, TIMING)
    assert episodes <= span // (TIMING.for_ms + TIMING.clear_hold_ms) + 1
