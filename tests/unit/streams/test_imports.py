"""The wire (`ordermon.streams`) and the pure logic (`ordermon.agents.logic`) stay light: no
Faust, no Kafka client, no Prometheus client, no runtime module. Checked in a fresh interpreter,
so that what other tests imported does not hide an import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ordermon import agents

REPO = Path(__file__).resolve().parents[3]
FORBIDDEN = ("faust", "mode", "aiokafka", "kafka", "prometheus_client", "aiohttp")
# the runtime: every module of ordermon but the package itself (empty) and the two light ones
LIGHT = ("ordermon", "ordermon.streams", "ordermon.agents")
# ordermon.streams.publisher is the one module of the wire that needs aiokafka (its docstring
# says so: import it only to publish); nothing else in ordermon.streams may import it.
HEAVY_BY_DESIGN = ("ordermon.streams.publisher",)

_SCRIPT = """
import importlib, json, pkgutil, sys
roots = {roots!r}
heavy = {heavy!r}
extra = {extra!r}
for root in roots:
    package = importlib.import_module(root)
    for info in pkgutil.walk_packages(package.__path__, root + "."):
        if info.name not in heavy:
            importlib.import_module(info.name)
for name in extra:
    importlib.import_module(name)
loaded = sorted(sys.modules)
print(json.dumps({{
    "loaded": loaded,
    "forbidden": sorted(
        m for m in loaded
        if m.split(".")[0] in {forbidden!r} or m in heavy or (
            m.split(".")[0] == "ordermon" and ".".join(m.split(".")[:2]) not in {light!r})
    ),
    "files": {{m: getattr(sys.modules[m], "__file__", None) for m in {light!r}
               if m in sys.modules}},
}}))
"""


def run_imports(
    roots: tuple[str, ...], extra: tuple[str, ...] = (), cwd: Path = REPO
) -> dict[str, Any]:
    code = _SCRIPT.format(
        roots=roots, heavy=HEAVY_BY_DESIGN, extra=extra, forbidden=FORBIDDEN, light=LIGHT
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


WIRE, LOGIC = "ordermon.streams", "ordermon.agents.logic"


@pytest.mark.parametrize("roots", [(WIRE,), (LOGIC,), (WIRE, LOGIC)])
def test_pure_packages_import_nothing_heavy(roots: tuple[str, ...]) -> None:
    result = run_imports(roots)
    assert result["forbidden"] == []
    for root in roots:
        assert root in result["loaded"]
    assert f"{WIRE}.validation" in result["loaded"]  # the walk did import the submodules
    assert f"{WIRE}.schemas" in result["loaded"] or roots == (LOGIC,)


def test_the_check_sees_a_heavy_import() -> None:
    """Control: the same script reports a forbidden module when one is imported."""
    result = run_imports((WIRE,), extra=("prometheus_client", "ordermon.config"))
    assert {"prometheus_client", "ordermon.config"} <= set(result["forbidden"])


def test_streams_package_does_not_import_the_publisher() -> None:
    result = run_imports((), extra=(WIRE,))
    assert f"{WIRE}.publisher" not in result["loaded"]
    assert "aiokafka" not in result["loaded"]


def test_agents_is_this_repository_in_process() -> None:
    """PyPI has an unrelated `agents` distribution (the OpenAI Agents SDK's import name): ours is
    ordermon.agents, which cannot clash."""
    assert agents.__name__ == "ordermon.agents"
    assert agents.__file__ is not None
    assert Path(agents.__file__).resolve().is_relative_to(REPO)


def test_the_install_is_this_repository_and_only_ordermon(tmp_path: Path) -> None:
    """From a directory outside the repository, ordermon.agents and ordermon.streams are this
    repository's (regular packages: a None __file__ is a namespace package, an install made
    before the rename; `pip install -e .` again fixes it), and the folder names are not
    importable at all: the install puts nothing at the top level but `ordermon`."""
    result = run_imports((), extra=LIGHT, cwd=tmp_path)
    for name in LIGHT:
        file = result["files"][name]
        assert file is not None, f"{name} is a namespace package here: reinstall with pip -e ."
        assert Path(file).resolve().is_relative_to(REPO), result["files"]
    for folder in ("agents", "streams"):
        done = subprocess.run(
            [sys.executable, "-c", f"import {folder}"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )
        assert "ModuleNotFoundError" in done.stderr, f"`import {folder}` works outside the repo"
