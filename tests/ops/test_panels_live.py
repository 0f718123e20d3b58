"""Every PromQL expression of every dashboard panel, run through a real Prometheus that scrapes
a real /metrics page, must return at least one series.

Two targets: `fake_target` serves what the code registers with a fixed state (it catches a
panel that asks for a name or label the code does not export), and `metrics_target` a worker
fed by the simulator (it catches a metric that the worker never fills in)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ops.live import Prometheus, start_prometheus
from tests.ops.opslib import PROMETHEUS, PanelQuery, panel_queries

pytestmark = pytest.mark.ops

RATE_INTERVAL = "1m"  # stands in for Grafana's $__rate_interval and $__interval


def choose_warehouse(prom: Prometheus) -> str | None:
    """The warehouse to view the warehouse dashboard for: one with a firing alert if there is
    one (so that its alert panel has something to show), else any that has a backlog."""
    for expr in ("ordermon_alert_active == 1", "ordermon_backlog"):
        for series in prom.query(expr):
            warehouse = series["metric"].get("warehouse")
            if warehouse and warehouse != "*":
                return str(warehouse)
    return None


def substitute(expr: str, warehouse: str) -> str:
    return (
        expr.replace("$__rate_interval", RATE_INTERVAL)
        .replace("$__interval", RATE_INTERVAL)
        .replace("$warehouse", warehouse)
    )


def empty_panels(prom: Prometheus, queries: list[PanelQuery]) -> list[PanelQuery]:
    warehouse = choose_warehouse(prom)
    if warehouse is None:
        return list(queries)
    return [q for q in queries if not prom.query(substitute(q.expr, warehouse))]


def check_every_panel(prom: Prometheus, timeout: float) -> None:
    """Poll until every panel has data; then fail naming each panel still without any."""
    queries = panel_queries()
    assert queries, "no panel queries found"
    deadline = time.monotonic() + timeout
    missing = empty_panels(prom, queries)
    while missing and time.monotonic() < deadline:
        time.sleep(2)
        missing = empty_panels(prom, missing)
    listed = "\n".join(f"  {q}" for q in missing)
    assert not missing, f"panels without data after {timeout:.0f} s:\n{listed}"


@pytest.fixture
def prometheus_for_fake(tmp_path: Path, fake_target: str) -> Iterator[Prometheus]:
    yield from start_prometheus(tmp_path, fake_target, (PROMETHEUS / "rules.yml",))


@pytest.fixture
def prometheus_for_worker(tmp_path: Path, metrics_target: str) -> Iterator[Prometheus]:
    yield from start_prometheus(tmp_path, metrics_target)


def test_every_panel_has_data_from_what_the_code_exports(prometheus_for_fake: Prometheus) -> None:
    check_every_panel(prometheus_for_fake, timeout=90)


def test_every_rule_evaluates_without_error(prometheus_for_fake: Prometheus) -> None:
    """Rules load into a real Prometheus and evaluate against real series without errors."""
    prom = prometheus_for_fake

    def evaluated() -> list[dict[str, object]] | None:
        rules = [r for g in prom.get("/api/v1/rules")["groups"] for r in g["rules"]]
        return (
            rules
            if rules and all(r.get("lastEvaluation", "0001").startswith("2") for r in rules)
            else None
        )

    deadline = time.monotonic() + 60
    rules = evaluated()
    while rules is None and time.monotonic() < deadline:
        time.sleep(1)
        rules = evaluated()
    assert rules is not None, "the rules were never evaluated"
    bad = {r["name"]: r.get("lastError") for r in rules if r.get("health") != "ok"}
    assert not bad


@pytest.mark.integration
@pytest.mark.timeout(600)  # start-up, plus the polling below
def test_every_panel_has_data_from_a_live_worker(prometheus_for_worker: Prometheus) -> None:
    check_every_panel(prometheus_for_worker, timeout=300)
