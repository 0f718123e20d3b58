"""Replay recorded contract events offline through the worker's own code, and list the episodes.

`replay()` is the one place that drives the worker's batch loop offline (today
`ordermon.agents.engine.Engine.offline`: the worker's engine with a store that keeps everything in
memory); the backtest command, the scenario suite and the tests all go through it.
No Kafka, no wall clock: the processing clock of a replay is the newest event time read so far,
so a replay of the same file gives the same alerts every time.

Input file (`read_lines`): JSON lines, one message each, ``{"topic": ..., "key": ..., "value":
...}``: `topic` the contract topic name, `key` the message key as text (the warehouse id; null for
none), and `value` the wire JSON, either the event object itself or its JSON text as a string
(`value_b64` instead: the value's bytes in base64, for values that are not UTF-8).
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson

from ordermon.agents.engine import Engine, Message
from ordermon.agents.logic.flow import FlowConfig
from ordermon.agents.logic.policy import Policy
from ordermon.streams.codec import decode
from ordermon.streams.outputs import Alert, DeadLetter
from ordermon.streams.timefmt import format_rfc3339_ms
from ordermon.streams.validation import Rejection

BATCH = 500  # messages per batch, as the worker takes them from Kafka


class Record(NamedTuple):
    """One recorded message: `line` is its line number in the file (0 when not from a file)."""

    topic: str
    key: bytes | None
    value: bytes | None
    line: int = 0


@dataclass(frozen=True, slots=True)
class BadLine:
    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class Episode:
    """One alert episode: from its first `firing` to its `resolved` (None: still firing)."""

    kind: str
    warehouse: str
    alert_id: str
    fired_ms: int
    resolved_ms: int | None
    severity: str  # the highest it reached
    critical_ms: int | None  # when it first was critical
    signals: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)  # at firing

    def to_json(self) -> dict[str, Any]:
        """The episode as in `ordermon backtest --json` (CONTRACT.md)."""

        def when(ms: int | None) -> str | None:
            return None if ms is None else format_rfc3339_ms(ms)

        return {
            "kind": self.kind,
            "warehouse": self.warehouse,
            "alert_id": self.alert_id,
            "fired_at": format_rfc3339_ms(self.fired_ms),
            "resolved_at": when(self.resolved_ms),
            "severity": self.severity,
            "critical_at": when(self.critical_ms),
            "signals": self.signals,
        }


@dataclass
class Result:
    transitions: list[Alert] = field(default_factory=list)
    deadletters: list[tuple[int, DeadLetter]] = field(default_factory=list)  # (line, letter)
    counted: Counter[str] = field(default_factory=Counter)  # topic -> events counted
    duplicates: int = 0
    messages: int = 0

    @property
    def episodes(self) -> list[Episode]:
        return episodes(self.transitions)


def episodes(transitions: Iterable[Alert]) -> list[Episode]:
    """Alert transitions folded into episodes (by `alert_id`), in the order they fired."""
    open_: dict[str, Episode] = {}
    done: list[Episode] = []
    for a in transitions:
        ep = open_.get(a.alert_id)
        if ep is None:
            if a.state != "firing":
                continue
            ep = Episode(
                a.kind, a.warehouse, a.alert_id, a.updated_at_ms, None, a.severity, None, a.signals
            )
        if a.severity == "critical":
            ep = _with(ep, severity="critical", critical_ms=ep.critical_ms or a.updated_at_ms)
        if a.state == "resolved":
            done.append(_with(ep, resolved_ms=a.ended_at_ms or a.updated_at_ms))
            open_.pop(a.alert_id, None)
        else:
            open_[a.alert_id] = ep
    return sorted(done + list(open_.values()), key=lambda e: (e.fired_ms, e.kind, e.warehouse))


def _with(ep: Episode, **changes: Any) -> Episode:
    values = {name: getattr(ep, name) for name in Episode.__slots__}
    values.update(changes)
    return Episode(**values)


def replay(
    records: Iterable[Record],
    policy: Policy | None = None,
    flow_config: FlowConfig | None = None,
    *,
    batch: int = BATCH,
    max_warehouses: int = 1000,
) -> Result:
    """Every alert transition and dead letter of `records`, replayed in batches in file order
    through the worker's loop. The processing clock is the newest event time read so far."""
    flow = flow_config or FlowConfig()
    pipeline = Engine.offline(flow, policy or Policy(), max_warehouses=max_warehouses)
    result = Result()
    offsets: Counter[str] = Counter()  # per topic, as a partition's offsets: dedup relies on them
    pending: list[Record] = []
    now_ms: int | None = None
    for record in records:
        if now_ms is None:
            first = decode(record.topic, record.key, record.value)
            if not isinstance(first, Rejection):
                now_ms = first.occurred_at_ms
        pending.append(record)
        if len(pending) >= batch:
            now_ms = _feed(pipeline, pending, now_ms, result, offsets)
            pending = []
    _feed(pipeline, pending, now_ms, result, offsets)
    return result


