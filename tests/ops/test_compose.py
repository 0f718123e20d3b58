"""docker-compose.yml, the Dockerfile and prometheus.yml agree with each other and the Settings.

No Docker engine is needed: the files are parsed, never run."""

from __future__ import annotations

import json
import re
import tomllib
from typing import Any

import pytest

from ordermon.config import Settings, documented
from ordermon.streams.flows import INPUT_TOPICS
from ordermon.streams.topics import ALERTS, DEADLETTER
from tests.ops.opslib import COMPOSE, PROMETHEUS, ROOT, load_yaml

COMPOSE_FILE: dict[str, Any] = load_yaml(COMPOSE)
SERVICES: dict[str, Any] = COMPOSE_FILE["services"]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
WEB_PORT = Settings().web_port


def env_files(service: dict[str, Any]) -> dict[str, str]:
    """The variables of a service's env_file(s), as compose reads them (KEY=VALUE, # comments)."""
    files = service.get("env_file", [])
    out: dict[str, str] = {}
    for name in [files] if isinstance(files, str) else files:
        for line in (ROOT / name).read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                key, _, value = line.partition("=")
                out[key.strip()] = value
    return out


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's variables: its env_file(s), then `environment` over them."""
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return env_files(service) | {k: str(v) for k, v in env.items()}


