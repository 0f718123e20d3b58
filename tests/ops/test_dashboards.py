"""Grafana dashboards and provisioning: valid, consistent, generated from dashboards/build.py."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from tests.ops.opslib import (
    COMPOSE,
    DASHBOARD_FILES,
    DASHBOARDS,
    GRAFANA,
    ROOT,
    load_dashboard,
    load_yaml,
    panels,
)

PROVISIONING = GRAFANA / "provisioning"


def datasource_uid() -> str:
    (source,) = load_yaml(PROVISIONING / "datasources.yml")["datasources"]
    assert source["type"] == "prometheus"
    return str(source["uid"])


@pytest.mark.parametrize("name", DASHBOARD_FILES)
def test_valid_json_with_unique_panel_ids(name: str) -> None:
    board = json.loads((GRAFANA / name).read_text(encoding="utf-8"))
    ids = [p["id"] for p in panels(board)]
    assert ids and len(ids) == len(set(ids)), f"{name}: duplicate panel ids"
    assert board["uid"] == name.removesuffix(".json")


@pytest.mark.parametrize("name", DASHBOARD_FILES)
def test_every_datasource_is_the_provisioned_one(name: str) -> None:
    uid = datasource_uid()
    board = load_dashboard(name)
    seen = 0
    for panel in panels(board):
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == uid, panel["title"]
        assert panel["targets"], f"{panel['title']}: no query"
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == uid, panel["title"]
            assert target["expr"].strip(), panel["title"]
            seen += 1
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            assert variable["datasource"]["uid"] == uid, variable["name"]
    assert seen


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


def test_warehouse_dashboard_has_the_warehouse_variable() -> None:
    board = load_dashboard("ordermon-warehouse.json")
    (variable,) = [v for v in board["templating"]["list"] if v["name"] == "warehouse"]
    assert variable["query"]["query"] == "label_values(ordermon_backlog, warehouse)"
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


def test_overview_links_to_the_warehouse_dashboard() -> None:
    urls = [
        link["url"]
        for panel in panels(load_dashboard("ordermon-overview.json"))
        for link in panel.get("fieldConfig", {}).get("defaults", {}).get("links", [])
    ]
    assert urls and all("/d/ordermon-warehouse/" in url for url in urls)


def test_json_files_are_what_build_py_writes() -> None:
    spec = importlib.util.spec_from_file_location("dashboards_build", DASHBOARDS / "build.py")
    assert spec is not None and spec.loader is not None
    build: Any = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    assert set(build.DASHBOARDS) == set(DASHBOARD_FILES)
    assert datasource_uid() == build.DATASOURCE_UID
    for name in DASHBOARD_FILES:
        on_disk = (GRAFANA / name).read_text(encoding="utf-8")
        assert on_disk == build.render(name), f"{name} is stale: run dashboards/build.py"


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
    (source,) = load_yaml(PROVISIONING / "datasources.yml")["datasources"]
    services = load_yaml(COMPOSE)["services"]
    assert source["url"] == "http://prometheus:9090"
    assert "prometheus" in services
    assert any(p.split(":")[-1] == "9090" for p in services["prometheus"]["ports"])
