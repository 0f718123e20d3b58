"""Dashboards and rules read only metrics the code exports; the code exports the contract's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.ops.opslib import (
    PROMETHEUS_NAMES,
    ROOT,
    exported_names,
    exporting_registry,
    metric_names,
    panel_queries,
    recorded_names,
    rule_exprs,
    variable_queries,
)

CONTRACT = ROOT / "CONTRACT.md"
SHARED_CONTRACT = ROOT.parent / "shared" / "CONTRACT.md"


@pytest.fixture(scope="module")
def exported() -> set[str]:
    return exported_names()


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('sum by (queue) (ordermon_backlog{warehouse="$warehouse"})', {"ordermon_backlog"}),
        ("rate(a_total[$__rate_interval]) / on (x) group_left b", {"a_total", "b"}),
        ("histogram_quantile(0.99, sum by (le) (rate(h_bucket[5m])))", {"h_bucket"}),
        ('up{job="x"} == 0 or vector(0)', {"up"}),
        ("x > 1e3 and y offset 5m unless z", {"x", "y", "z"}),
        ('a{l=~"foo(bar)"} * 60', {"a"}),
        ("ordermon:consumer_lag:sum > 1000", {"ordermon:consumer_lag:sum"}),
        ("ordermon:events:rate10m / 0.5", {"ordermon:events:rate10m"}),
    ],
)
def test_metric_names_of_an_expression(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_dashboards_use_exported_names(exported: set[str]) -> None:
    unknown = {
        f"{q.dashboard} / {q.title}: {name}"
        for q in [*panel_queries(), *(v for v, _ in variable_queries())]
        for name in metric_names(q.expr)
        if name not in exported | PROMETHEUS_NAMES
    }
    assert not unknown


def test_rules_use_exported_or_recorded_names(exported: set[str]) -> None:
    known = exported | PROMETHEUS_NAMES | recorded_names()
    unknown = {f"{rule}: {name}" for rule, expr in rule_exprs() for name in metric_names(expr)} - {
        f"{rule}: {name}" for rule, expr in rule_exprs() for name in metric_names(expr) & known
    }
    assert not unknown


def test_the_dashboards_show_every_contract_gauge() -> None:
    used = {name for q in panel_queries() for name in metric_names(q.expr)}
    for name in (
        "ordermon_flow_rate_per_second",
        "ordermon_backlog",
        "ordermon_pressure_ratio",
        "ordermon_time_to_clear_seconds",
        "ordermon_alert_active",
        "ordermon_event_time_lag_seconds",
        "ordermon_deadletter_total",
    ):
        assert name in used, name


def contract_metrics(path: Path) -> dict[str, tuple[str, set[str]]]:
    """name -> (type, labels) from the contract's metrics table; a later row of the same name
    adds labels (the repository's extension of a shared row kept as it is)."""
    text = path.read_text(encoding="utf-8")
    section = text.split("## Prometheus metrics", 1)[1].split("\n## ", 1)[0]
    out = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].startswith("`ordermon_"):
            label_cell = re.sub(r"\([^)]*\)", "", cells[2].split(":")[0])  # no value lists
            labels = set(re.findall(r"`([a-z_]+)`", label_cell))
            name = cells[0].strip("`")
            out[name] = (cells[1], labels | out.get(name, ("", set()))[1])
    return out


def test_every_contract_metric_is_exported_with_its_type_and_labels() -> None:
    expected = contract_metrics(CONTRACT)
    assert len(expected) >= 8, "could not read the contract's metrics table"
    registry, metrics, _ = exporting_registry()
    metrics.events.labels(topic="orders", status="placed", warehouse="BJ1").inc()
    found: dict[str, tuple[str, set[str]]] = {}
    for family in registry.collect():
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            kind, labels = found.setdefault(sample.name, (family.type, set()))
            labels |= set(sample.labels)
    for name, (kind, labels) in expected.items():
        assert name in found, f"{name} is in the contract but not exported"
        assert found[name][0] == kind, f"{name}: {found[name][0]}, contract says {kind}"
        assert found[name][1] == labels, f"{name}: labels {found[name][1]}, contract {labels}"


def table_rows(text: str) -> set[str]:
    """Every table row of a markdown text, whitespace-normalised (header separators left out)."""
    rows = set()
    for line in text.splitlines():
        if line.startswith("|") and not set(line) <= set("|-: "):
            rows.add(" | ".join(c.strip() for c in line.strip().strip("|").split("|")))
    return rows


def test_the_repository_contract_keeps_every_row_of_the_shared_one() -> None:
    """The copy users read extends the team's shared contract and never drops or renames a row."""
    if not SHARED_CONTRACT.is_file():
        pytest.skip(f"{SHARED_CONTRACT} not found (CI checks out ../shared beside the repository)")
    missing = table_rows(SHARED_CONTRACT.read_text(encoding="utf-8")) - table_rows(
        CONTRACT.read_text(encoding="utf-8")
    )
    assert not missing, f"rows of the shared contract missing from CONTRACT.md: {sorted(missing)}"
