"""The wire (`streams`) and the pure logic (`agents.logic`) stay light: no Faust, no Kafka
client, no Prometheus client, no runtime package. Checked in a fresh interpreter, so that what
other tests imported does not hide an import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import agents

REPO = Path(__file__).resolve().parents[3]
FORBIDDEN = ("faust", "mode", "aiokafka", "kafka", "prometheus_client", "ordermon", "aiohttp")
# streams.publisher is the one module of the wire that needs aiokafka (its docstring says
# so: import it only to publish); nothing else in streams may import it.
HEAVY_BY_DESIGN = ("streams.publisher",)

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
        m for m in loaded if m.split(".")[0] in {forbidden!r} or m in heavy
    ),
    "files": {{m: getattr(sys.modules[m], "__file__", None) for m in ("streams", "agents")
               if m in sys.modules}},
}}))
"""


def run_imports(
    roots: tuple[str, ...], extra: tuple[str, ...] = (), cwd: Path = REPO
) -> dict[str, Any]:
    code = _SCRIPT.format(roots=roots, heavy=HEAVY_BY_DESIGN, extra=extra, forbidden=FORBIDDEN)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.mark.parametrize("roots", [("streams",), ("agents.logic",), ("streams", "agents.logic")])
def test_pure_packages_import_nothing_heavy(roots: tuple[str, ...]) -> None:
    result = run_imports(roots)
    assert result["forbidden"] == []
    for root in roots:
        assert root in result["loaded"]
    assert "streams.validation" in result["loaded"]  # the walk did import the submodules
    assert "streams.schemas" in result["loaded"] or roots == ("agents.logic",)


def test_the_check_sees_a_heavy_import() -> None:
    """Control: the same script reports a forbidden module when one is imported."""
    result = run_imports(("streams",), extra=("prometheus_client",))
    assert "prometheus_client" in result["forbidden"]


def test_streams_package_does_not_import_the_publisher() -> None:
    result = run_imports((), extra=("streams",))
    assert "streams.publisher" not in result["loaded"]
    assert "aiokafka" not in result["loaded"]


def test_agents_is_this_repository_in_process() -> None:
    """PyPI has an unrelated `agents` distribution; ours must be the one imported."""
    assert agents.__file__ is not None
    assert Path(agents.__file__).resolve().is_relative_to(REPO)


def test_agents_is_this_repository_from_elsewhere(tmp_path: Path) -> None:
    """From a directory outside the repository, the installed `agents` is still this one, and a
    regular package (a None __file__ means the install predates agents/__init__.py: a namespace
    package whose __init__ never runs; `pip install -e .` again fixes it)."""
    result = run_imports((), extra=("agents", "streams"), cwd=tmp_path)
    for name in ("agents", "streams"):
        file = result["files"][name]
        assert file is not None, f"{name} is a namespace package here: reinstall with pip -e ."
        assert Path(file).resolve().is_relative_to(REPO), result["files"]
