"""The example receivers (PagerDuty, Slack, email) pass amtool, and their templates render a real
alert: the one the worker's Alertmanager sink posts, with its summary, numbers and runbook link."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ordermon.sinks.alertmanager import AlertmanagerSink
from ordermon.streams.outputs import Alert
from tests.ops.opslib import ALERTMANAGER, binary, load_yaml

pytestmark = pytest.mark.ops

EXAMPLE = ALERTMANAGER / "alertmanager.example.yml"
TEMPLATES = ALERTMANAGER / "templates" / "ordermon.tmpl"
NOW_S = 1_790_000_000.0  # the sink's wall clock

ALERT = Alert(
    alert_id="dispatch_backpressure-SH-02-1789990000000",
    kind="dispatch_backpressure",
    warehouse="SH-02",
    severity="critical",
    state="firing",
    started_at_ms=1_789_990_000_000,
    updated_at_ms=1_789_999_000_000,
    summary="orders outrun dispatch at SH-02: 1,240 parcels wait, 30.5 h to clear (SLA 24 h)",
    signals={"backlog": 1240, "hours_to_clear": 30.5, "pressure": 1.18},
    live=True,  # evaluated live: it pages
)


def posted(alert: Alert) -> dict[str, Any]:
    """The object the worker's sink would POST to Alertmanager for `alert`."""
    sink = AlertmanagerSink(
        "http://127.0.0.1:9093", clock=lambda: NOW_S, runbook_url="https://runbooks.example/r"
    )
    asyncio.run(sink.send(alert))
    (obj,) = sink.payload([(alert.kind, alert.warehouse, alert.severity)])
    return obj


def template_data(alerts: list[dict[str, Any]], status: str = "firing") -> dict[str, Any]:
    """Alertmanager's notification data (template.Data) for one group of alerts."""
    return {
        "receiver": "warehouse-page",
        "status": status,
        "alerts": [
            {
                "status": status,
                "labels": a["labels"],
                "annotations": a["annotations"],
                "startsAt": a["startsAt"],
                "endsAt": a["endsAt"],
                "generatorURL": "",
                "fingerprint": f"{i:016x}",
            }
            for i, a in enumerate(alerts)
        ],
        "groupLabels": {"warehouse": alerts[0]["labels"].get("warehouse", "")},
        "commonLabels": alerts[0]["labels"],
        "commonAnnotations": {},
        "externalURL": "http://127.0.0.1:9093",
    }


def render(tmp_path: Path, name: str, data: dict[str, Any]) -> str:
    data_file = tmp_path / "data.json"
    data_file.write_text(json.dumps(data), encoding="utf-8")
    done = subprocess.run(
        [
            binary("amtool"),
            "template",
            "render",
            f"--template.glob={TEMPLATES}",
            f'--template.text={{{{ template "{name}" . }}}}',
            f"--template.data={data_file}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_example_passes_amtool_and_loads_its_templates() -> None:
    done = subprocess.run(
        [binary("amtool"), "check-config", str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 templates" in done.stdout


def test_the_example_has_a_pager_a_chat_and_an_email_receiver() -> None:
    receivers = load_yaml(EXAMPLE)["receivers"]
    kinds = {key for r in receivers for key in r if key.endswith("_configs")}
    assert {"pagerduty_configs", "slack_configs", "email_configs"} <= kinds


def test_every_template_the_example_uses_is_defined() -> None:
    used = set(re.findall(r'template "([^"]+)"', EXAMPLE.read_text(encoding="utf-8")))
    defined = set(re.findall(r'define "([^"]+)"', TEMPLATES.read_text(encoding="utf-8")))
    assert used and used <= defined, used - defined


@pytest.mark.parametrize("name", ["ordermon.slack.text", "ordermon.email.text"])
def test_a_body_shows_the_summary_the_numbers_and_the_runbook(tmp_path: Path, name: str) -> None:
    text = render(tmp_path, name, template_data([posted(ALERT)]))
    assert "CRITICAL dispatch_backpressure at warehouse SH-02" in text
    assert ALERT.summary in text
    assert "backlog: 1240" in text and "hours_to_clear: 30.5" in text
    assert "https://runbooks.example/r#dispatch_backpressure" in text
    assert f"episode {ALERT.alert_id}" in text


@pytest.mark.parametrize(
    "name", ["ordermon.slack.title", "ordermon.email.subject", "ordermon.pagerduty.description"]
)
def test_a_title_names_status_kind_warehouse_and_severity(tmp_path: Path, name: str) -> None:
    text = render(tmp_path, name, template_data([posted(ALERT)]))
    assert text.startswith("[FIRING:1] dispatch_backpressure at SH-02 (critical)")


def test_a_resolved_group_and_a_health_alert_render_too(tmp_path: Path) -> None:
    health = {
        "labels": {"alertname": "OrdermonWorkerDown", "severity": "critical", "job": "ordermon"},
        "annotations": {
            "summary": "ordermon worker 10.0.0.5:6066 is down",
            "description": "Prometheus could not scrape it for 2 minutes.",
            "runbook_url": "https://runbooks.example/r#ordermonworkerdown",
        },
        "startsAt": "2026-12-01T10:00:00Z",
        "endsAt": "2026-12-01T10:05:00Z",
    }
    text = render(tmp_path, "ordermon.slack.text", template_data([health], status="resolved"))
    assert "CRITICAL OrdermonWorkerDown (resolved)" in text
    assert "Prometheus could not scrape it" in text
    assert "Runbook: https://runbooks.example/r#ordermonworkerdown" in text
    title = render(tmp_path, "ordermon.slack.title", template_data([health], status="resolved"))
    assert title.startswith("[RESOLVED] OrdermonWorkerDown (critical)")
