"""The Prometheus and Alertmanager files pass their own tools: promtool and amtool."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ops.opslib import ALERTMANAGER, PROMETHEUS, ROOT, binary, load_yaml, render_bundle

pytestmark = pytest.mark.ops


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=cwd, check=False)


def ok(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, f"{' '.join(done.args)}:\n{done.stdout}\n{done.stderr}"


def test_prometheus_config_with_its_rule_files(tmp_path: Path) -> None:
    """`promtool check config` resolves rule_files next to the config and checks them too."""
    config = load_yaml(PROMETHEUS / "prometheus.yml")
    for rule_file in config["rule_files"]:
        assert (PROMETHEUS / rule_file).is_file(), rule_file
    done = run(binary("promtool"), "check", "config", str(PROMETHEUS / "prometheus.yml"))
    ok(done)
    assert "SUCCESS" in done.stdout + done.stderr
    assert "rules found" in done.stdout + done.stderr  # the rule file was read


def test_rules() -> None:
    ok(run(binary("promtool"), "check", "rules", str(PROMETHEUS / "rules.yml")))


def test_rules_unit_tests() -> None:
    done = run(binary("promtool"), "test", "rules", "rules.test.yml", cwd=PROMETHEUS)
    ok(done)
    assert "SUCCESS" in done.stdout + done.stderr


def test_rules_unit_tests_can_fail(tmp_path: Path) -> None:
    """The cases pin the thresholds: loosen one and they fail."""
    promtool = binary("promtool")
    shutil.copy(PROMETHEUS / "rules.test.yml", tmp_path)
    text = (PROMETHEUS / "rules.yml").read_text().replace("for: 2m", "for: 20m")
    (tmp_path / "rules.yml").write_text(text)
    assert run(promtool, "test", "rules", "rules.test.yml", cwd=tmp_path).returncode != 0


def test_rules_unit_tests_under_a_non_default_job_and_namespace(tmp_path: Path) -> None:
    """Rendered for a Kubernetes scrape job in namespace shop, the rules select that job (and
    not a look-alike of another job) and their tests pass, absent() included."""
    out = render_bundle(tmp_path) / "prometheus"
    tests = (out / "rules.test.yml").read_text()
    assert 'up{job="kubernetes-pods", namespace="shop", instance=' in tests
    assert 'job="ordermon"' not in tests + (out / "rules.yml").read_text()
    ok(run(binary("promtool"), "check", "rules", str(out / "rules.yml")))
    done = run(binary("promtool"), "test", "rules", "rules.test.yml", cwd=out)
    ok(done)
    assert "SUCCESS" in done.stdout + done.stderr


def test_the_default_rules_fail_a_non_default_job(tmp_path: Path) -> None:
    """The tests pin the selector: rules rendered for job="ordermon" page for ever (absent)
    and miss the down worker under job="kubernetes-pods"."""
    out = render_bundle(tmp_path) / "prometheus"
    shutil.copy(PROMETHEUS / "rules.yml", out / "rules.yml")
    done = run(binary("promtool"), "test", "rules", "rules.test.yml", cwd=out)
    assert done.returncode != 0
    assert "OrdermonWorkersAbsent" in done.stdout + done.stderr


def test_every_alert_has_for_severity_and_annotations() -> None:
    rules = load_yaml(PROMETHEUS / "rules.yml")
    alerts = [r for g in rules["groups"] for r in g["rules"] if "alert" in r]
    assert alerts
    for rule in alerts:
        name = rule["alert"]
        assert rule.get("for"), f"{name}: no `for`"
        assert rule.get("labels", {}).get("severity") in ("warning", "critical"), name
        for key in ("summary", "description", "runbook_url", "dashboard_url"):
            assert rule.get("annotations", {}).get(key), f"{name}: no {key}"


def test_every_alert_has_a_unit_test() -> None:
    rules = load_yaml(PROMETHEUS / "rules.yml")
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
    cases = load_yaml(PROMETHEUS / "rules.test.yml")["tests"]
    firing = {
        t["alertname"]
        for case in cases
        for t in case.get("alert_rule_test", [])
        if t.get("exp_alerts")
    }
    quiet = {
        t["alertname"]
        for case in cases
        for t in case.get("alert_rule_test", [])
        if not t.get("exp_alerts")
    }
    assert alerts - firing == set(), "alerts never tested firing"
    assert alerts - quiet == set(), "alerts never tested quiet"


def test_alertmanager_config() -> None:
    done = run(binary("amtool"), "check-config", str(ALERTMANAGER / "alertmanager.yml"))
    ok(done)
    assert "SUCCESS" in done.stdout + done.stderr


WORKER = {"service": "ordermon", "warehouse": "BJ1"}  # ordermon.sinks.alertmanager's labels


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        # (alert labels, the receiver it must reach)
        # the worker's sink: alertname is the kind, service="ordermon"
        ({**WORKER, "alertname": "cascade", "severity": "critical"}, "warehouse-page"),
        ({**WORKER, "alertname": "dispatch_backpressure", "severity": "warning"}, "warehouse-chat"),
        ({**WORKER, "alertname": "forecast_overload", "severity": "warning"}, "capacity-planning"),
        ({**WORKER, "alertname": "forecast_overload", "severity": "critical"}, "warehouse-page"),
        ({**WORKER, "alertname": "warehouse_silent", "severity": "warning"}, "integrations"),
        # Prometheus's fallback copy (rules.yml)
        (
            {"alertname": "OrdermonWarehouseCritical", "service": "ordermon", "kind": "cascade"}
            | {"severity": "critical"},
            "warehouse-page",
        ),
        ({"alertname": "OrdermonWorkerDown", "severity": "critical"}, "ops-page"),
        ({"alertname": "OrdermonEventTimeBehind", "severity": "warning"}, "ops-chat"),
        ({"alertname": "SomethingElse", "severity": "critical"}, "ordermon-default"),
    ],
)
def test_alertmanager_routes(labels: dict[str, str], receiver: str) -> None:
    done = run(
        binary("amtool"),
        "config",
        "routes",
        "test",
        f"--config.file={ALERTMANAGER / 'alertmanager.yml'}",
        f"--verify.receivers={receiver}",
        *(f"{k}={v}" for k, v in labels.items()),
    )
    ok(done)
    assert done.stdout.strip() == receiver


def test_the_readme_commands_for_your_own_installation(tmp_path: Path) -> None:
    """The README's block under "In your own Grafana, Prometheus and Alertmanager", run as
    written (from a folder where `dashboards` is the repository's), with a selector edited in."""
    binary("promtool")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### In your own Grafana, Prometheus and Alertmanager", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].strip() for line in block.splitlines()]
    commands = [c for c in commands if c]
    assert any(c.startswith("python dashboards/build.py --config") for c in commands)
    (tmp_path / "dashboards").symlink_to(ROOT / "dashboards")
    python = Path(sys.executable).parent
    env = {"PATH": f"{python}:/usr/bin:/bin", "HOME": str(tmp_path)}
    edit = "sed -i 's/^selector = .*/selector = '\"'\"'job=\"ordermon-prod\"'\"'\"'/' my.toml"
    script = "set -e\n" + "\n".join([commands[0], edit, *commands[1:]])
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    ok(done)
    assert "SUCCESS" in done.stdout
    rules = (tmp_path / "my-monitoring" / "prometheus" / "rules.yml").read_text()
    assert 'absent(up{job="ordermon-prod"})' in rules
    assert {p.name for p in (tmp_path / "my-monitoring" / "grafana").iterdir()} == {
        "ordermon-overview.json",
        "ordermon-warehouse.json",
        "ordermon-health.json",
    }
