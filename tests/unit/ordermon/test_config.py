"""Settings from the environment: defaults, parsing, and a clear error naming the variable."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from ordermon.config import ConfigError, Settings, documented

ROOT = Path(__file__).resolve().parents[3]


def test_defaults_match_the_contract() -> None:
    s = Settings.from_env({})
    assert s.kafka == "127.0.0.1:9092"
    assert s.topic_prefix == ""
    assert s.web_host == "127.0.0.1"
    assert s.web_port == 6066
    assert s.alertmanager_url is None


def test_values_are_parsed_and_flow_config_follows() -> None:
    s = Settings.from_env(
        {
            "ORDERMON_KAFKA": "k1:9092,k2:9093",
            "ORDERMON_WEB_PORT": "7000",
            "ORDERMON_LATENESS_SECONDS": "30",
            "ORDERMON_HORIZON_MINUTES": "5",
            "ORDERMON_ALERTMANAGER_URL": "http://127.0.0.1:9093",
        }
    )
    assert s.web_port == 7000
    assert s.flow.lateness_ms == 30_000 and s.flow.horizon_ms == 300_000
    assert s.broker_url == "kafka://k1:9092;kafka://k2:9093"


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("ORDERMON_WEB_PORT", "sixty", "whole number"),
        ("ORDERMON_WEB_PORT", "70000", "1-65535"),
        ("ORDERMON_KAFKA", "localhost", "host:port"),
        ("ORDERMON_ALERTMANAGER_URL", "alertmanager:9093", "http://"),
        ("ORDERMON_RUNBOOK_URL", "wiki/ordermon", "http://"),
        ("ORDERMON_DASHBOARD_URL", "grafana:3000", "http://"),
        ("ORDERMON_STORE", "redis://", "memory://"),
        ("ORDERMON_HORIZON_MINUTES", "0", "greater than 0"),
        ("ORDERMON_LOG_LEVEL", "loud", "debug, info"),
        ("ORDERMON_TOPIC_PREFIX", "a b", "may hold only"),
        ("ORDERMON_BATCH_SECONDS", "soon", "a number"),
    ],
)
def test_a_bad_value_names_the_variable(variable: str, value: str, says: str) -> None:
    with pytest.raises(ConfigError) as err:
        Settings.from_env({variable: value})
    assert err.value.variable == variable
    assert str(err.value).startswith(variable) and says in str(err.value)


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    table = readme.split("<!-- settings-table -->")[1].split("<!-- /settings-table -->")[0]
    in_readme = set(re.findall(r"`(ORDERMON_[A-Z_]+)`", table))
    assert in_readme == {name for name, _d, _doc in documented()}


def test_the_cli_refuses_a_bad_setting_with_one_line_and_no_traceback() -> None:
    answer = subprocess.run(
        [sys.executable, "-m", "ordermon", "worker"],
        env={"ORDERMON_WEB_PORT": "not-a-port", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert answer.returncode == 2
    assert "ORDERMON_WEB_PORT" in answer.stderr
    assert "Traceback" not in answer.stderr


def test_the_worker_says_clearly_when_kafka_is_unreachable() -> None:
    answer = subprocess.run(
        [sys.executable, "-m", "ordermon", "worker"],
        env={"ORDERMON_KAFKA": "127.0.0.1:1", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert answer.returncode == 2
    assert "cannot reach Kafka at 127.0.0.1:1" in answer.stderr
    assert "Traceback" not in answer.stderr


def test_policy_from_file_and_environment(tmp_path: Path) -> None:
    from ordermon.policy import load_policy

    f = tmp_path / "policy.toml"
    f.write_text('for_ms = "45m"\n[queues.dispatch]\nsla_hours = 12\n')
    policy = load_policy({"ORDERMON_POLICY_FILE": str(f), "ORDERMON_POLICY_SERVICE_SLA_HOURS": "6"})
    assert policy.for_ms == 45 * 60_000
    assert policy.queues["dispatch"].sla_hours == 12
    assert policy.queues["service"].sla_hours == 6


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"ORDERMON_POLICY_FOR_MS": "soon"}, "ORDERMON_POLICY_FOR_MS"),
        (
            {"ORDERMON_POLICY_DISPATCH_FIRE_PRESSURE": "-1"},
            "ORDERMON_POLICY_DISPATCH_FIRE_PRESSURE",
        ),
        ({"ORDERMON_POLICY_NO_SUCH": "1"}, "ORDERMON_POLICY_NO_SUCH"),
        ({"ORDERMON_POLICY_FILE": "/nonexistent/policy.toml"}, "ORDERMON_POLICY_FILE"),
    ],
)
def test_a_bad_policy_value_names_its_variable(env: dict[str, str], names: str) -> None:
    from ordermon.policy import load_policy

    with pytest.raises(ConfigError) as err:
        load_policy(env)
    assert names in str(err.value)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[warehouses.BJ-01.calendar.dispatch]\nmnd = ["07:00-23:00"]\n', "calendar.dispatch.mnd"),
        (
            '[warehouses.BJ-01.calendar.dispatch]\nmon = ["07:00-15:00", "14:00-23:00"]\n',
            "calendar.dispatch.mon",
        ),
        ('[warehouses.BJ-01.calendar.dispatch]\ntue = ["07:00-25:00"]\n', "calendar.dispatch.tue"),
        ("silent_min_events = -3\n", "silent_min_events"),
    ],
)
def test_the_worker_refuses_a_bad_policy_at_start_naming_the_key(
    tmp_path: Path, text: str, key: str
) -> None:
    """A bad calendar or policy value stops the worker before it connects to anything: one
    line naming the key, no traceback."""
    f = tmp_path / "policy.toml"
    f.write_text(text)
    answer = subprocess.run(
        [sys.executable, "-m", "ordermon", "worker"],
        env={"ORDERMON_POLICY_FILE": str(f), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert answer.returncode == 2
    assert key in answer.stderr
    assert len(answer.stderr.strip().splitlines()) == 1, answer.stderr
    assert "Traceback" not in answer.stderr
