"""Renders ordermon's monitoring bundle from one config, the way monitoring mixins do.

    python dashboards/build.py                                  # the repository's own files
    python dashboards/build.py --config my.toml --out DIR       # your installation's

The config (dashboards/config.toml: job selector, runbook and dashboard base URLs) goes into
the Grafana dashboards (grafana/*.json), the Prometheus rules and their unit tests
(prometheus/rules.yml, rules.test.yml, from templates/) and the worker's settings (worker.env:
ORDERMON_RUNBOOK_URL, ORDERMON_DASHBOARD_URL). A test (tests/ops/test_dashboards.py) fails when
the committed files and what this script renders from dashboards/config.toml disagree.

Every dashboard imports into any Grafana: its panels use a `$datasource` variable, `__inputs`
asks the import UI for a Prometheus (it becomes the variable's default), and `$job`/`$instance`
narrow every query to the workers the selector finds. The queues' inflow and outflow panels come
from `ordermon.streams.flows.QUEUES`, so they follow the code.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _load_flows() -> Any:
    """streams/flows.py on its own (standard library only), not the `streams` package (which
    needs orjson): rendering needs Python and the repository, nothing installed."""
    spec = importlib.util.spec_from_file_location(
        "_ordermon_flows", HERE.parent / "streams" / "flows.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being created
    spec.loader.exec_module(module)
    return module


QUEUES = _load_flows().QUEUES

DEFAULT_CONFIG = HERE / "config.toml"
TEMPLATES = HERE / "templates"
GRAFANA_VERSION = "11.2.0"  # the oldest Grafana the JSON is written for (docker-compose: 11.2.2)
DS_INPUT = "DS_PROMETHEUS"  # the import UI's datasource input
DS_REF = "${" + DS_INPUT + "}"
DS = {"type": "prometheus", "uid": "${datasource}"}  # every panel, target and query variable
WH = 'warehouse="$warehouse"'
RATE = "$__rate_interval"
Json = dict[str, Any]


# ---- the config ---------------------------------------------------------------------------------


class ConfigError(Exception):
    """The config cannot be used; str() says what to change, for a person."""


_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*')


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str
    value: str  # as written between the quotes (PromQL escapes kept)

    def __str__(self) -> str:
        return f'{self.label}{self.op}"{self.value}"'

    @property
    def plain_value(self) -> str:
        try:
            return str(json.loads(f'"{self.value}"'))
        except ValueError:
            return self.value


def parse_selector(text: str) -> tuple[Matcher, ...]:
    """`job="ordermon", namespace=~"shop-.*"` (braces optional) as matchers."""
    body = text.strip()
    if body.startswith("{") and body.endswith("}"):
        body = body[1:-1]
    out: list[Matcher] = []
    pos = 0
    while pos < len(body):
        m = _MATCHER.match(body, pos)
        if m is None:
            raise ConfigError(
                f"selector: cannot read {body[pos:]!r}; write PromQL label matchers separated "
                'by commas, e.g. job="ordermon" or job="kubernetes-pods", namespace="shop"'
            )
        out.append(Matcher(m.group(1), m.group(2), m.group(3)))
        pos = m.end()
        if pos < len(body):
            if body[pos] != ",":
                raise ConfigError(f"selector: expected a comma before {body[pos:]!r}")
            pos += 1
    if not any(m.op == "=" or (m.op == "=~" and m.value not in ("", ".*")) for m in out):
        raise ConfigError(
            f"selector: {text!r} selects nothing in particular; it needs at least one "
            'matcher like job="ordermon"'
        )
    return tuple(out)


@dataclass(frozen=True)
class Config:
    selector: tuple[Matcher, ...]
    runbook_url: str  # without an anchor
    dashboard_url: str  # Grafana's root, without a trailing slash

    @property
    def rules_selector(self) -> str:
        """The matchers of every series the rules read."""
        return ", ".join(map(str, self.selector))

    @property
    def panel_selector(self) -> str:
        """The matchers of every series a panel reads: the selector's, with `job` narrowed to
        the `$job` variable (whose values the selector chose) and `$instance` added."""
        kept = [str(m) for m in self.selector if m.label not in ("job", "instance")]
        return ", ".join([*kept, 'job=~"$job"', 'instance=~"$instance"'])

    @property
    def test_labels(self) -> dict[str, str] | None:
        """Labels of a series that the selector selects (for the rules' unit tests), or None
        when the selector is not made of `label="value"` matchers only."""
        if any(m.op != "=" for m in self.selector):
            return None
        labels = {m.label: m.plain_value for m in self.selector}
        return labels if "job" in labels else {"job": "ordermon", **labels}


KEYS = {
    "selector": "PromQL label matchers of the ordermon workers' scrape targets",
    "runbook_url": "http(s) URL of the runbook (the README's runbook section)",
    "dashboard_url": "http(s) root URL of your Grafana",
}


def load_config(path: Path) -> Config:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(unknown)}; known: {', '.join(KEYS)}")
    for key, meaning in KEYS.items():
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise ConfigError(f"{path}: {key} is missing or not a string: {meaning}")
    for key in ("runbook_url", "dashboard_url"):
        if not re.match(r"^https?://[^\s/]+\S*$", data[key].strip()):
            raise ConfigError(
                f"{path}: {key} must be an http:// or https:// URL, got {data[key]!r}"
            )
    try:
        selector = parse_selector(data["selector"])
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return Config(
        selector=selector,
        runbook_url=data["runbook_url"].strip().split("#", 1)[0],
        dashboard_url=data["dashboard_url"].strip().rstrip("/"),
    )


# ---- panels -------------------------------------------------------------------------------------


def target(expr: str, legend: str = "", *, instant: bool = False, table: bool = False) -> Json:
    t: Json = {"datasource": DS, "expr": expr, "legendFormat": legend or "__auto"}
    if instant:
        t.update(instant=True, range=False)
    if table:
        t["format"] = "table"
    return t


def thresholds(*steps: tuple[float | None, str]) -> Json:
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for v, c in steps]}


PRESSURE_STEPS = thresholds((None, "green"), (1.0, "yellow"), (1.5, "red"))
PANEL_TYPES = {
    "bargauge": "Bar gauge",
    "stat": "Stat",
    "state-timeline": "State timeline",
    "table": "Table",
    "timeseries": "Time series",
}


class Board:
    """Lays panels out left to right on Grafana's 24-column grid, numbering them."""

    def __init__(self) -> None:
        self.panels: list[Json] = []
        self.x = 0
        self.y = 0
        self.row_h = 0

    def row(self, title: str) -> None:
        self._newline()
        self.panels.append(
            {
                "type": "row",
                "title": title,
                "id": len(self.panels) + 1,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y},
                "panels": [],
            }
        )
        self.y += 1

    def _newline(self) -> None:
        self.y += self.row_h
        self.x = 0
        self.row_h = 0

    def add(
        self,
        kind: str,
        title: str,
        targets: Sequence[Json],
        *,
        w: int,
        h: int = 8,
        unit: str = "short",
        description: str = "",
        steps: Json | None = None,
        options: Json | None = None,
        custom: Json | None = None,
        transformations: Sequence[Json] = (),
        links: Sequence[Json] = (),
        decimals: int | None = None,
    ) -> None:
        assert kind in PANEL_TYPES, kind
        if self.x + w > 24:
            self._newline()
        defaults: Json = {"unit": unit, "custom": custom or {}, "links": list(links)}
        if steps is not None:
            defaults["thresholds"] = steps
            defaults["color"] = {"mode": "thresholds"}
        if decimals is not None:
            defaults["decimals"] = decimals
        refs = "ABCDEFGH"
        self.panels.append(
            {
                "type": kind,
                "title": title,
                "description": description,
                "id": len(self.panels) + 1,
                "datasource": DS,
                "gridPos": {"h": h, "w": w, "x": self.x, "y": self.y},
                "targets": [{**t, "refId": refs[i]} for i, t in enumerate(targets)],
                "fieldConfig": {"defaults": defaults, "overrides": []},
                "options": options or {},
                "transformations": list(transformations),
            }
        )
        self.x += w
        self.row_h = max(self.row_h, h)

    def stat(self, title: str, expr: str, *, w: int = 4, **kw: Any) -> None:
        options = {"reduceOptions": {"calcs": ["lastNotNull"]}, "colorMode": "value"}
        self.add("stat", title, [target(expr, instant=True)], w=w, h=4, options=options, **kw)

    def graph(self, title: str, targets: Sequence[Json], *, w: int = 12, **kw: Any) -> None:
        options = {"legend": {"displayMode": "table", "placement": "right", "calcs": ["last"]}}
        self.add("timeseries", title, targets, w=w, options=options, **kw)

    def matrix(
        self, title: str, expr: str, rows: str, cols: str, *, w: int = 12, **kw: Any
    ) -> None:
        """An instant table turned into a rows x cols matrix, cells coloured by thresholds."""
        self.add(
            "table",
            title,
            [target(expr, instant=True, table=True)],
            w=w,
            h=kw.pop("h", 10),
            custom={"cellOptions": {"type": "color-background"}, "align": "center"},
            transformations=[
                {
                    "id": "groupingToMatrix",
                    "options": {"rowField": rows, "columnField": cols, "valueField": "Value"},
                }
            ],
            **kw,
        )


