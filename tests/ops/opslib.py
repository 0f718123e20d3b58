"""Helpers of the ops tests: the files under dashboards/, the PromQL in them, and the metric
names the code exports."""

from __future__ import annotations

import functools
import importlib.util
import json
import re
import shutil
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry
from prometheus_client.core import Metric

from ordermon.agents.logic.flow import QueueStatus, Snapshot
from ordermon.agents.worker.monitor import lean_monitor
from ordermon.metrics import FAUST_PREFIX, Metrics, StatusCollector
from ordermon.streams.flows import FLOWS, INPUT_TOPICS, QUEUE_NAMES
from ordermon.streams.outputs import Alert

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "dashboards"
GRAFANA = DASHBOARDS / "grafana"
PROMETHEUS = DASHBOARDS / "prometheus"
ALERTMANAGER = DASHBOARDS / "alertmanager"
COMPOSE = ROOT / "docker-compose.yml"
DASHBOARD_FILES = ("ordermon-overview.json", "ordermon-warehouse.json", "ordermon-health.json")

#: Series that Prometheus makes itself for every target, or for rules.
PROMETHEUS_NAMES = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped", "ALERTS"})

T0_MS = 1_795_000_000_000


def binary(name: str) -> str:
    """Path of a Prometheus tool; skips the test, saying how to get it, when it is missing."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(
            f"{name} is not installed: `make system-deps` (apt-get install prometheus "
            "prometheus-alertmanager) provides it"
        )
    return path


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_dashboard(name: str, folder: Path = GRAFANA) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / name).read_text(encoding="utf-8"))
    return data


#: Another installation's config for dashboards/build.py: Kubernetes pods in namespace shop.
NON_DEFAULT_CONFIG = {
    "selector": 'job="kubernetes-pods", namespace="shop"',
    "runbook_url": "https://wiki.example.com/ordermon/runbook#top",
    "dashboard_url": "https://grafana.example.com/",
}


def write_config(path: Path, values: Mapping[str, str]) -> Path:
    """A TOML config for dashboards/build.py."""
    path.write_text("".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items()))
    return path


def render_bundle(tmp: Path, values: Mapping[str, str] = NON_DEFAULT_CONFIG) -> Path:
    """dashboards/build.py's output for a config of `values`, in tmp/out (returned)."""
    config = write_config(tmp / "config.toml", values)
    assert build_module().main(["--config", str(config), "--out", str(tmp / "out")]) == 0
    return tmp / "out"


