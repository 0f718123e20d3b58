"""The scoring harness, table-driven: episodes and truths in, the SRE workbook's measures out."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ordermon.backtest import Episode, episodes
from ordermon.devtools.operations import Truth
from ordermon.devtools.scoring import duration, score, table
from ordermon.streams.outputs import Alert

H = 3_600_000
D = 24 * H
END = 14 * D  # runs of 14 days from 0, 4 sites


def ep(
    kind: str,
    wh: str,
    fired_h: float,
    resolved_h: float | None,
    severity: str = "critical",
    **signals: float,
) -> Episode:
    return Episode(
        kind,
        wh,
        f"{kind}:{wh}:{fired_h}",
        round(fired_h * H),
        None if resolved_h is None else round(resolved_h * H),
        severity,
        round(fired_h * H) if severity == "critical" else None,
        dict(signals),
    )


OVERLOAD = Truth(
    "dispatch_backpressure",
    "LYS-2",
    fault_start_ms=5 * D,
    fire_from_ms=5 * D,
    fire_by_ms=6 * D,
    fault_end_ms=9 * D,
    cleared_ms=11 * D,
    also=("cascade",),
)
FORECAST = Truth(
    "forecast_overload",
    "FRA-1",
    fault_start_ms=20 * D,
    fire_from_ms=6 * D,
    fire_by_ms=15 * D,
    value=20_000.0,
)


@dataclass(frozen=True)
class Row:
    why: str
    episodes: tuple[Episode, ...]
    truths: tuple[Truth, ...]
    precision: float | None
    recall: float | None
    detection_h: list[float]
    reset_h: list[float]
    early: int
    per_site_14d: float
    capacity_error: float | None = None


ROWS = [
    Row("nothing happens, nothing fires", (), (), None, None, [], [], 0, 0.0),
    Row(
        "a healthy site paged at night: every page false",
        (
            ep("dispatch_backpressure", "FRA-1", 23.5, 31),
            ep("service_backpressure", "FRA-1", 47, 57),
        ),
        (),
        0.0,
        None,
        [],
        [],
        0,
        0.5,
    ),
    Row(
        "the overload caught after 6 h, held through the fault, resolved 30 min after it cleared",
        (ep("dispatch_backpressure", "LYS-2", 5 * 24 + 6, 11 * 24 + 0.5),),
        (OVERLOAD,),
        1.0,
        1.0,
        [6],
        [0.5],
        0,
        0.25,
    ),
    Row(
        "caught, but resolved on day 7 while the fault lasts to day 9; a cascade is a true page",
        (
            ep("dispatch_backpressure", "LYS-2", 5 * 24 + 2, 7 * 24),
            ep("cascade", "LYS-2", 5 * 24 + 3, 7 * 24),
        ),
        (OVERLOAD,),
        1.0,
        1.0,
        [2],
        [-4 * 24],
        1,
        0.5,
    ),
    Row(
        "fired too late (after fire_by): missed; still a true page (the fault is on)",
        (ep("dispatch_backpressure", "LYS-2", 7 * 24, None),),
        (OVERLOAD,),
        1.0,
        0.0,
        [],
        [],
        0,
        0.25,
    ),
    Row(
        "right kind, wrong site: false and missed",
        (ep("dispatch_backpressure", "MIL-3", 5 * 24 + 1, 6 * 24),),
        (OVERLOAD,),
        0.0,
        0.0,
        [],
        [],
        0,
        0.25,
    ),
    Row(
        "a warning that catches the fault counts for recall but is not a page",
        (ep("dispatch_backpressure", "LYS-2", 5 * 24 + 1, None, "warning"),),
        (OVERLOAD,),
        None,
        1.0,
        [1],
        [],
        0,
        0.25,
    ),
    Row(
        "fired long after the effect cleared (+grace): false",
        (ep("dispatch_backpressure", "LYS-2", 12 * 24, 12 * 24 + 3),),
        (OVERLOAD,),
        0.0,
        0.0,
        [],
        [],
        0,
        0.25,
    ),
    Row(
        "a forecast 10 days ahead with a capacity estimate 10% high",
        (ep("forecast_overload", "FRA-1", 10 * 24, None, "warning", capacity_per_day=22_000.0),),
        (FORECAST,),
        None,
        1.0,
        [-240],
        [],
        0,
        0.25,
        0.1,
    ),
    Row(
        "a forecast 17 days ahead is too early: false, and not a detection",
        (ep("forecast_overload", "FRA-1", 3 * 24, None, "critical", capacity_per_day=1.0),),
        (FORECAST,),
        0.0,
        0.0,
        [],
        [],
        0,
        0.25,
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.why for r in ROWS])
def test_measures(row: Row) -> None:
    s = score("t", row.episodes, row.truths, start_ms=0, end_ms=END, sites=4)
    assert s.precision == row.precision
    assert s.recall == row.recall
    assert [ms / H for ms in s.detection_ms()] == row.detection_h
    assert [ms / H for ms in s.reset_ms()] == row.reset_h
    assert len(s.resolved_early()) == row.early
    assert s.episodes_per_site_per_14_days == row.per_site_14d
    errors = [d.capacity_error for d in s.detections if d.capacity_error is not None]
    assert errors == ([] if row.capacity_error is None else [pytest.approx(row.capacity_error)])


def test_tolerated_truths_are_not_timed() -> None:
    tolerated = replace(OVERLOAD, required=False)
    s = score(
        "t",
        (ep("dispatch_backpressure", "LYS-2", 5 * 24 + 6, 11 * 24 + 0.5),),
        (tolerated,),
        start_ms=0,
        end_ms=END,
        sites=4,
    )
    assert s.precision == 1.0 and s.recall is None
    assert s.detection_ms() == [] and s.reset_ms() == []


def test_the_rate_scales_to_two_weeks() -> None:
    s = score("t", [ep("cascade", "*", 1, 2)] * 2, (), start_ms=0, end_ms=28 * D, sites=2)
    assert s.episodes_per_site_per_14_days == 0.5
    assert s.pages_per_site_per_14_days == 0.5


def test_episodes_fold_transitions_and_keep_the_highest_severity() -> None:
    def alert(state: str, severity: str, at_h: float) -> Alert:
        ms = round(at_h * H)
        return Alert(
            "a1",
            "dispatch_backpressure",
            "FRA-1",
            severity,  # type: ignore[arg-type]
            state,  # type: ignore[arg-type]
            0,
            ms,
            "",
            {"backlog": 1},
            ms if state == "resolved" else None,
        )

    (only,) = episodes(
        [
            alert("firing", "warning", 1),
            alert("firing", "critical", 2),
            alert("firing", "warning", 3),
            alert("resolved", "warning", 4),
        ]
    )
    assert (only.fired_ms, only.resolved_ms, only.severity, only.critical_ms) == (
        H,
        4 * H,
        "critical",
        2 * H,
    )
    assert only.signals == {"backlog": 1}


def test_the_table_pools_seeds() -> None:
    a = score("overload", (ep("dispatch_backpressure", "LYS-2", 126, 264.5),), (OVERLOAD,),
              start_ms=0, end_ms=END, sites=4, seed=0)  # fmt: skip
    b = score("overload", (), (OVERLOAD,), start_ms=0, end_ms=END, sites=4, seed=1)
    text = table([a, b])
    assert "| overload | 2 | 1 | 100% | 50% | 6.0 h | 30 min | 0.1 |" in text


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0, "0 min"),
        (90 * 60_000, "90 min"),
        (3 * H, "3.0 h"),
        (-13 * D, "-13.0 d"),
        (2 * D, "2.0 d"),
    ],
)
def test_durations_read_for_people(ms: int, text: str) -> None:
    assert duration(ms) == text


KINDS = ("dispatch_backpressure", "service_backpressure", "cascade", "forecast_overload")
SITES = ("FRA-1", "LYS-2")


@st.composite
def episode_lists(draw: st.DrawFn) -> list[Episode]:
    out = []
    for i in range(draw(st.integers(0, 12))):
        fired = draw(st.integers(0, 14 * 24 * 60))
        length = draw(st.none() | st.integers(1, 3 * 24 * 60))
        out.append(
            Episode(
                draw(st.sampled_from(KINDS)),
                draw(st.sampled_from(SITES)),
                f"a{i}",
                fired * 60_000,
                None if length is None else (fired + length) * 60_000,
                draw(st.sampled_from(("warning", "critical"))),
                None,
            )
        )
    return out


@given(episode_lists(), st.booleans())
def test_scores_stay_in_range_and_unexplained_kinds_are_false(
    eps: list[Episode], with_truth: bool
) -> None:
    truths = (OVERLOAD,) if with_truth else ()
    s = score("p", eps, truths, start_ms=0, end_ms=END, sites=2)
    assert 0 <= s.true_pages <= s.pages <= s.episodes == len(eps)
    assert s.precision is None or 0.0 <= s.precision <= 1.0
    assert s.recall is None or s.recall in (0.0, 1.0)
    for e in eps:
        if e.warehouse != "LYS-2" or e.kind not in ("dispatch_backpressure", "cascade"):
            assert e in s.false
    if not with_truth:
        assert len(s.false) == len(eps) and s.recall is None
