"""Score a run's alert episodes against its ground truth, the way the SRE workbook judges alerting.

Pure: episodes (`ordermon.backtest.Episode`) and truths (`ordermon.devtools.operations.Truth`)
in, numbers out.

- A **page** is an episode that reached a paging severity (`critical` by default: the
  Alertmanager example routes critical alerts to the pager, warnings to chat).
- An episode is **true** when a truth of its warehouse explains it: its kind is the truth's kind
  and it fired between `fire_from_ms` and the end of the fault's effect (`cleared_ms`, else
  `fault_end_ms`... else the run's end) plus `GRACE_MS`; or its kind is one of the truth's `also`
  kinds and it fired from `fault_start_ms` to that same end.
- **Precision**: true pages / pages (None when nothing paged).
- **Recall**: required truths caught / required truths; caught = an episode of the truth's kind
  and warehouse (any severity) first fired within [`fire_from_ms`, `fire_by_ms`] (no limit when
  `fire_by_ms` is None). None when the scenario has no required truth.
- **Detection time**: that first fire minus `fault_start_ms` (for `forecast_overload` the fault
  starts at the crossing, so a forecast days ahead has a negative detection time).
- **Reset time**: that episode's resolve minus `cleared_ms` (None while either is missing).
- **Resolved early**: that episode resolved before the fault ended (`fault_end_ms`, or the run's
  end for a fault that lasts).
- **Episodes per site per 14 days**: all episodes (and pages) / sites / (days / 14).
- **Capacity error**: for a truth with a `value`, the detecting episode's `capacity_per_day`
  signal relative to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from ordermon.backtest import Episode
from ordermon.devtools.operations import DAY_MS, Truth

GRACE_MS: Final = 60 * 60_000  # an episode of a fault may fire (and resolve) this long after it
PAGING: Final = ("critical",)


@dataclass(frozen=True, slots=True)
class Detection:
    truth: Truth
    episode: Episode | None  # the first episode that caught it in its window; None: missed

    @property
    def detection_ms(self) -> int | None:
        return None if self.episode is None else self.episode.fired_ms - self.truth.fault_start_ms

    @property
    def reset_ms(self) -> int | None:
        if self.episode is None or self.episode.resolved_ms is None:
            return None
        if self.truth.cleared_ms is None:
            return None
        return self.episode.resolved_ms - self.truth.cleared_ms

    def resolved_early(self, run_end_ms: int) -> bool:
        if self.episode is None or self.episode.resolved_ms is None:
            return False
        end = self.truth.fault_end_ms if self.truth.fault_end_ms is not None else run_end_ms
        return self.episode.resolved_ms < end

    @property
    def capacity_error(self) -> float | None:
        """|estimate - truth| / truth of the `capacity_per_day` signal, for a truth with a value."""
        if self.episode is None or not self.truth.value:
            return None
        estimate = self.episode.signals.get("capacity_per_day")
        if not isinstance(estimate, int | float):
            return None
        return abs(float(estimate) - self.truth.value) / self.truth.value


@dataclass(frozen=True, slots=True)
class Score:
    scenario: str
    seed: int
    sites: int
    days: float
    episodes: int
    pages: int
    true_pages: int
    false: tuple[Episode, ...]  # episodes no truth explains (pages or not)
    detections: tuple[Detection, ...] = field(default=())
    run_end_ms: int = 0

    @property
    def precision(self) -> float | None:
        return None if self.pages == 0 else self.true_pages / self.pages

    @property
    def recall(self) -> float | None:
        required = [d for d in self.detections if d.truth.required]
        if not required:
            return None
        return sum(1 for d in required if d.episode is not None) / len(required)

    @property
    def episodes_per_site_per_14_days(self) -> float:
        return self.episodes / self.sites / (self.days / 14)

    @property
    def pages_per_site_per_14_days(self) -> float:
        return self.pages / self.sites / (self.days / 14)

    def detection_ms(self) -> list[int]:
        """Detection times of the required truths caught (tolerated ones are not faults)."""
        return [
            d.detection_ms
            for d in self.detections
            if d.truth.required and d.detection_ms is not None
        ]

    def reset_ms(self) -> list[int]:
        return [d.reset_ms for d in self.detections if d.truth.required and d.reset_ms is not None]

    def resolved_early(self) -> list[Detection]:
        return [d for d in self.detections if d.resolved_early(self.run_end_ms)]


def _effect_end(truth: Truth, run_end_ms: int) -> int:
    if truth.cleared_ms is not None:
        return truth.cleared_ms
    return run_end_ms


def explained(episode: Episode, truths: Iterable[Truth], run_end_ms: int) -> bool:
    """Whether a truth explains `episode` (see the module docstring)."""
    for t in truths:
        if t.warehouse != episode.warehouse:
            continue
        end = _effect_end(t, run_end_ms) + GRACE_MS
        if episode.kind == t.kind and t.fire_from_ms <= episode.fired_ms <= end:
            return True
        if episode.kind in t.also and t.fault_start_ms <= episode.fired_ms <= end:
            return True
    return False


def detect(truth: Truth, episodes: Sequence[Episode]) -> Detection:
    """The first episode of the truth's kind and warehouse that fired within its window."""
    for ep in episodes:
        if ep.kind != truth.kind or ep.warehouse != truth.warehouse:
            continue
        late = truth.fire_by_ms is not None and ep.fired_ms > truth.fire_by_ms
        if truth.fire_from_ms <= ep.fired_ms and not late:
            return Detection(truth, ep)
    return Detection(truth, None)


