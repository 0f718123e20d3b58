"""What a person sees of the CLI: every setting in `worker --help`, the values in effect in
`ordermon settings`, one line for a bad value, and the demo view's words."""

from __future__ import annotations

from click.testing import CliRunner

from ordermon.cli import main
from ordermon.config import documented
from ordermon.liveview import render


def test_worker_help_names_every_setting() -> None:
    out = CliRunner().invoke(main, ["worker", "--help"])
    assert out.exit_code == 0
    missing = [name for name, _d, _doc in documented() if name not in out.output]
    assert not missing
    assert "ORDERMON_POLICY_FILE" in out.output


def test_settings_show_the_values_in_effect_with_secrets_masked() -> None:
    env = {
        "ORDERMON_WEB_PORT": "7001",
        "ORDERMON_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "ORDERMON_KAFKA_USERNAME": "monitor",
        "ORDERMON_KAFKA_PASSWORD": "hunter2-secret",
    }
    out = CliRunner().invoke(main, ["settings"], env=env)
    assert out.exit_code == 0, out.output
    rows = {line.split()[0]: line.split()[1:3] for line in out.output.splitlines()}
    assert rows["ORDERMON_WEB_PORT"] == ["*", "7001"]
    assert rows["ORDERMON_KAFKA_PASSWORD"] == ["*", "***"]
    assert rows["ORDERMON_KAFKA"][0] == "127.0.0.1:9092"  # not set: the default, no mark
    assert "hunter2-secret" not in out.output
    defaults = CliRunner().invoke(main, ["settings", "--defaults"], env=env)
    assert "7001" not in defaults.output and "6066" in defaults.output


def test_a_bad_setting_is_one_line_and_exit_2() -> None:
    out = CliRunner().invoke(main, ["settings"], env={"ORDERMON_WEB_PORT": "lots"})
    assert out.exit_code == 2
    assert out.output.strip() == (
        "ordermon: invalid setting ORDERMON_WEB_PORT: must be a whole number, got 'lots'"
    )


def status(pressure: float | None, severity: str = "critical") -> dict[str, object]:
    return {
        "warehouse": "BJ-01",
        "as_of": "2026-11-22T08:15:00Z",
        "order_rate": 10.0,
        "dispatch_rate": 20.0,
        "pressure": pressure,
        "backlog": 1200,
        "service_backlog": 3,
        "queues": {"dispatch": {"pressure": pressure, "backlog": 1200}},
        "alerts": [{"kind": "dispatch_backpressure", "severity": severity, "state": "firing"}],
    }


def test_a_firing_alert_whose_queue_drains_says_so() -> None:
    assert "dispatch_backpressure(critical, draining)" in render([status(0.5)])
    assert "dispatch_backpressure(critical)" in render([status(1.4)])
    assert "dispatch_backpressure(critical)" in render([status(None)])
    view = render([status(0.5)])
    assert "orders/h" in view and "600" in view  # rates shown per hour: 10/min = 600/h