def defaults(value: str) -> str:
    """A value as compose gives it with no variable set: ${NAME:-default} -> default."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def test_the_services() -> None:
    expected = {"kafka", "topics", "worker", "simulator", "prometheus", "alertmanager", "grafana"}
    assert set(SERVICES) == expected


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_images_are_pinned(name: str) -> None:
    image = SERVICES[name]["image"]
    repository, _, tag = image.rpartition(":")
    assert repository and tag and "/" not in tag, f"{name}: {image} has no tag"
    assert tag != "latest" and re.search(r"\d", tag), f"{name}: {image} is not pinned"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_ordermon_variables_are_settings(name: str) -> None:
    known = {variable for variable, _, _ in documented()}
    used = {k for k in environment(SERVICES[name]) if k.startswith("ORDERMON_")}
    assert used <= known, f"{name}: unknown {used - known}"


def test_dockerfile_variables_are_settings() -> None:
    known = {variable for variable, _, _ in documented()}
    assert set(re.findall(r"\bORDERMON_[A-Z_]+", DOCKERFILE)) <= known


def test_worker_is_scalable_and_configured_for_containers() -> None:
    worker = SERVICES["worker"]
    env = environment(worker)
    assert "container_name" not in worker
    for port in worker.get("ports", []):  # a host port would clash between replicas
        assert "-" in str(port).split(":")[0], f"fixed host port {port}"
    assert worker["build"] in (".", {"context": "."})
    assert env["ORDERMON_KAFKA"] == "kafka:9092"
    assert env["ORDERMON_WEB_HOST"] == "0.0.0.0"
    assert env["ORDERMON_ALERTMANAGER_URL"] == "http://alertmanager:9093"
    assert int(env.get("ORDERMON_WEB_PORT", WEB_PORT)) == WEB_PORT
    assert str(WEB_PORT) in [str(p) for p in worker["expose"]]
    check = " ".join(worker["healthcheck"]["test"])
    assert f"127.0.0.1:{WEB_PORT}/healthz" in check
    settings = Settings.from_env({k: defaults(v) for k, v in env.items()})  # valid values
    assert settings.web_port == WEB_PORT
    # the links of dashboards/config.toml (rendered into worker.env by dashboards/build.py)
    config = tomllib.loads((ROOT / "dashboards" / "config.toml").read_text(encoding="utf-8"))
    assert settings.runbook_url == config["runbook_url"]
    assert settings.dashboard_url == config["dashboard_url"]
    grafana_port = config["dashboard_url"].rsplit(":", 1)[1]
    assert any(str(p).split(":")[0] == grafana_port for p in SERVICES["grafana"]["ports"])


def test_simulator_is_a_profile() -> None:
    simulator = SERVICES["simulator"]
    assert simulator["profiles"]
    assert simulator["image"] == SERVICES["worker"]["image"]
    command = simulator["command"]
    assert command[:2] == ["ordermon", "simulate"]
    assert command[command.index("--scenario") + 1] == "jd2008"
    assert command[command.index("--speed") + 1] == "3600"


def test_kafka_is_a_single_kraft_node_with_a_health_check() -> None:
    kafka = SERVICES["kafka"]
    env = environment(kafka)
    assert kafka["image"].startswith("apache/kafka:")
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://kafka:9092"
    assert "kafka-broker-api-versions" in " ".join(kafka["healthcheck"]["test"])


def test_topics_service_creates_every_topic_with_one_partition_count() -> None:
    topics = SERVICES["topics"]
    script = "\n".join(topics["command"])
    assert topics["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert script.count("--partitions") == 1, "one create function, one partition count"
    assert '--partitions "$$ORDERMON_PARTITIONS"' in script
    assert environment(topics)["ORDERMON_PARTITIONS"] == "${ORDERMON_PARTITIONS:-4}"
    created = re.findall(r"^\s*create\s+(\S+)\s*$", script, re.MULTILINE)
    assert sorted(created) == sorted([*INPUT_TOPICS, ALERTS, DEADLETTER])
    assert "$${ORDERMON_TOPIC_PREFIX}" in script
    # the broker's default for topics created on first use agrees
    kafka_default = environment(SERVICES["kafka"])["KAFKA_NUM_PARTITIONS"]
    assert kafka_default == "${ORDERMON_PARTITIONS:-4}"
    assert environment(SERVICES["worker"])["ORDERMON_PARTITIONS"] == kafka_default
    for name in ("worker", "simulator"):
        condition = SERVICES[name]["depends_on"]["topics"]["condition"]
        assert condition == "service_completed_successfully"


def mount_targets(service: dict[str, Any]) -> set[str]:
    """The container paths a service mounts (named, anonymous or bind)."""
    return {v.split(":")[1] if ":" in v else v for v in service.get("volumes", [])}


def test_state_that_must_persist_lives_on_volumes() -> None:
    """Kafka writes its log where its volume is; each worker keeps its data dir on a volume."""
    kafka = SERVICES["kafka"]
    assert environment(kafka)["KAFKA_LOG_DIRS"] in mount_targets(kafka)
    named = {v.split(":")[0] for v in kafka["volumes"] if ":" in v}
    assert named <= set(COMPOSE_FILE["volumes"]), "named volumes are declared"
    worker = SERVICES["worker"]
    env = environment(worker)
    assert env["ORDERMON_DATA_DIR"] in mount_targets(worker)
    store = env["ORDERMON_STORE"]
    assert store.startswith("${ORDERMON_STORE:-") and "rocksdict://" in store
    # one volume per replica: a named one would be shared by every `--scale` replica
    assert all(":" not in v for v in worker["volumes"]), "worker volumes are anonymous"


def test_bind_mounts_exist() -> None:
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name}: {source} does not exist"


def test_prometheus_scrapes_every_worker_on_the_web_port() -> None:
    config = load_yaml(PROMETHEUS / "prometheus.yml")
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "ordermon"]
    # the selector that dashboards/config.toml renders into the rules and dashboards
    selector = tomllib.loads((ROOT / "dashboards" / "config.toml").read_text())["selector"]
    assert selector == f'job="{job["job_name"]}"'
    assert job.get("metrics_path", "/metrics") == "/metrics"
    (sd,) = job["dns_sd_configs"]
    assert sd["names"] == ["worker"] and sd["type"] == "A"
    assert sd["port"] == WEB_PORT
    (am,) = config["alerting"]["alertmanagers"]
    assert am["static_configs"][0]["targets"] == ["alertmanager:9093"]
    mounts = SERVICES["prometheus"]["volumes"]
    assert "./dashboards/prometheus:/etc/prometheus:ro" in mounts
    assert "--config.file=/etc/prometheus/prometheus.yml" in SERVICES["prometheus"]["command"]


def test_alertmanager_mounts_its_config() -> None:
    am = SERVICES["alertmanager"]
    assert "./dashboards/alertmanager:/etc/alertmanager:ro" in am["volumes"]
    assert "--config.file=/etc/alertmanager/alertmanager.yml" in am["command"]


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile() -> None:
    steps = dockerfile_instructions()
    (base,) = [rest for word, rest in steps if word == "FROM"]
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?(@sha256:[0-9a-f]{64})?", base), base
    (cmd,) = [rest for word, rest in steps if word == "CMD"]
    assert json.loads(cmd) == ["ordermon", "worker"]
    (expose,) = [rest for word, rest in steps if word == "EXPOSE"]
    assert expose == str(WEB_PORT)
    users = [rest for word, rest in steps if word == "USER"]
    assert users and users[-1] not in ("root", "0")
    (health,) = [rest for word, rest in steps if word == "HEALTHCHECK"]
    assert "/healthz" in health
    # the monitor's extra, at the versions CI tested
    assert any(
        word == "RUN" and "pip install '.[worker]' -c constraints.txt" in rest
        for word, rest in steps
    )
    for word, rest in steps:
        if word == "COPY":
            for source in rest.split()[:-1]:
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"


def test_dockerignore_keeps_what_the_image_needs() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for needed in (
        "pyproject.toml",
        "README.md",
        "constraints.txt",
        "streams",
        "agents",
        "ordermon",
    ):
        assert needed not in ignored
    assert {".git", ".venv"} <= ignored
