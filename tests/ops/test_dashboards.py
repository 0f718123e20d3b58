"""Grafana dashboards: valid, importable into any Grafana, provisioned by the compose stack, and
exactly what dashboards/build.py renders from dashboards/config.toml."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ordermon.config import Settings
from ordermon.streams.outputs import ALERT_KINDS
from tests.ops.opslib import (
    COMPOSE,
    DASHBOARD_FILES,
    DASHBOARDS,
    GRAFANA,
    NON_DEFAULT_CONFIG,
    ROOT,
    build_module,
    load_dashboard,
    load_yaml,
    metric_names,
    panels,
    variable_queries,
    write_config,
)

PROVISIONING = GRAFANA / "provisioning"
DS_VARIABLE = {"type": "prometheus", "uid": "${datasource}"}
JOB_INSTANCE = ('job=~"$job"', 'instance=~"$instance"')
K8S = NON_DEFAULT_CONFIG


def default_config() -> Any:
    build = build_module()
    return build.load_config(build.DEFAULT_CONFIG)


def provisioned_source() -> dict[str, Any]:
    (source,) = load_yaml(PROVISIONING / "datasources.yml")["datasources"]
    assert source["type"] == "prometheus"
    return dict(source)


# ---- Grafana's import API ----------------------------------------------------------------------


class DashboardInputMissing(Exception):
    pass


_VAR = re.compile(r"\$\{.+?\}")


def grafana_import(dashboard: dict[str, Any], inputs: list[dict[str, str]]) -> dict[str, Any]:
    """What POST /api/dashboards/import stores: Grafana's DashTemplateEvaluator (pkg/services/
    dashboardimport/utils) in Python. Every `__inputs` entry must have an input of its name (or
    "*") and type; every string's ``${NAME}`` of an input becomes the input's value; `__inputs`
    is dropped. Other ``${...}`` (dashboard variables) stay."""
    values = {}
    for wanted in dashboard.get("__inputs", []):
        found = [
            i for i in inputs if i["type"] == wanted["type"] and i["name"] in (wanted["name"], "*")
        ]
        if not found:
            raise DashboardInputMissing(wanted["name"])
        values["${" + wanted["name"] + "}"] = found[0]["value"]

    def evaluate(value: Any) -> Any:
        if isinstance(value, str):
            return _VAR.sub(lambda m: values.get(m.group(0), m.group(0)), value)
        if isinstance(value, list):
            return [evaluate(v) for v in value]
        if isinstance(value, dict):
            return {k: evaluate(v) for k, v in value.items() if k != "__inputs"}
        return value

    result: dict[str, Any] = evaluate(dashboard)
    return result


def import_request(name: str, uid: str) -> dict[str, Any]:
    """The body the import UI posts for a dashboard file, with `uid` picked for every
    datasource input."""
    board = load_dashboard(name)
    inputs = [
        {"name": i["name"], "type": i["type"], "pluginId": i["pluginId"], "value": uid}
        for i in board["__inputs"]
    ]
    return {"dashboard": board, "overwrite": True, "inputs": inputs, "folderUid": ""}


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)


def datasource_refs(board: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(where, datasource) of every panel, target and query variable."""
    for panel in panels(board):
        if panel["type"] == "row":
            continue
        yield panel["title"], panel.get("datasource")
        assert panel["targets"], f"{panel['title']}: no query"
        for t in panel["targets"]:
            yield f"{panel['title']} {t['refId']}", t.get("datasource")
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            yield "$" + variable["name"], variable.get("datasource")


