"""devtools.sameout: the byte-for-byte comparison of alert transitions with an earlier tree's."""

from __future__ import annotations

from pathlib import Path

import pytest

from ordermon.devtools.sameout import CASES, compare, main


def test_equal_lines_are_identical_and_a_difference_is_located(tmp_path: Path) -> None:
    base = tmp_path / "case.jsonl"
    base.write_bytes(b'{"a":1}\n{"b":2}\n')
    assert compare([b'{"a":1}', b'{"b":2}'], base) is None
    diff = compare([b'{"a":1}', b'{"b":3}'], base)
    assert diff is not None and diff.startswith("line 2 differs")
    assert compare([b'{"a":1}'], base) == "2 transitions before, 1 after"
    assert compare([], tmp_path / "missing.jsonl") == f"{tmp_path / 'missing.jsonl'} is missing"


def test_the_cases_cover_benign_long_and_alerting_stories() -> None:
    assert {"steady", "night_lull", "jd2008_21d", "dispatch_overload", "load_100x2d"} <= set(CASES)


def test_an_unknown_case_is_refused_with_the_known_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path), "--cases", "nope"])
    assert "unknown case 'nope'; known: steady" in capsys.readouterr().err