def _feed(
    pipeline: Engine,
    records: list[Record],
    now_ms: int | None,
    result: Result,
    offsets: Counter[str],
) -> int:
    """One batch through the pipeline; returns the clock for the next batch."""
    if not records:
        return now_ms or 0
    now = now_ms or 0
    messages = []
    lines: dict[tuple[str, int], int] = {}
    for r in records:
        offset = offsets[r.topic]
        offsets[r.topic] = offset + 1
        lines[r.topic, offset] = r.line
        messages.append(Message(r.topic, 0, offset, r.key, r.value))
    out = pipeline.process(messages, now, flush=False)
    pipeline.flush()  # the records to persist: nothing keeps them offline
    result.messages += len(records)
    result.transitions += out.alerts
    result.counted.update(topic for topic, _, _ in out.counted.elements())
    result.duplicates += sum(out.duplicates.values()) + sum(out.duplicate_ids.values())
    for letter in out.deadletters:
        result.deadletters.append((lines.get((letter.source_topic, letter.offset), 0), letter))
    newest = max(pipeline.newest_event_ms().values(), default=now)
    return max(now, newest)


def read_lines(lines: Iterable[str | bytes]) -> Iterator[Record | BadLine]:
    """Parse a JSON-lines file of recorded messages (see the module docstring); a line that is
    not one comes out as a `BadLine` with its number and why. Blank lines are skipped."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            yield BadLine(number, f"not JSON ({exc})")
            continue
        if not isinstance(obj, dict):
            yield BadLine(number, "not a JSON object with topic, key and value")
            continue
        topic, key, value = obj.get("topic"), obj.get("key"), obj.get("value", ...)
        if value is ... and isinstance(obj.get("value_b64"), str):
            try:
                value = base64.b64decode(obj["value_b64"], validate=True)
            except ValueError:
                yield BadLine(number, "`value_b64` is not base64")
                continue
        if not isinstance(topic, str):
            yield BadLine(number, "`topic` is missing or not a string")
        elif key is not None and not isinstance(key, str):
            yield BadLine(number, "`key` must be a string (the warehouse id) or null")
        elif value is ...:
            yield BadLine(number, "`value` is missing")
        else:
            raw = (
                value
                if isinstance(value, bytes)
                else value.encode()
                if isinstance(value, str)
                else orjson.dumps(value)
            )
            yield Record(topic, None if key is None else key.encode(), raw, number)


def to_line(topic: str, key: bytes | None, value: bytes, *, raw: bool = False) -> bytes:
    """One line of a recorded-events file: the value as the JSON object itself, or with `raw`
    as its text (a string, any bytes that are UTF-8) or base64 (`value_b64`, any other bytes)."""
    line: dict[str, Any] = {
        "topic": topic,
        "key": None if key is None else key.decode("utf-8", "replace"),
    }
    if not raw:
        line["value"] = orjson.Fragment(value)
    else:
        try:
            line["value"] = value.decode("utf-8")
        except UnicodeDecodeError:
            line["value_b64"] = base64.b64encode(value).decode("ascii")
    return orjson.dumps(line)


def summary(result: Result, bad_lines: int) -> dict[str, int]:
    eps = result.episodes
    return {
        "lines": result.messages + bad_lines,
        "messages": result.messages,
        "events": sum(result.counted.values()),
        "bad_lines": bad_lines,
        "deadletters": len(result.deadletters),
        "duplicates": result.duplicates,
        "episodes": len(eps),
        "critical_episodes": sum(1 for e in eps if e.severity == "critical"),
    }


def render_table(eps: Iterable[Episode]) -> str:
    """The episodes as a fixed-width table for a terminal."""
    header = ("kind", "warehouse", "fired", "resolved", "severity")
    rows = [
        (
            e.kind,
            e.warehouse,
            format_rfc3339_ms(e.fired_ms),
            "-" if e.resolved_ms is None else format_rfc3339_ms(e.resolved_ms),
            e.severity,
        )
        for e in eps
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    )


def render_json(result: Result, bad: Iterable[BadLine]) -> dict[str, Any]:
    """The `--json` document (CONTRACT.md, "Backtest output")."""
    bad = list(bad)
    return {
        "episodes": [e.to_json() for e in result.episodes],
        "summary": summary(result, len(bad)),
        "bad_lines": [{"line": b.line, "reason": b.reason} for b in bad],
        "deadletters": [
            {"line": line, "topic": d.source_topic, "reason": d.reason, "error": d.error}
            for line, d in result.deadletters
        ],
    }