def variable(board: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [v for v in board["templating"]["list"] if v["name"] == name]
    return dict(found)


@pytest.mark.parametrize("name", DASHBOARD_FILES)
def test_it_imports_into_any_grafana_with_the_datasource_input_resolved(name: str) -> None:
    request = import_request(name, "P1809F7CD0C75ACF3")  # some other Grafana's Prometheus uid
    assert [i["name"] for i in request["inputs"]] == ["DS_PROMETHEUS"]
    assert request["inputs"][0]["pluginId"] == "prometheus"
    stored = grafana_import(json.loads(json.dumps(request["dashboard"])), request["inputs"])

    assert "__inputs" not in stored
    assert "id" not in stored or stored["id"] is None  # a new dashboard, not someone's id
    assert stored["uid"] == name.removesuffix(".json")
    left = [s for s in strings(stored) if "${DS_" in s]
    assert not left, f"unresolved inputs: {left}"
    source = variable(stored, "datasource")
    assert source["type"] == "datasource" and source["query"] == "prometheus"
    assert source["current"]["value"] == "P1809F7CD0C75ACF3"  # the picked one is the default
    refs = list(datasource_refs(stored))
    assert refs
    for where, ref in refs:
        assert ref == DS_VARIABLE, f"{name} / {where}: {ref}"


def test_the_import_needs_the_datasource_input() -> None:
    """The evaluator above is Grafana's, not a pass-through: without the input it refuses."""
    board = load_dashboard("ordermon-overview.json")
    with pytest.raises(DashboardInputMissing, match="DS_PROMETHEUS"):
        grafana_import(board, [])
    with pytest.raises(DashboardInputMissing):
        grafana_import(board, [{"name": "DS_PROMETHEUS", "type": "constant", "value": "x"}])
    anyone = grafana_import(board, [{"name": "*", "type": "datasource", "value": "uid-1"}])
    assert variable(anyone, "datasource")["current"]["value"] == "uid-1"


@pytest.mark.parametrize("name", DASHBOARD_FILES)
def test_it_declares_what_it_requires_for_the_import_ui(name: str) -> None:
    board = load_dashboard(name)
    requires = {(r["type"], r["id"]): r for r in board["__requires"]}
    grafana = requires[("grafana", "grafana")]["version"]
    pinned = next(
        s["image"].rsplit(":", 1)[1]
        for s in load_yaml(COMPOSE)["services"].values()
        if s["image"].startswith("grafana/grafana:")
    )
    as_tuple = [tuple(int(x) for x in v.split(".")) for v in (grafana, pinned)]
    assert as_tuple[0] <= as_tuple[1], f"requires Grafana {grafana}, compose runs {pinned}"
    assert ("datasource", "prometheus") in requires
    used = {p["type"] for p in panels(board) if p["type"] != "row"}
    assert {i for t, i in requires if t == "panel"} == used


@pytest.mark.parametrize("name", DASHBOARD_FILES)
def test_provisioned_it_depends_on_no_input_and_no_datasource_uid(name: str) -> None:
    """Provisioning ignores `__inputs`: the only place an input appears is the datasource
    variable's default, which then matches no datasource by value or name, so Grafana selects
    the first option (scenes' MultiValueVariable.getStateUpdateGivenNewOptions, and the legacy
    variable validation alike): in the compose stack the one provisioned Prometheus."""
    text = (GRAFANA / name).read_text(encoding="utf-8")
    board = json.loads(text)
    assert provisioned_source()["uid"] not in text
    source = variable(board, "datasource")
    for where, value in [(w, s) for w, s in _paths(board) if "${DS_" in s]:
        assert where in (
            "templating.datasource.current.text",
            "templating.datasource.current.value",
        )
        assert value == "${DS_PROMETHEUS}"
    assert source["current"]["value"] == "${DS_PROMETHEUS}"
    sources = load_yaml(PROVISIONING / "datasources.yml")["datasources"]
    assert [s["type"] for s in sources] == ["prometheus"] and sources[0]["isDefault"] is True
    for where, ref in datasource_refs(board):
        assert ref == DS_VARIABLE, f"{name} / {where}: {ref}"


def _paths(board: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(dotted path, string) of every string, variables named by their name."""

    def walk(value: Any, path: str) -> Iterator[tuple[str, str]]:
        if isinstance(value, str):
            yield path, value
        elif isinstance(value, list):
            for i, v in enumerate(value):
                key = v.get("name", i) if isinstance(v, dict) else i
                yield from walk(v, f"{path}.{key}")
        elif isinstance(value, dict):
            for k, v in value.items():
                yield from walk(v, f"{path}.{k}" if path else k)

    for path, value in walk(board, ""):
        yield path.replace("templating.list.", "templating."), value


# ---- the dashboards themselves ----------------------------------------------------------------


@pytest.mark.parametrize("name", DASHBOARD_FILES)
def test_valid_json_with_unique_panel_ids(name: str) -> None:
    board = json.loads((GRAFANA / name).read_text(encoding="utf-8"))
    ids = [p["id"] for p in panels(board)]
    assert ids and len(ids) == len(set(ids)), f"{name}: duplicate panel ids"
    assert board["uid"] == name.removesuffix(".json")


def selectors_of(expr: str) -> list[tuple[str, str]]:
    """(metric name, its {matchers} or '') of every series an expression reads."""
    out = []
    for name in metric_names(expr):
        for m in re.finditer(rf"(?<![\w:]){re.escape(name)}(?![\w:])(\{{[^}}]*\}})?", expr):
            out.append((name, m.group(1) or ""))
    return out


@pytest.mark.parametrize("name", DASHBOARD_FILES)
def test_every_query_is_narrowed_to_job_and_instance(name: str) -> None:
    board = load_dashboard(name)
    seen = 0
    for panel in panels(board):
        for t in panel.get("targets", []):
            reads = selectors_of(t["expr"])
            assert reads, f"{panel['title']}: reads no series"
            for metric, matchers in reads:
                for wanted in JOB_INSTANCE:
                    assert wanted in matchers, f"{panel['title']}: {metric}{matchers}"
                seen += 1
    assert seen
    job, instance = variable(board, "job"), variable(board, "instance")
    assert job["query"]["query"] == 'label_values(ordermon_build_info{job="ordermon"}, job)'
    assert instance["query"]["query"] == (
        'label_values(ordermon_build_info{job="ordermon", job=~"$job"}, instance)'
    )
    assert instance["includeAll"] and instance["multi"] and instance["allValue"] == ".+"


def test_warehouse_dashboard_has_the_warehouse_variable() -> None:
    board = load_dashboard("ordermon-warehouse.json")
    assert variable(board, "warehouse")["query"]["query"] == (
        'label_values(ordermon_backlog{job=~"$job", instance=~"$instance"}, warehouse)'
    )
    for panel in panels(board):
        for target in panel.get("targets", []):
            assert 'warehouse="$warehouse"' in target["expr"], panel["title"]
    queues = {
        t["expr"].split('queue="')[1].split('"')[0]
        for p in panels(board)
        for t in p.get("targets", [])
        if 'queue="' in t["expr"]
    }
    assert queues == {"dispatch", "delivery", "service", "refund"}


def panel_links(name: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (panel["title"], link)
        for panel in panels(load_dashboard(name))
        for link in panel.get("fieldConfig", {}).get("defaults", {}).get("links", [])
    ]


def test_overview_links_to_the_warehouse_dashboard_keeping_the_variables() -> None:
    urls = [link["url"] for _, link in panel_links("ordermon-overview.json")]
    to_warehouse = [u for u in urls if "/d/ordermon-warehouse/" in u]
    assert to_warehouse
    for url in to_warehouse:
        for var in ("datasource", "job", "instance"):
            assert f"${{{var}:queryparam}}" in url, url


def test_alert_panels_link_the_runbook_of_their_kind() -> None:
    runbook = default_config().runbook_url
    alert_panels = {
        (name, panel["title"])
        for name in DASHBOARD_FILES
        for panel in panels(load_dashboard(name))
        for t in panel.get("targets", [])
        if "ordermon_alert_" in t["expr"] and "kind" in t["expr"]
    }
    assert len(alert_panels) >= 3
    for name, title in alert_panels:
        links = [link for t, link in panel_links(name) if t == title]
        runbooks = [link["url"] for link in links if link["url"].startswith(runbook + "#")]
        assert runbooks, f"{name} / {title}: no runbook link"
        for url in runbooks:
            assert re.fullmatch(r"\$\{__(data\.fields|field\.labels)\.kind\}", url.split("#")[1])
    # the anchors exist: the README's runbook has one heading per kind
    headings = re.findall(r"^#+ (\S+)$", (ROOT / "README.md").read_text(), re.MULTILINE)
    assert set(ALERT_KINDS) <= set(headings)


def test_panels_sit_on_the_grid_without_overlap() -> None:
    for name in DASHBOARD_FILES:
        cells: dict[tuple[int, int], str] = {}
        for panel in panels(load_dashboard(name)):
            pos = panel["gridPos"]
            assert pos["x"] + pos["w"] <= 24, panel["title"]
            for x in range(pos["x"], pos["x"] + pos["w"]):
                for y in range(pos["y"], pos["y"] + pos["h"]):
                    other = cells.setdefault((x, y), panel["title"])
                    assert other == panel["title"], f"{name}: {other!r} overlaps {panel['title']!r}"


# ---- one config, rendered ---------------------------------------------------------------------


def test_committed_files_are_what_build_py_renders_from_the_default_config() -> None:
    build = build_module()
    assert set(build.DASHBOARDS) == set(DASHBOARD_FILES)
    rendered = build.render_all(default_config())
    assert set(rendered) == {
        *(f"grafana/{n}" for n in DASHBOARD_FILES),
        "prometheus/rules.yml",
        "prometheus/rules.test.yml",
        "worker.env",
    }
    for rel, text in rendered.items():
        on_disk = (DASHBOARDS / rel).read_text(encoding="utf-8")
        assert on_disk == text, f"dashboards/{rel} is stale: run python dashboards/build.py"


def test_the_worker_defaults_follow_the_default_config() -> None:
    assert Settings().runbook_url == default_config().runbook_url


def test_another_installation_renders_its_selector_and_links_everywhere(tmp_path: Path) -> None:
    config = write_config(tmp_path / "k8s.toml", K8S)
    done = subprocess.run(
        [sys.executable, str(DASHBOARDS / "build.py"), "--config", str(config), "--out", "out"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = tmp_path / "out"
    written = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert written == set(build_module().render_all(default_config()))
    # dashboards: the namespace on every query, the job through $job
    for name in DASHBOARD_FILES:
        board = load_dashboard(name, out / "grafana")
        for panel in panels(board):
            for t in panel.get("targets", []):
                for metric, matchers in selectors_of(t["expr"]):
                    assert 'namespace="shop"' in matchers, f"{panel['title']}: {metric}"
                    assert 'job=~"$job"' in matchers and "kubernetes-pods" not in matchers
        assert variable(board, "job")["query"]["query"] == (
            'label_values(ordermon_build_info{job="kubernetes-pods", namespace="shop"}, job)'
        )
    # rules: no trace of the default job or links
    rules = (out / "prometheus" / "rules.yml").read_text()
    assert 'absent(up{job="kubernetes-pods", namespace="shop"})' in rules
    assert 'job="ordermon"' not in rules and "github.com" not in rules
    assert "localhost:3000" not in rules
    assert '"https://wiki.example.com/ordermon/runbook#ordermonworkerdown"' in rules
    assert '"https://grafana.example.com/d/ordermon-health/ordermon-health' in rules
    assert (out / "worker.env").read_text().splitlines()[-2:] == [
        "ORDERMON_RUNBOOK_URL=https://wiki.example.com/ordermon/runbook",
        "ORDERMON_DASHBOARD_URL=https://grafana.example.com",
    ]
    env = dict(line.split("=", 1) for line in (out / "worker.env").read_text().splitlines()[2:])
    settings = Settings.from_env(env)  # valid settings for the worker
    assert settings.dashboard_url == "https://grafana.example.com"


@pytest.mark.parametrize(
    ("values", "says"),
    [
        ({**K8S, "selector": "job=ordermon"}, "cannot read 'job=ordermon'"),
        ({**K8S, "selector": 'job="a" namespace="b"'}, "expected a comma"),
        ({**K8S, "selector": 'job=~".*"'}, "selects nothing in particular"),
        ({**K8S, "runbook_url": "wiki/runbook"}, "runbook_url must be an http://"),
        ({**K8S, "dashbord_url": "http://x"}, "unknown key(s) dashbord_url"),
        ({"selector": K8S["selector"], "runbook_url": K8S["runbook_url"]}, "dashboard_url is"),
    ],
)
def test_a_bad_config_gets_one_clear_line(
    tmp_path: Path, values: dict[str, str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / "bad.toml", values)
    assert build_module().main(["--config", str(config), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("build.py: ") and says in err and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_build_py_needs_nothing_but_python(tmp_path: Path) -> None:
    """A team renders its files from a clone, no install: `python -I -S` sees no site-packages
    and no environment, only the standard library and the repository."""
    done = subprocess.run(
        [sys.executable, "-I", "-S", str(DASHBOARDS / "build.py"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "grafana" / "ordermon-overview.json").read_text() == (
        GRAFANA / "ordermon-overview.json"
    ).read_text()


def test_a_missing_or_broken_config_file_is_named_without_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "broken.toml").write_text('selector = "job=\n')
    for name, says in (("missing.toml", "cannot read"), ("broken.toml", "not valid TOML")):
        done = subprocess.run(
            [sys.executable, str(DASHBOARDS / "build.py"), "--config", name, "--out", "out"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 2 and says in done.stderr and name in done.stderr
        assert "Traceback" not in done.stderr


def test_a_regex_selector_renders_everything_but_the_rule_tests(tmp_path: Path) -> None:
    config = write_config(tmp_path / "re.toml", {**K8S, "selector": 'job=~"ordermon-.*"'})
    build = build_module()
    files = build.render_all(build.load_config(config))
    assert "prometheus/rules.test.yml" not in files
    assert 'absent(up{job=~"ordermon-.*"})' in files["prometheus/rules.yml"]


# ---- provisioning in the compose stack ---------------------------------------------------------


def container_to_host(service: str) -> dict[str, Path]:
    """The bind mounts of a compose service: container path -> host path."""
    out = {}
    for volume in load_yaml(COMPOSE)["services"][service].get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            out[target] = (ROOT / source).resolve()
    return out


def host_path(service: str, container_path: str) -> Path:
    for target, source in sorted(container_to_host(service).items(), key=lambda kv: -len(kv[0])):
        if container_path == target or container_path.startswith(target.rstrip("/") + "/"):
            return source / Path(container_path).relative_to(target)
    raise AssertionError(f"{container_path} is not mounted into {service}")


def test_provisioning_paths_exist() -> None:
    mounts = container_to_host("grafana")
    for source in mounts.values():
        assert source.exists(), source
    provisioned = set(mounts)
    assert "/etc/grafana/provisioning/datasources/ordermon.yml" in provisioned
    assert "/etc/grafana/provisioning/dashboards/ordermon.yml" in provisioned
    (provider,) = load_yaml(PROVISIONING / "dashboards.yml")["providers"]
    assert provider["type"] == "file"
    folder = host_path("grafana", provider["options"]["path"])
    assert folder.is_dir()
    assert {p.name for p in folder.glob("*.json")} == set(DASHBOARD_FILES)


def test_datasource_points_at_the_prometheus_service() -> None:
    source = provisioned_source()
    services = load_yaml(COMPOSE)["services"]
    assert source["url"] == "http://prometheus:9090"
    assert "prometheus" in services
    assert any(p.split(":")[-1] == "9090" for p in services["prometheus"]["ports"])


def test_variable_queries_are_label_values_of_exported_series() -> None:
    found = {(q.dashboard, q.title): label for q, label in variable_queries()}
    for name in DASHBOARD_FILES:
        assert found[(name, "$job")] == "job" and found[(name, "$instance")] == "instance"
    assert found[("ordermon-warehouse.json", "$warehouse")] == "warehouse"