# ---- variables, links and the dashboard around them ---------------------------------------------


def query_variable(name: str, label: str, query: str, **extra: Any) -> Json:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DS,
        "query": {"query": query, "refId": name},
        "definition": query,
        "refresh": 2,  # on time range change: workers come and go
        "sort": 1,
        "regex": "",
        "hide": 0,
        "includeAll": False,
        "multi": False,
        "current": {},
        "options": [],
        **extra,
    }


def variables(c: Config) -> list[Json]:
    """$datasource (any Prometheus; on import its default is the one picked for DS_PROMETHEUS),
    $job and $instance (the workers the selector finds, from `ordermon_build_info`)."""
    datasource = {
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "regex": "",
        "hide": 0,
        "refresh": 1,
        "includeAll": False,
        "multi": False,
        # Resolved by the import; a provisioned copy matches no datasource, so Grafana takes
        # its first Prometheus (the provisioned default) instead.
        "current": {"text": DS_REF, "value": DS_REF},
        "options": [],
    }
    info = f"ordermon_build_info{{{c.rules_selector}}}"
    job = query_variable("job", "Job", f"label_values({info}, job)")
    on_job = f'ordermon_build_info{{{c.rules_selector}, job=~"$job"}}'
    instance = query_variable(
        "instance",
        "Worker",
        f"label_values({on_job}, instance)",
        includeAll=True,
        multi=True,
        allValue=".+",
        current={"text": ["All"], "value": ["$__all"]},
    )
    return [datasource, job, instance]


