"""The alert state machine of one (kind, warehouse): inactive → pending → firing → resolved.

`step` is pure: it takes the episode so far (None while inactive), what the detector observed at
event time `at_ms`, and the timing, and returns the new episode and at most one message.

- inactive → pending when the fire condition holds; pending → inactive as soon as it does not
  (the condition must hold without a break for `for_ms`); pending → firing after `for_ms`.
  With `for_ms` 0 the alert fires in the minute the condition first holds.
- firing → resolved once the clear condition (below a lower mark than the fire condition:
  hysteresis) has held without a break for `clear_hold_ms`. Between the marks nothing changes.
- While firing: a message when the severity changes (warning → critical on `escalate`,
  critical → warning only on `deescalate`, a lower mark), and a repeat every `renotify_ms`.
- `started_at` of an episode is when it became *pending*: the event time the problem began. The
  alert id is ``f"{kind}:{warehouse}:{started_at_ms}"``, so one episode keeps one id, a new
  episode gets a new one, and a replay of the same events gives the same ids.
- `ended_at` (and `updated_at`) of the resolved message is the event time of the evaluation
  that resolved it, i.e. after the clear hold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from ordermon.streams.outputs import Alert, Severity

Phase = Literal["pending", "firing"]
Signals = dict[str, float | int | str | None]

PENDING: Final = "pending"
FIRING: Final = "firing"


@dataclass(frozen=True, slots=True)
class Observation:
    """What the detector saw for one kind at one minute."""

    active: bool  # the fire condition holds
    clear: bool  # the clear condition holds (never together with `active`)
    escalate: bool = False  # severity should be critical
    deescalate: bool = True  # a critical alert may go back to warning
    summary: str = ""
    signals: Mapping[str, float | int | str | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Timing:
    for_ms: int
    clear_hold_ms: int
    renotify_ms: int


@dataclass(slots=True)
class Episode:
    """A pending or firing alert and what it last saw. Resolved episodes are dropped."""

    kind: str
    warehouse: str
    phase: Phase
    since_ms: int  # when it became pending: the episode's started_at
    updated_ms: int  # event time of the last evaluation
    severity: Severity = "warning"
    clear_since_ms: int | None = None  # the clear condition has held since then
    calm_since_ms: int | None = None  # a critical episode's de-escalation has held since then
    notified_ms: int | None = None  # event time of the last message
    summary: str = ""
    signals: Signals = field(default_factory=dict)

    @property
    def alert_id(self) -> str:
        return alert_id(self.kind, self.warehouse, self.since_ms)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "warehouse": self.warehouse,
            "phase": self.phase,
            "since": self.since_ms,
            "updated": self.updated_ms,
            "severity": self.severity,
            "clear_since": self.clear_since_ms,
            "calm_since": self.calm_since_ms,
            "notified": self.notified_ms,
            "summary": self.summary,
            "signals": dict(self.signals),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Episode:
        phase = data["phase"]
        severity = data["severity"]
        if phase not in (PENDING, FIRING) or severity not in ("warning", "critical"):
            raise ValueError(f"not an alert episode: {dict(data)!r}")
        return cls(
            kind=str(data["kind"]),
            warehouse=str(data["warehouse"]),
            phase=phase,
            since_ms=int(data["since"]),
            updated_ms=int(data["updated"]),
            severity=severity,
            clear_since_ms=None if data["clear_since"] is None else int(data["clear_since"]),
            calm_since_ms=None if data.get("calm_since") is None else int(data["calm_since"]),
            notified_ms=None if data["notified"] is None else int(data["notified"]),
            summary=str(data["summary"]),
            signals=dict(data["signals"]),
        )

    def message(self, at_ms: int, *, resolved: bool = False) -> Alert:
        """The contract's alert record of this episode at `at_ms`."""
        return Alert(
            alert_id=self.alert_id,
            kind=self.kind,
            warehouse=self.warehouse,
            severity=self.severity,
            state="resolved" if resolved else "firing",
            started_at_ms=self.since_ms,
            updated_at_ms=at_ms,
            summary=self.summary,
            signals=dict(self.signals),
            ended_at_ms=at_ms if resolved else None,
        )


def alert_id(kind: str, warehouse: str, started_at_ms: int) -> str:
    """Deterministic per episode: an episode starts at most once per (kind, warehouse, minute)."""
    return f"{kind}:{warehouse}:{started_at_ms}"


def step(
    episode: Episode | None,
    kind: str,
    warehouse: str,
    obs: Observation,
    at_ms: int,
    timing: Timing,
) -> tuple[Episode | None, Alert | None]:
    """Advance one (kind, warehouse) to event time `at_ms`. Returns (episode, message or None)."""
    if episode is None:
        if not obs.active:
            return None, None
        episode = Episode(kind, warehouse, PENDING, since_ms=at_ms, updated_ms=at_ms)
    episode.updated_ms = at_ms
    episode.summary = obs.summary
    episode.signals = dict(obs.signals)

    if episode.phase == PENDING:
        if not obs.active:
            return None, None  # the condition broke off before the hold: no episode
        if at_ms - episode.since_ms < timing.for_ms:
            return episode, None
        episode.phase = FIRING
        episode.severity = "critical" if obs.escalate else "warning"
        episode.notified_ms = at_ms
        return episode, episode.message(at_ms)

    if obs.clear:
        if episode.clear_since_ms is None:
            episode.clear_since_ms = at_ms
        if at_ms - episode.clear_since_ms >= timing.clear_hold_ms:
            hours = (at_ms - episode.since_ms) / 3_600_000
            episode.summary = f"{obs.summary} (resolved {hours:.1f} h after it began)"
            return None, episode.message(at_ms, resolved=True)
    else:
        episode.clear_since_ms = None
        severity = _severity(episode, obs, at_ms, timing)
        if severity != episode.severity:
            episode.severity = severity
            episode.notified_ms = at_ms
            return episode, episode.message(at_ms)
    if episode.notified_ms is None or at_ms - episode.notified_ms >= timing.renotify_ms:
        episode.notified_ms = at_ms
        return episode, episode.message(at_ms)
    return episode, None


def _severity(episode: Episode, obs: Observation, at_ms: int, timing: Timing) -> Severity:
    """The firing episode's severity after `obs`: warning → critical on `escalate`; critical →
    warning only once `deescalate` has held as long as a resolve must (no flapping between
    severities on noisy numbers)."""
    severity: Severity = episode.severity
    calming = severity == "critical" and obs.deescalate and not obs.escalate
    if severity == "warning" and obs.escalate:
        severity = "critical"
    elif calming:
        if episode.calm_since_ms is None:
            episode.calm_since_ms = at_ms
        if at_ms - episode.calm_since_ms >= timing.clear_hold_ms:
            severity = "warning"
    if not calming or severity == "warning":
        episode.calm_since_ms = None
    return severity