@functools.cache
def build_module() -> Any:
    """dashboards/build.py, imported (it is a script, not a package module)."""
    spec = importlib.util.spec_from_file_location("dashboards_build", DASHBOARDS / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being created
    spec.loader.exec_module(module)
    return module


def panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, rows' nested panels included."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


@dataclass(frozen=True)
class PanelQuery:
    dashboard: str
    title: str
    ref_id: str
    expr: str

    def __str__(self) -> str:
        return f"{self.dashboard} / {self.title!r} ({self.ref_id}): {self.expr}"


def panel_queries(folder: Path = GRAFANA) -> list[PanelQuery]:
    out = []
    for name in DASHBOARD_FILES:
        for panel in panels(load_dashboard(name, folder)):
            for t in panel.get("targets", []):
                out.append(PanelQuery(name, panel["title"], t["refId"], t["expr"]))
    return out


_LABEL_VALUES = re.compile(r"^label_values\((.+),\s*([A-Za-z_][A-Za-z0-9_]*)\)$")


def variable_queries(folder: Path = GRAFANA) -> list[tuple[PanelQuery, str]]:
    """(the series selector of a `label_values(selector, label)` query variable, label) of
    every dashboard; the variable's name is the query's title (``$warehouse``)."""
    out = []
    for name in DASHBOARD_FILES:
        for variable in load_dashboard(name, folder)["templating"]["list"]:
            if variable["type"] != "query":
                continue
            m = _LABEL_VALUES.match(variable["query"]["query"])
            assert m, f"{name} ${variable['name']}: not label_values(selector, label)"
            query = PanelQuery(name, "$" + variable["name"], "var", m.group(1))
            out.append((query, m.group(2)))
    return out


def rule_exprs() -> list[tuple[str, str]]:
    """(rule name, expr) of every rule in rules.yml."""
    rules = load_yaml(PROMETHEUS / "rules.yml")
    return [(r.get("alert") or r["record"], r["expr"]) for g in rules["groups"] for r in g["rules"]]


def recorded_names() -> set[str]:
    rules = load_yaml(PROMETHEUS / "rules.yml")
    return {r["record"] for g in rules["groups"] for r in g["rules"] if "record" in r}


# ---- PromQL: the metric names an expression reads ----------------------------------------------

_STRINGS = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_OFFSET = re.compile(r"\boffset\s+-?\w+")
_NUMBERS = re.compile(r"(?<![A-Za-z0-9_:.])\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "by", "without", "on", "ignoring", "inf", "nan"}
    | {"group_left", "group_right", "offset"}
)


def metric_names(expr: str) -> set[str]:
    """Metric names read by a PromQL expression (Grafana's $variables allowed)."""
    text = _STRINGS.sub('""', expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGES.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    text = _OFFSET.sub(" ", text)
    text = re.sub(r"\$\w+", " ", text)
    text = _NUMBERS.sub(" ", text)
    names = set()
    for m in _IDENT.finditer(text):
        word = m.group(0)
        following = text[m.end() :].lstrip()
        if word.lower() in _KEYWORDS or following.startswith("("):
            continue  # an operator keyword, or a function / aggregation
        names.add(word)
    return names


# ---- what the code exports ---------------------------------------------------------------------


def queue(name: str) -> QueueStatus:
    return QueueStatus(name, 10.0, 8.0, 40, 1.25, 40 / (8 * 60))


def snapshot(warehouse: str) -> Snapshot:
    return Snapshot(
        warehouse=warehouse,
        at_ms=T0_MS,
        rates=dict.fromkeys(FLOWS, 6.0),
        totals=dict.fromkeys(FLOWS, 100),
        queues={q: queue(q) for q in QUEUE_NAMES},
        late=0,
    )


def firing(warehouse: str, kind: str, severity: str) -> Alert:
    return Alert(
        alert_id=f"{kind}-{warehouse}",
        kind=kind,
        warehouse=warehouse,
        severity=severity,  # type: ignore[arg-type]
        state="firing",
        started_at_ms=T0_MS,
        updated_at_ms=T0_MS,
        summary="test",
        live=True,
    )


class FakeSource:
    """A worker's state with two warehouses, one with a critical alert."""

    def __init__(self, clock_ms: int = T0_MS) -> None:
        self.clock_ms = clock_ms

    def snapshots(self) -> Iterable[Snapshot]:
        return [snapshot("BJ1"), snapshot("SH2")]

    def firing_alerts(self, now_ms: int | None = None) -> Iterable[Alert]:
        return [firing("BJ1", "dispatch_backpressure", "critical")]

    def newest_event_ms(self) -> dict[str, int]:
        return dict.fromkeys(INPUT_TOPICS, self.clock_ms - 5_000)


def exporting_registry() -> tuple[CollectorRegistry, Metrics, Any]:
    """A registry with everything a worker registers: our counters, the status collector on a
    fake source, and Faust's sensor. Returns (registry, metrics, Faust's monitor)."""
    registry = CollectorRegistry()
    metrics = Metrics.create(registry)
    registry.register(StatusCollector(FakeSource()))
    return registry, metrics, lean_monitor(registry, FAUST_PREFIX)


def sample_names(family: Metric) -> set[str]:
    """The series names a family is scraped as (histograms as _bucket/_count/_sum, ...)."""
    suffixes = {
        "counter": ("_total",),
        "gauge": ("",),
        "histogram": ("_bucket", "_count", "_sum"),
        "summary": ("", "_count", "_sum"),
        "info": ("_info",),
    }.get(family.type, ("",))
    return {family.name + s for s in suffixes}


def exported_names() -> set[str]:
    registry, _, _ = exporting_registry()
    names: set[str] = set()
    for family in registry.collect():
        names |= sample_names(family)
    return names