KEEP_VARS = "${datasource:queryparam}&${job:queryparam}&${instance:queryparam}&${__url_time_range}"
WAREHOUSE_LINK = {
    "title": "Open warehouse ${__data.fields.warehouse}",
    "url": "/d/ordermon-warehouse/ordermon-warehouse?var-warehouse=${__data.fields.warehouse}&"
    + KEEP_VARS,
}


def runbook_link(c: Config, kind: str) -> Json:
    """A data link to the runbook of an alert kind; `kind` is Grafana's reference to the field
    or label holding it (the README's runbook has one heading per kind)."""
    return {"title": f"Runbook: {kind}", "url": f"{c.runbook_url}#{kind}", "targetBlank": True}


def dashboard(
    c: Config,
    uid: str,
    title: str,
    board: Board,
    description: str,
    *,
    extra_variables: Sequence[Json] = (),
) -> Json:
    kinds = sorted({p["type"] for p in board.panels if p["type"] != "row"})
    return {
        "__inputs": [
            {
                "name": DS_INPUT,
                "label": "Prometheus",
                "description": "The Prometheus that scrapes the ordermon workers",
                "type": "datasource",
                "pluginId": "prometheus",
                "pluginName": "Prometheus",
            }
        ],
        "__requires": [
            {"type": "grafana", "id": "grafana", "name": "Grafana", "version": GRAFANA_VERSION},
            {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"},
            *({"type": "panel", "id": k, "name": PANEL_TYPES[k], "version": ""} for k in kinds),
        ],
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["ordermon"],
        "timezone": "browser",
        "editable": False,
        "graphTooltip": 1,
        "refresh": "30s",
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": [*variables(c), *extra_variables]},
        "annotations": {"list": []},
        "links": [
            {
                "type": "dashboards",
                "tags": ["ordermon"],
                "asDropdown": True,
                "title": "ordermon",
                "includeVars": True,
                "keepTime": True,
            }
        ],
        "panels": board.panels,
    }


def overview(c: Config) -> Json:
    s = c.panel_selector
    b = Board()
    b.row("Network now")
    b.stat(
        "Warehouses tracked", f"sum(ordermon_warehouses{{{s}}})", description="Across all workers."
    )
    b.stat(
        "Critical alerts firing",
        f'sum(ordermon_alerts_firing{{{s}, severity="critical"}})',
        steps=thresholds((None, "green"), (1, "red")),
    )
    b.stat(
        "Warning alerts firing",
        f'sum(ordermon_alerts_firing{{{s}, severity="warning"}})',
        steps=thresholds((None, "green"), (1, "yellow")),
    )
    b.stat(
        "Worst dispatch pressure",
        f'max(ordermon_pressure_ratio{{{s}, queue="dispatch"}})',
        steps=PRESSURE_STEPS,
        decimals=2,
        description="Orders placed / parcels dispatched over the horizon, worst warehouse. "
        "∞ when orders arrive and nothing leaves.",
    )
    b.stat(
        "Dead letters",
        f"sum(rate(ordermon_deadletter_total{{{s}}}[{RATE}]))",
        unit="reqps",
        steps=thresholds((None, "green"), (0.1, "yellow"), (1, "red")),
    )
    b.stat(
        "Event-time lag",
        f"max(ordermon_event_time_lag_seconds{{{s}}})",
        unit="s",
        description="Wall clock minus the newest event time seen (a replay of history shows "
        "a large value by design).",
    )

    b.row("Pressure")
    b.matrix(
        "Pressure per warehouse and queue",
        f"max by (warehouse, queue) (ordermon_pressure_ratio{{{s}}})",
        "warehouse",
        "queue",
        steps=PRESSURE_STEPS,
        decimals=2,
        links=[WAREHOUSE_LINK],
        description="Inflow / outflow over the horizon. Above 1 the queue grows; ∞ means "
        "nothing flows out.",
    )
    b.graph(
        "Top 10 dispatch pressure",
        [
            target(
                "topk(10, clamp_max(max by (warehouse) "
                f'(ordermon_pressure_ratio{{{s}, queue="dispatch"}}), 10))',
                "{{warehouse}}",
            )
        ],
        h=10,
        description="Capped at 10 so that ∞ (nothing dispatched) stays on the chart.",
    )

    b.row("Flows")
    b.graph(
        "Orders vs dispatches vs complaints (network, per minute)",
        [
            target(
                f'sum(ordermon_flow_rate_per_second{{{s}, flow="orders_placed"}}) * 60',
                "orders placed",
            ),
            target(
                f'sum(ordermon_flow_rate_per_second{{{s}, flow="dispatches_dispatched"}}) * 60',
                "parcels dispatched",
            ),
            target(
                f'sum(ordermon_flow_rate_per_second{{{s}, flow="complaints_opened"}}) * 60',
                "complaints opened",
            ),
        ],
        w=24,
        unit="short",
        description="Events per minute of event time, averaged over the evaluation horizon.",
    )

    b.row("Backlogs")
    b.graph(
        "Backlog per queue (network)",
        [target(f"sum by (queue) (ordermon_backlog{{{s}}})", "{{queue}}")],
        w=8,
    )
    b.graph(
        "Top 10 dispatch backlogs",
        [
            target(
                f'topk(10, max by (warehouse) (ordermon_backlog{{{s}, queue="dispatch"}}))',
                "{{warehouse}}",
            )
        ],
        w=8,
    )
    b.add(
        "bargauge",
        "Hours to clear (top 10)",
        [
            target(
                "topk(10, max by (warehouse, queue) "
                f"(ordermon_time_to_clear_seconds{{{s}}})) / 3600",
                "{{warehouse}} {{queue}}",
                instant=True,
            )
        ],
        w=8,
        unit="h",
        decimals=1,
        steps=thresholds((None, "green"), (2, "yellow"), (8, "red")),
        options={"orientation": "horizontal", "displayMode": "gradient"},
        description="Backlog / outflow: hours to clear the queue at the current outflow. "
        "Missing when nothing flows out (it would never clear).",
    )

    b.row("Alerts and dead letters")
    b.add(
        "table",
        "Firing alerts",
        [
            target(
                f"max by (warehouse, kind, severity) (ordermon_alert_active{{{s}}}) == 1",
                instant=True,
                table=True,
            )
        ],
        w=8,
        h=9,
        links=[WAREHOUSE_LINK, runbook_link(c, "${__data.fields.kind}")],
        transformations=[
            {"id": "organize", "options": {"excludeByName": {"Time": True, "Value": True}}}
        ],
    )
    b.graph(
        "Alert transitions",
        [
            target(
                f"sum by (kind, state) (increase(ordermon_alert_transitions_total{{{s}}}[{RATE}]))",
                "{{kind}} {{state}}",
            )
        ],
        w=8,
        h=9,
        links=[runbook_link(c, "${__field.labels.kind}")],
    )
    b.graph(
        "Dead letters by reason",
        [target(f"sum by (reason) (rate(ordermon_deadletter_total{{{s}}}[{RATE}]))", "{{reason}}")],
        w=8,
        h=9,
        unit="reqps",
    )
    return dashboard(
        c,
        "ordermon-overview",
        "ordermon / overview",
        b,
        "The order pipeline across every warehouse: pressure, flows, backlogs, alerts.",
    )


def _flow_sum(s: str, flows: Sequence[str]) -> str:
    names = "|".join(flows)
    return f'sum(ordermon_flow_rate_per_second{{{s}, flow=~"{names}"}}) * 60'


def warehouse(c: Config) -> Json:
    s = f"{c.panel_selector}, {WH}"
    b = Board()
    b.row("$warehouse now")
    for q in QUEUES:
        b.stat(
            f"{q.name.capitalize()} pressure",
            f'max(ordermon_pressure_ratio{{{s}, queue="{q.name}"}})',
            w=6,
            steps=PRESSURE_STEPS,
            decimals=2,
            description=f"Growing means {q.meaning}.",
        )
    b.row("Queues")
    b.graph(
        "Backlog per queue",
        [target(f"max by (queue) (ordermon_backlog{{{s}}})", "{{queue}}")],
        w=8,
    )
    b.graph(
        "Pressure per queue",
        [target(f"clamp_max(max by (queue) (ordermon_pressure_ratio{{{s}}}), 10)", "{{queue}}")],
        w=8,
        steps=PRESSURE_STEPS,
        custom={"thresholdsStyle": {"mode": "line"}},
        description="Inflow / outflow, capped at 10 so that ∞ stays on the chart.",
    )
    b.graph(
        "Hours to clear per queue",
        [target(f"max by (queue) (ordermon_time_to_clear_seconds{{{s}}}) / 3600", "{{queue}}")],
        w=8,
        unit="h",
    )
    b.row("Inflow and outflow (per minute of event time)")
    for q in QUEUES:
        b.graph(
            f"{q.name.capitalize()} queue",
            [
                target(_flow_sum(s, q.inflow), "in: " + " + ".join(q.inflow)),
                target(_flow_sum(s, q.outflow), "out: " + " + ".join(q.outflow)),
            ],
            w=12,
            description=f"A growing gap means {q.meaning}.",
        )
    b.row("Events and alerts")
    b.graph(
        "Events counted per second (processing time)",
        [
            target(
                f"sum by (topic, status) (rate(ordermon_events_total{{{s}}}[{RATE}]))",
                "{{topic}} {{status}}",
            )
        ],
        unit="reqps",
    )
    b.add(
        "state-timeline",
        "Alerts",
        [
            target(
                f"max by (kind, severity) (ordermon_alert_active{{{s}}})",
                "{{kind}} ({{severity}})",
            )
        ],
        w=12,
        steps=thresholds((None, "green"), (1, "red")),
        options={"showValue": "never", "mergeValues": True},
        links=[runbook_link(c, "${__field.labels.kind}")],
    )
    variable = query_variable(
        "warehouse", "Warehouse", f"label_values(ordermon_backlog{{{c.panel_selector}}}, warehouse)"
    )
    return dashboard(
        c,
        "ordermon-warehouse",
        "ordermon / warehouse",
        b,
        "One warehouse's four queues: dispatch, delivery, customer service and refunds.",
        extra_variables=[variable],
    )


F = "ordermon_faust"  # ordermon.metrics.FAUST_PREFIX


def health(c: Config) -> Json:
    s = c.panel_selector
    lag = f"{F}_topic_partition_end_offset{{{s}}} - {F}_topic_partition_offset_commited{{{s}}}"
    batch = f"sum by (le) (rate(ordermon_batch_seconds_bucket{{{s}}}[{RATE}]))"
    b = Board()
    b.row("Workers")
    b.stat("Workers up", f"sum(up{{{s}}})", steps=thresholds((None, "red"), (1, "green")))
    b.stat(
        "Workers down",
        f"count(up{{{s}}} == 0) or vector(0)",
        steps=thresholds((None, "green"), (1, "red")),
        description="Targets Prometheus found but could not scrape.",
    )
    b.stat(
        "Rebalancing now",
        f"sum({F}_total_rebalances{{{s}}}) + sum({F}_total_rebalances_recovering{{{s}}})",
        steps=thresholds((None, "green"), (1, "yellow")),
    )
    b.stat(
        "Partitions lagging",
        f"count(({lag}) > 1000) or vector(0)",
        description="Partitions more than 1,000 messages behind their end offset.",
    )
    b.stat("Warehouses per worker (max)", f"max(ordermon_warehouses{{{s}}})", w=8)
    b.graph("Worker up", [target(f"up{{{s}}}", "{{instance}}")], w=12, h=6)
    b.graph(
        "Rebalances",
        [
            target(f"sum(increase({F}_rebalance_done_latency_count{{{s}}}[{RATE}]))", "completed"),
            target(f"sum({F}_total_rebalances{{{s}}})", "in progress"),
            target(f"sum({F}_total_rebalances_recovering{{{s}}})", "recovering"),
        ],
        w=12,
        h=6,
    )
    b.graph(
        "Memory (resident)",
        [target(f"process_resident_memory_bytes{{{s}}}", "{{instance}}")],
        w=12,
        h=6,
        unit="bytes",
        description="Resident memory of each worker. It grows with warehouses and retention; "
        "steady growth at a steady load is a leak.",
    )
    b.graph(
        "CPU (cores)",
        [target(f"rate(process_cpu_seconds_total{{{s}}}[{RATE}])", "{{instance}}")],
        w=12,
        h=6,
        description="CPU seconds per second of each worker. A worker near 1 core is at its "
        "limit: add workers (up to the partition count).",
    )
    b.row("Lag")
    b.graph(
        "Consumer lag per topic (messages)",
        [
            target(
                f"sum by (topic) ({lag})",
                "{{topic}}",
            )
        ],
        description="End offset minus committed offset, summed over partitions. Growing means "
        "the workers cannot keep up.",
    )
    b.graph(
        "Event-time lag per topic",
        [target(f"max by (topic) (ordermon_event_time_lag_seconds{{{s}}})", "{{topic}}")],
        unit="s",
        description="Wall clock minus the newest event time seen. Alerts follow event time, so "
        "this is how late they are.",
    )
    b.row("Throughput and latency")
    b.graph(
        "Messages in and out",
        [
            target(f"sum(rate({F}_messages_received_total{{{s}}}[{RATE}]))", "received"),
            target(f"sum(rate({F}_total_sent_messages_total{{{s}}}[{RATE}]))", "sent"),
            target(f"sum(rate({F}_total_error_messages_sent_total{{{s}}}[{RATE}]))", "send errors"),
        ],
        w=8,
        unit="reqps",
    )
    b.graph(
        "Commit and produce latency (p99)",
        [
            target(
                "histogram_quantile(0.99, sum by (le) "
                f"(rate({F}_consumer_commit_latency_bucket{{{s}}}[{RATE}])))",
                "commit",
            ),
            target(
                "histogram_quantile(0.99, sum by (le) "
                f"(rate({F}_producer_send_latency_bucket{{{s}}}[{RATE}])))",
                "produce",
            ),
        ],
        w=8,
        unit="ms",
    )
    b.graph(
        "Batch processing time (p50, p99)",
        [
            target(
                f"histogram_quantile(0.5, {batch})",
                "p50",
            ),
            target(
                f"histogram_quantile(0.99, {batch})",
                "p99",
            ),
        ],
        w=8,
        unit="s",
    )
    b.row("Rejections and delivery")
    b.graph(
        "Dead letters per topic",
        [target(f"sum by (topic) (rate(ordermon_deadletter_total{{{s}}}[{RATE}]))", "{{topic}}")],
        w=8,
        unit="reqps",
    )
    b.graph(
        "Late and duplicate events",
        [
            target(
                f"sum by (topic) (rate(ordermon_late_events_total{{{s}}}[{RATE}]))",
                "late {{topic}}",
            ),
            target(
                f"sum by (topic) (rate(ordermon_duplicates_total{{{s}}}[{RATE}]))",
                "duplicate {{topic}}",
            ),
        ],
        w=8,
        unit="reqps",
    )
    b.graph(
        "Alert sink failures",
        [
            target(
                f"sum by (sink) (rate(ordermon_alert_sink_failures_total{{{s}}}[{RATE}]))",
                "{{sink}}",
            )
        ],
        w=8,
        unit="reqps",
        description="Alert messages a sink could not deliver (Kafka topic, log, Alertmanager).",
    )
    return dashboard(
        c,
        "ordermon-health",
        "ordermon / health",
        b,
        "The monitor itself: workers, consumer lag, event-time lag, rebalances, rejections.",
    )


DASHBOARDS = {
    "ordermon-overview.json": overview,
    "ordermon-warehouse.json": warehouse,
    "ordermon-health.json": health,
}


# ---- rules, their tests and the worker's settings, from templates/ -----------------------------

_TOKEN = re.compile(r"\[\[(\w+)\]\]")


def fill(template: str, values: dict[str, str], lists: dict[str, list[str]] | None = None) -> str:
    """`template` with every ``[[name]]`` replaced by ``values[name]``; a line holding only
    ``[[name]]`` of `lists` becomes one line per item, at its indentation."""
    lists = lists or {}
    out = []
    for line in template.splitlines(keepends=True):
        name = line.strip()[2:-2] if line.strip().startswith("[[") else ""
        if name in lists and line.strip() == f"[[{name}]]":
            indent = line[: len(line) - len(line.lstrip())]
            out.extend(f"{indent}{item}\n" for item in lists[name])
            continue
        out.append(_TOKEN.sub(lambda m: values[m.group(1)], line))
    return "".join(out)


def rules(c: Config) -> str:
    text = (TEMPLATES / "rules.yml").read_text(encoding="utf-8")
    return fill(text, {"selector": c.rules_selector} | _links(c))


def rules_tests(c: Config) -> str | None:
    """The rules' promtool unit tests for series that `c.selector` selects; None when the
    selector is not made of `label="value"` matchers only (no series to make up)."""
    labels = c.test_labels
    if labels is None:
        return None
    first = c.selector[0].label
    foreign = {**labels, first: labels[first] + "-other"}
    text = (TEMPLATES / "rules.test.yml").read_text(encoding="utf-8")
    return fill(
        text,
        {
            "series_labels": _promql_labels(labels),
            "foreign_labels": _promql_labels(foreign),
            "job": json.dumps(labels["job"]),
        }
        | _links(c),
        {"yaml_labels": [f"{k}: {json.dumps(v)}" for k, v in labels.items()]},
    )


def worker_env(c: Config) -> str:
    return (
        "# GENERATED by dashboards/build.py from its config: the worker's links in the\n"
        "# Alertmanager annotations it sends (runbook_url, dashboard_url).\n"
        f"ORDERMON_RUNBOOK_URL={c.runbook_url}\n"
        f"ORDERMON_DASHBOARD_URL={c.dashboard_url}\n"
    )


def _links(c: Config) -> dict[str, str]:
    return {"runbook_url": c.runbook_url, "dashboard_url": c.dashboard_url}


def _promql_labels(labels: dict[str, str]) -> str:
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in labels.items())


def render(name: str, config: Config | None = None) -> str:
    """One dashboard's JSON file, for `config` (the default config when None)."""
    c = config or load_config(DEFAULT_CONFIG)
    return json.dumps(DASHBOARDS[name](c), indent=2, ensure_ascii=False) + "\n"


def render_all(config: Config) -> dict[str, str]:
    """Every file the config renders: path under the output folder -> text."""
    out = {f"grafana/{name}": render(name, config) for name in DASHBOARDS}
    out["prometheus/rules.yml"] = rules(config)
    tests = rules_tests(config)
    if tests is not None:
        out["prometheus/rules.test.yml"] = tests
    out["worker.env"] = worker_env(config)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="build.py", description="Render the dashboards, rules and worker settings."
    )
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="TOML config")
    parser.add_argument("--out", type=Path, default=HERE, help="output folder")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"build.py: {exc}", file=sys.stderr)
        return 2
    files = render_all(config)
    try:
        for rel, text in files.items():
            path = args.out / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"build.py: cannot write to {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    for rel in files:
        print(args.out / rel)
    if "prometheus/rules.test.yml" not in files:
        print(
            "build.py: no prometheus/rules.test.yml: the selector has matchers other than "
            'label="value", so there are no series to make up for the tests',
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
