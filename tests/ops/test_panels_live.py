"""Every PromQL expression of every dashboard panel, run through a real Prometheus that scrapes
a real /metrics page, must return at least one series.

Two targets: `fake_target` serves what the code registers with a fixed state (it catches a
panel that asks for a name or label the code does not export), and `metrics_target` a worker
fed by the simulator (it catches a metric that the worker never fills in)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ops.live import Prometheus, start_prometheus
from tests.ops.opslib import (
    GRAFANA,
    PROMETHEUS,
    PanelQuery,
    panel_queries,
    render_bundle,
    variable_queries,
)

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


_VARIABLE = re.compile(r"\$\{?(\w+)\}?")


def substitute(expr: str, values: dict[str, str]) -> str:
    """`expr` with Grafana's variables replaced as Grafana would: `$__rate_interval` and
    `$__interval` by RATE_INTERVAL, the dashboard's own (`$job`, `$instance`, `$warehouse`,
    `$datasource`) by `values`; an unknown variable fails the test."""

    def value(m: re.Match[str]) -> str:
        name = m.group(1)
        if name in ("__rate_interval", "__interval"):
            return RATE_INTERVAL
        assert name in values, f"unknown variable ${name} in {expr}"
        return values[name]

    return _VARIABLE.sub(value, expr)


def dashboard_values(prom: Prometheus, job: str) -> dict[str, str] | None:
    """The variables as a person would set them: the scrape job, every instance (the
    variable's All value), the warehouse of choose_warehouse; None before there is one."""
    warehouse = choose_warehouse(prom)
    if warehouse is None:
        return None
    return {"job": job, "instance": ".+", "warehouse": warehouse, "datasource": "prometheus"}


def empty_panels(prom: Prometheus, queries: list[PanelQuery], job: str) -> list[PanelQuery]:
    values = dashboard_values(prom, job)
    if values is None:
        return list(queries)
    return [q for q in queries if not prom.query(substitute(q.expr, values))]


def check_every_panel(
    prom: Prometheus, timeout: float, *, folder: Path = GRAFANA, job: str = "ordermon"
) -> None:
    """Poll until every panel has data; then fail naming each panel still without any."""
    queries = panel_queries(folder)
    assert queries, "no panel queries found"
    deadline = time.monotonic() + timeout
    missing = empty_panels(prom, queries, job)
    while missing and time.monotonic() < deadline:
        time.sleep(2)
        missing = empty_panels(prom, missing, job)
    listed = "\n".join(f"  {q}" for q in missing)
    assert not missing, f"panels without data after {timeout:.0f} s:\n{listed}"
    check_variables(prom, folder, job)


def check_variables(prom: Prometheus, folder: Path, job: str) -> None:
    """Every query variable finds values: $job the scrape job, $instance and $warehouse some."""
    values = dashboard_values(prom, job)
    assert values is not None
    for query, label in variable_queries(folder):
        found = {s["metric"].get(label) for s in prom.query(substitute(query.expr, values))}
        found.discard(None)
        assert found, f"{query}: no {label} values"
        if label == "job":
            assert found == {job}, f"{query}: {found}"


def rules_state(prom: Prometheus, timeout: float = 60) -> list[dict[str, Any]]:
    """Every rule, once each has been evaluated at least once."""

    def evaluated() -> list[dict[str, Any]] | None:
        rules = [r for g in prom.get("/api/v1/rules")["groups"] for r in g["rules"]]
        return (
            rules
            if rules and all(r.get("lastEvaluation", "0001").startswith("2") for r in rules)
            else None
        )

    deadline = time.monotonic() + timeout
    rules = evaluated()
    while rules is None and time.monotonic() < deadline:
        time.sleep(1)
        rules = evaluated()
    assert rules is not None, "the rules were never evaluated"
    return rules


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
    rules = rules_state(prometheus_for_fake)
    bad = {r["name"]: r.get("lastError") for r in rules if r.get("health") != "ok"}
    assert not bad


@pytest.fixture
def rendered_for_kubernetes(tmp_path: Path) -> Path:
    """dashboards/build.py's output for a Kubernetes scrape job in namespace shop."""
    return render_bundle(tmp_path)


def test_a_non_default_job_gets_data_in_every_panel_and_no_absent_alert(
    tmp_path: Path, fake_target: str, rendered_for_kubernetes: Path
) -> None:
    """Rendered for job="kubernetes-pods", namespace="shop" and scraped so, every panel has
    data, every rule evaluates, and OrdermonWorkersAbsent stays quiet (it would be pending at
    once with the default job="ordermon")."""
    out = rendered_for_kubernetes
    prom_dir = tmp_path / "prom"
    prom_dir.mkdir()
    for prom in start_prometheus(
        prom_dir,
        fake_target,
        (out / "prometheus" / "rules.yml",),
        job="kubernetes-pods",
        labels={"namespace": "shop"},
    ):
        check_every_panel(prom, 90, folder=out / "grafana", job="kubernetes-pods")
        rules = rules_state(prom)
        assert {r["name"]: r.get("health") for r in rules if r.get("health") != "ok"} == {}
        (absent,) = [r for r in rules if r["name"] == "OrdermonWorkersAbsent"]
        assert absent["state"] == "inactive", absent
        (down,) = [r for r in rules if r["name"] == "OrdermonWorkerDown"]
        assert down["state"] == "inactive", down


@pytest.mark.integration
@pytest.mark.timeout(600)  # start-up, plus the polling below
def test_every_panel_has_data_from_a_live_worker(prometheus_for_worker: Prometheus) -> None:
    check_every_panel(prometheus_for_worker, timeout=300)
