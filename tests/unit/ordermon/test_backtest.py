"""`ordermon backtest` and `ordermon simulate --out`: the recorded-events file, bad lines and dead
letters reported with their line numbers, episodes as a table or JSON (CONTRACT.md)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from ordermon.backtest import BadLine, Record, episodes, read_lines, replay, to_line
from ordermon.cli import main

EVENT = {
    "event_id": "e1",
    "status": "placed",
    "order_id": "o1",
    "warehouse": "W-1",
    "occurred_at": "2026-03-02T10:00:00Z",
}
RAW = orjson.dumps(EVENT)


def _line(**fields: object) -> bytes:
    return orjson.dumps(fields)


B64 = base64.b64encode(b"\xff").decode()


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (_line(topic="orders", key="W-1", value=EVENT), Record("orders", b"W-1", RAW, 1)),
        (_line(topic="orders", key="W-1", value=RAW.decode()), Record("orders", b"W-1", RAW, 1)),
        (_line(topic="orders", key=None, value=EVENT), Record("orders", None, RAW, 1)),
        (_line(topic="orders", key="W-1", value_b64=B64), Record("orders", b"W-1", b"\xff", 1)),
        (b'{"topic": "orders", "key": "W-1"', BadLine(1, "not JSON")),
        (b"[1, 2]", BadLine(1, "not a JSON object with topic, key and value")),
        (_line(key="W-1", value={}), BadLine(1, "`topic` is missing or not a string")),
        (_line(topic="orders", key=7, value={}), BadLine(1, "`key` must be a string")),
        (_line(topic="orders", key="W-1"), BadLine(1, "`value` is missing")),
        (_line(topic="orders", key="W-1", value_b64="!!"), BadLine(1, "`value_b64` is not base64")),
    ],
)
def test_read_lines(line: bytes, expected: Record | BadLine) -> None:
    (got,) = list(read_lines([line]))
    if isinstance(expected, BadLine):
        assert isinstance(got, BadLine) and got.line == 1
        assert got.reason.startswith(expected.reason)
    else:
        assert got == expected


def test_blank_lines_are_skipped_and_numbers_count_them() -> None:
    lines = [b"", to_line("orders", b"W-1", RAW), b"  ", b"oops"]
    out = list(read_lines(lines))
    assert [type(x).__name__ for x in out] == ["Record", "BadLine"]
    assert isinstance(out[0], Record) and out[0].line == 2
    assert isinstance(out[1], BadLine) and out[1].line == 4


def _write(tmp_path: Path, name: str, **kw: float) -> Path:
    path = tmp_path / f"{name}.jsonl"
    result = CliRunner().invoke(
        main,
        ["simulate", "--scenario", name, "--out", str(path)]
        + [f"--{k}={v}" for k, v in kw.items()],
    )
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture(scope="module")
def stall_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # the realistic stall: FRA-1 at 20% of its pace for 4 h on day 10, after a learned week
    # (before a week a site is judged over whole days only)
    return _write(tmp_path_factory.mktemp("stall"), "shift_stall", days=11, scale=0.25)


def test_simulate_out_then_backtest_finds_the_stall(stall_file: Path) -> None:
    """Two commands: the `shift_stall` scenario (FRA-1 dispatches at 20% of its pace for 4 h on
    day 10, in working hours, after a learned week) to a file, then the backtest's JSON lists a
    dispatch_backpressure episode at FRA-1 that began within the hour."""
    path = stall_file
    result = CliRunner().invoke(main, ["backtest", str(path), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert set(doc) == {"episodes", "summary", "bad_lines", "deadletters"}
    stalls = [
        e
        for e in doc["episodes"]
        if (e["kind"], e["warehouse"]) == ("dispatch_backpressure", "FRA-1")
        and e["fired_at"].startswith("2026-03-12T11:")
    ]
    assert len(stalls) == 1, doc["episodes"]
    lines = path.read_bytes().count(b"\n")
    assert doc["summary"]["messages"] == lines == doc["summary"]["events"]
    assert doc["summary"]["bad_lines"] == doc["summary"]["deadletters"] == 0
    episode = stalls[0]
    assert set(episode) == {
        "kind",
        "warehouse",
        "alert_id",
        "fired_at",
        "resolved_at",
        "severity",
        "critical_at",
        "signals",
    }
    assert episode["fired_at"] < (episode["resolved_at"] or "9")


def test_bad_lines_and_bad_events_are_reported_by_line_and_counted(tmp_path: Path) -> None:
    path = _write(tmp_path, "steady", days=0.05)
    lines = path.read_bytes().splitlines()
    bad_event = dict(EVENT, status="shipped")
    lines.insert(2, b"this is not json")
    lines.insert(5, orjson.dumps({"topic": "orders", "key": "W-1", "value": bad_event}))
    path.write_bytes(b"\n".join(lines) + b"\n")
    result = CliRunner().invoke(main, ["backtest", str(path)])
    assert result.exit_code == 0, result.output
    assert f"{path}:3: skipped: not JSON" in result.stderr
    assert f"{path}:6: dead letter (unknown_status)" in result.stderr
    assert "1 bad lines, 1 dead letters" in result.stderr
    assert result.stdout.splitlines()[0].split() == [
        "kind",
        "warehouse",
        "fired",
        "resolved",
        "severity",
    ]


def test_a_bad_policy_or_a_missing_file_is_one_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "steady", days=0.01)
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"for_ms": "soon"}))
    bad = CliRunner().invoke(main, ["backtest", str(path), "--policy", str(policy)])
    assert bad.exit_code == 2 and "for_ms" in bad.stderr and "Traceback" not in bad.output
    missing = CliRunner().invoke(main, ["backtest", str(tmp_path / "nope.jsonl")])
    assert missing.exit_code == 2 and "nope.jsonl" in missing.stderr


def test_a_policy_file_changes_the_episodes(tmp_path: Path, stall_file: Path) -> None:
    """The same file with a policy that needs a 12-hour hold: the 6-hour stall no longer fires."""
    path = stall_file
    policy = tmp_path / "policy.toml"
    policy.write_text('for_ms = "12h"\n')
    result = CliRunner().invoke(main, ["backtest", str(path), "--policy", str(policy), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["episodes"] == []


def test_a_replay_is_deterministic_and_folds_into_episodes(stall_file: Path) -> None:
    with stall_file.open("rb") as lines:
        records = [item for item in read_lines(lines) if isinstance(item, Record)]
    first, second = replay(records), replay(records)
    assert first.transitions == second.transitions
    assert first.episodes == episodes(first.transitions) != []


def test_simulate_lists_the_realistic_and_the_fixed_pace_scenarios() -> None:
    result = CliRunner().invoke(main, ["simulate", "--list"])
    assert result.exit_code == 0
    names = [line.split()[0] for line in result.stdout.splitlines()]
    assert {"healthy", "dispatch_overload", "shift_stall", "jd2008_shifts"} <= set(names)
    assert {"steady", "jd2008", "stall", "silent", "malformed"} <= set(names)


def test_simulate_names_an_unknown_scenario_in_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["simulate", "--scenario", "nope", "--out", "x.jsonl"])
    assert result.exit_code == 2
    assert "unknown scenario 'nope'" in result.stderr and "healthy" in result.stderr
