"""Writes the Grafana dashboards in dashboards/grafana/*.json: the dashboards as code.

Run from the repository root after changing a panel: ``.venv/bin/python dashboards/build.py``.
A test (tests/ops/test_dashboards.py) fails when the JSON files and this script disagree.
The queues' inflow and outflow panels come from `streams.flows.QUEUES`, so they follow the code.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from streams.flows import QUEUES  # noqa: E402

DATASOURCE_UID = "ordermon-prometheus"  # grafana/provisioning/datasources.yml
DS = {"type": "prometheus", "uid": DATASOURCE_UID}
JOB = 'job="ordermon"'  # prometheus/prometheus.yml
WH = 'warehouse="$warehouse"'
RATE = "$__rate_interval"
Json = dict[str, Any]


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


def dashboard(
    uid: str, title: str, board: Board, description: str, *, variables: Sequence[Json] = ()
) -> Json:
    return {
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
        "templating": {"list": list(variables)},
        "annotations": {"list": []},
        "links": [
            {
                "type": "dashboards",
                "tags": ["ordermon"],
                "asDropdown": True,
                "title": "ordermon",
                "includeVars": False,
                "keepTime": True,
            }
        ],
        "panels": board.panels,
    }


WAREHOUSE_LINK = {
    "title": "Open warehouse ${__data.fields.warehouse}",
    "url": "/d/ordermon-warehouse/ordermon-warehouse?var-warehouse=${__data.fields.warehouse}"
    "&${__url_time_range}",
}


def overview() -> Json:
    b = Board()
    b.row("Network now")
    b.stat("Warehouses tracked", "sum(ordermon_warehouses)", description="Across all workers.")
    b.stat(
        "Critical alerts firing",
        'sum(ordermon_alerts_firing{severity="critical"})',
        steps=thresholds((None, "green"), (1, "red")),
    )
    b.stat(
        "Warning alerts firing",
        'sum(ordermon_alerts_firing{severity="warning"})',
        steps=thresholds((None, "green"), (1, "yellow")),
    )
    b.stat(
        "Worst dispatch pressure",
        'max(ordermon_pressure_ratio{queue="dispatch"})',
        steps=PRESSURE_STEPS,
        decimals=2,
        description="Orders placed / parcels dispatched over the horizon, worst warehouse. "
        "∞ when orders arrive and nothing leaves.",
    )
    b.stat(
        "Dead letters",
        f"sum(rate(ordermon_deadletter_total[{RATE}]))",
        unit="reqps",
        steps=thresholds((None, "green"), (0.1, "yellow"), (1, "red")),
    )
    b.stat(
        "Event-time lag",
        "max(ordermon_event_time_lag_seconds)",
        unit="s",
        description="Wall clock minus the newest event time seen (a replay of history shows "
        "a large value by design).",
    )

    b.row("Pressure")
    b.matrix(
        "Pressure per warehouse and queue",
        "max by (warehouse, queue) (ordermon_pressure_ratio)",
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
                '(ordermon_pressure_ratio{queue="dispatch"}), 10))',
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
                'sum(ordermon_flow_rate_per_second{flow="orders_placed"}) * 60', "orders placed"
            ),
            target(
                'sum(ordermon_flow_rate_per_second{flow="dispatches_dispatched"}) * 60',
                "parcels dispatched",
            ),
            target(
                'sum(ordermon_flow_rate_per_second{flow="complaints_opened"}) * 60',
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
        [target("sum by (queue) (ordermon_backlog)", "{{queue}}")],
        w=8,
    )
    b.graph(
        "Top 10 dispatch backlogs",
        [
            target(
                'topk(10, max by (warehouse) (ordermon_backlog{queue="dispatch"}))', "{{warehouse}}"
            )
        ],
        w=8,
    )
    b.add(
        "bargauge",
        "Hours to clear (top 10)",
        [
            target(
                "topk(10, max by (warehouse, queue) (ordermon_time_to_clear_seconds)) / 3600",
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
                "max by (warehouse, kind, severity) (ordermon_alert_active) == 1",
                instant=True,
                table=True,
            )
        ],
        w=8,
        h=9,
        links=[WAREHOUSE_LINK],
        transformations=[
            {"id": "organize", "options": {"excludeByName": {"Time": True, "Value": True}}}
        ],
    )
    b.graph(
        "Alert transitions",
        [
            target(
                f"sum by (kind, state) (increase(ordermon_alert_transitions_total[{RATE}]))",
                "{{kind}} {{state}}",
            )
        ],
        w=8,
        h=9,
    )
    b.graph(
        "Dead letters by reason",
        [target(f"sum by (reason) (rate(ordermon_deadletter_total[{RATE}]))", "{{reason}}")],
        w=8,
        h=9,
        unit="reqps",
    )
    return dashboard(
        "ordermon-overview",
        "ordermon / overview",
        b,
        "The order pipeline across every warehouse: pressure, flows, backlogs, alerts.",
    )


def _flow_sum(flows: Sequence[str]) -> str:
    names = "|".join(flows)
    return f'sum(ordermon_flow_rate_per_second{{{WH}, flow=~"{names}"}}) * 60'


def warehouse() -> Json:
    b = Board()
    b.row("$warehouse now")
    for q in QUEUES:
        b.stat(
            f"{q.name.capitalize()} pressure",
            f'max(ordermon_pressure_ratio{{{WH}, queue="{q.name}"}})',
            w=6,
            steps=PRESSURE_STEPS,
            decimals=2,
            description=f"Growing means {q.meaning}.",
        )
    b.row("Queues")
    b.graph(
        "Backlog per queue",
        [target(f"max by (queue) (ordermon_backlog{{{WH}}})", "{{queue}}")],
        w=8,
    )
    b.graph(
        "Pressure per queue",
        [target(f"clamp_max(max by (queue) (ordermon_pressure_ratio{{{WH}}}), 10)", "{{queue}}")],
        w=8,
        steps=PRESSURE_STEPS,
        custom={"thresholdsStyle": {"mode": "line"}},
        description="Inflow / outflow, capped at 10 so that ∞ stays on the chart.",
    )
    b.graph(
        "Hours to clear per queue",
        [target(f"max by (queue) (ordermon_time_to_clear_seconds{{{WH}}}) / 3600", "{{queue}}")],
        w=8,
        unit="h",
    )
    b.row("Inflow and outflow (per minute of event time)")
    for q in QUEUES:
        b.graph(
            f"{q.name.capitalize()} queue",
            [
                target(_flow_sum(q.inflow), "in: " + " + ".join(q.inflow)),
                target(_flow_sum(q.outflow), "out: " + " + ".join(q.outflow)),
            ],
            w=12,
            description=f"A growing gap means {q.meaning}.",
        )
    b.row("Events and alerts")
    b.graph(
        "Events counted per second (processing time)",
        [
            target(
                f"sum by (topic, status) (rate(ordermon_events_total{{{WH}}}[{RATE}]))",
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
                f"max by (kind, severity) (ordermon_alert_active{{{WH}}})",
                "{{kind}} ({{severity}})",
            )
        ],
        w=12,
        steps=thresholds((None, "green"), (1, "red")),
        options={"showValue": "never", "mergeValues": True},
    )
    variable = {
        "name": "warehouse",
        "label": "Warehouse",
        "type": "query",
        "datasource": DS,
        "query": {"query": "label_values(ordermon_backlog, warehouse)", "refId": "warehouse"},
        "definition": "label_values(ordermon_backlog, warehouse)",
        "refresh": 2,
        "sort": 1,
        "includeAll": False,
        "multi": False,
        "current": {},
        "options": [],
    }
    return dashboard(
        "ordermon-warehouse",
        "ordermon / warehouse",
        b,
        "One warehouse's four queues: dispatch, delivery, customer service and refunds.",
        variables=[variable],
    )


F = "ordermon_faust"  # ordermon.metrics.FAUST_PREFIX
LAG = f"{F}_topic_partition_end_offset - {F}_topic_partition_offset_commited"
BATCH = f"sum by (le) (rate(ordermon_batch_seconds_bucket[{RATE}]))"


def health() -> Json:
    b = Board()
    b.row("Workers")
    b.stat("Workers up", f"sum(up{{{JOB}}})", steps=thresholds((None, "red"), (1, "green")))
    b.stat(
        "Workers down",
        f"count(up{{{JOB}}} == 0) or vector(0)",
        steps=thresholds((None, "green"), (1, "red")),
        description="Targets Prometheus found but could not scrape.",
    )
    b.stat(
        "Rebalancing now",
        f"sum({F}_total_rebalances) + sum({F}_total_rebalances_recovering)",
        steps=thresholds((None, "green"), (1, "yellow")),
    )
    b.stat(
        "Partitions lagging",
        f"count(({LAG}) > 1000) or vector(0)",
        description="Partitions more than 1,000 messages behind their end offset.",
    )
    b.stat("Warehouses per worker (max)", "max(ordermon_warehouses)", w=8)
    b.graph("Worker up", [target(f"up{{{JOB}}}", "{{instance}}")], w=12, h=6)
    b.graph(
        "Rebalances",
        [
            target(f"sum(increase({F}_rebalance_done_latency_count[{RATE}]))", "completed"),
            target(f"sum({F}_total_rebalances)", "in progress"),
            target(f"sum({F}_total_rebalances_recovering)", "recovering"),
        ],
        w=12,
        h=6,
    )
    b.graph(
        "Memory (resident)",
        [target(f"process_resident_memory_bytes{{{JOB}}}", "{{instance}}")],
        w=12,
        h=6,
        unit="bytes",
        description="Resident memory of each worker. It grows with warehouses and retention; "
        "steady growth at a steady load is a leak.",
    )
    b.graph(
        "CPU (cores)",
        [target(f"rate(process_cpu_seconds_total{{{JOB}}}[{RATE}])", "{{instance}}")],
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
                f"sum by (topic) ({LAG})",
                "{{topic}}",
            )
        ],
        description="End offset minus committed offset, summed over partitions. Growing means "
        "the workers cannot keep up.",
    )
    b.graph(
        "Event-time lag per topic",
        [target("max by (topic) (ordermon_event_time_lag_seconds)", "{{topic}}")],
        unit="s",
        description="Wall clock minus the newest event time seen. Alerts follow event time, so "
        "this is how late they are.",
    )
    b.row("Throughput and latency")
    b.graph(
        "Messages in and out",
        [
            target(f"sum(rate({F}_messages_received_total[{RATE}]))", "received"),
            target(f"sum(rate({F}_total_sent_messages_total[{RATE}]))", "sent"),
            target(f"sum(rate({F}_total_error_messages_sent_total[{RATE}]))", "send errors"),
        ],
        w=8,
        unit="reqps",
    )
    b.graph(
        "Commit and produce latency (p99)",
        [
            target(
                "histogram_quantile(0.99, sum by (le) "
                f"(rate({F}_consumer_commit_latency_bucket[{RATE}])))",
                "commit",
            ),
            target(
                "histogram_quantile(0.99, sum by (le) "
                f"(rate({F}_producer_send_latency_bucket[{RATE}])))",
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
                f"histogram_quantile(0.5, {BATCH})",
                "p50",
            ),
            target(
                f"histogram_quantile(0.99, {BATCH})",
                "p99",
            ),
        ],
        w=8,
        unit="s",
    )
    b.row("Rejections and delivery")
    b.graph(
        "Dead letters per topic",
        [target(f"sum by (topic) (rate(ordermon_deadletter_total[{RATE}]))", "{{topic}}")],
        w=8,
        unit="reqps",
    )
    b.graph(
        "Late and duplicate events",
        [
            target(f"sum by (topic) (rate(ordermon_late_events_total[{RATE}]))", "late {{topic}}"),
            target(
                f"sum by (topic) (rate(ordermon_duplicates_total[{RATE}]))", "duplicate {{topic}}"
            ),
        ],
        w=8,
        unit="reqps",
    )
    b.graph(
        "Alert sink failures",
        [target(f"sum by (sink) (rate(ordermon_alert_sink_failures_total[{RATE}]))", "{{sink}}")],
        w=8,
        unit="reqps",
        description="Alert messages a sink could not deliver (Kafka topic, log, Alertmanager).",
    )
    return dashboard(
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


def render(name: str) -> str:
    return json.dumps(DASHBOARDS[name](), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    for name in DASHBOARDS:
        (HERE / "grafana" / name).write_text(render(name), encoding="utf-8")


if __name__ == "__main__":
    main()