def score(
    scenario: str,
    episodes: Sequence[Episode],
    truths: Sequence[Truth],
    *,
    start_ms: int,
    end_ms: int,
    sites: int,
    seed: int = 0,
    paging: Sequence[str] = PAGING,
) -> Score:
    """The measures of one run (see the module docstring)."""
    ordered = sorted(episodes, key=lambda e: e.fired_ms)
    pages = [e for e in ordered if e.severity in paging]
    false = tuple(e for e in ordered if not explained(e, truths, end_ms))
    true_pages = sum(1 for e in pages if e not in false)
    return Score(
        scenario=scenario,
        seed=seed,
        sites=sites,
        days=(end_ms - start_ms) / DAY_MS,
        episodes=len(ordered),
        pages=len(pages),
        true_pages=true_pages,
        false=false,
        detections=tuple(detect(t, ordered) for t in truths),
        run_end_ms=end_ms,
    )


def duration(ms: float) -> str:
    """A signed duration for people: minutes up to 2 h, hours up to 2 days, then days."""
    size = abs(ms)
    if size < 2 * 3_600_000:
        return f"{ms / 60_000:.0f} min"
    if size < 2 * DAY_MS:
        return f"{ms / 3_600_000:.1f} h"
    return f"{ms / DAY_MS:.1f} d"


def _span(values: list[int]) -> str:
    if not values:
        return "-"
    lo, hi = duration(min(values)), duration(max(values))
    return lo if lo == hi else f"{lo} to {hi}"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def table(scores: Sequence[Score]) -> str:
    """A markdown table, one row per scenario (seeds pooled): what the README shows."""
    rows = [
        "| scenario | seeds | pages | precision | recall | detection | reset "
        "| episodes / site / 14 d |",
        "|---|---|---|---|---|---|---|---|",
    ]
    by_name: dict[str, list[Score]] = {}
    for s in scores:
        by_name.setdefault(s.scenario, []).append(s)
    for name, group in by_name.items():
        pages = sum(s.pages for s in group)
        true_pages = sum(s.true_pages for s in group)
        precision = None if pages == 0 else true_pages / pages
        caught = [d for s in group for d in s.detections if d.truth.required]
        recall = None if not caught else sum(d.episode is not None for d in caught) / len(caught)
        detection = [v for s in group for v in s.detection_ms()]
        reset = [v for s in group for v in s.reset_ms()]
        rate = sum(s.episodes_per_site_per_14_days for s in group) / len(group)
        rows.append(
            f"| {name} | {len(group)} | {pages} | {_share(precision)} | {_share(recall)} "
            f"| {_span(detection)} | {_span(reset)} | {rate:.1f} |"
        )
    return "\n".join(rows)
