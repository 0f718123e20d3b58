"""One direction of imports: ordermon.streams <- ordermon.agents.logic <- ordermon.agents.engine
<- ordermon.agents.worker <- ordermon (the runtime: everything else under ordermon/).

The folders streams/ and agents/ stay at the top of the repository; they are the packages
ordermon.streams and ordermon.agents through the symlinks ordermon/streams and ordermon/agents,
and nothing imports them under their folder names (a top-level `agents` is also the OpenAI Agents
SDK's import name, and one module under two names is two modules).

Read from the source with `ast` (every import statement, also those inside functions and under
TYPE_CHECKING), so a lazy import cannot slip past. Only the Faust layer (ordermon.agents.worker)
and the runtime may import Faust, aiokafka or the Prometheus client."""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FRAMEWORKS = {"faust", "mode", "aiokafka", "kafka", "prometheus_client", "aiohttp", "rocksdict"}
# the folders that are packages under ordermon/ through a symlink, by the name they are imported as
LINKED = {"ordermon.streams": "streams", "ordermon.agents": "agents"}
OLD_NAMES = {"streams", "agents"}  # the folder names, never import names

# layer -> the first-party layers it may import (itself included), and the frameworks it may
STREAMS, LOGIC, ENGINE, WORKER = (
    "ordermon.streams",
    "ordermon.agents.logic",
    "ordermon.agents.engine",
    "ordermon.agents.worker",
)
LAYERS: dict[str, tuple[set[str], set[str]]] = {
    STREAMS: ({STREAMS}, set()),
    LOGIC: ({STREAMS, LOGIC}, set()),
    ENGINE: ({STREAMS, LOGIC, ENGINE}, set()),
    WORKER: ({STREAMS, LOGIC, ENGINE, WORKER}, FRAMEWORKS),
    "ordermon": ({STREAMS, LOGIC, ENGINE, WORKER, "ordermon"}, FRAMEWORKS),
}
# the wire's one module that needs aiokafka (import it only to publish)
EXCEPTIONS = {(STREAMS + ".publisher", "aiokafka")}
# The packages' __init__ modules, run by every import below them (`import ordermon.streams` runs
# ordermon/__init__.py first), so they import nothing: a publisher's install has no Faust and no
# runtime dependencies. Module -> its own pseudo-layer.
EMPTY = {"ordermon": "ordermon/__init__.py", "ordermon.agents": "agents/__init__.py"}


def layer_of(module: str) -> str | None:
    if module in EMPTY:
        return EMPTY[module]
    for layer in sorted(LAYERS, key=len, reverse=True):
        if module == layer or module.startswith(layer + "."):
            return layer
    return None


def package_files(folder: Path, package: str) -> Iterator[tuple[str, Path]]:
    for path in sorted(folder.rglob("*.py")):
        rel = path.relative_to(folder).with_suffix("").parts
        if rel and rel[-1] == "__init__":
            rel = rel[:-1]
        if rel and f"{package}.{rel[0]}" in LINKED:
            continue  # ordermon/streams, ordermon/agents: the linked folders, walked below
        yield ".".join((package, *rel)), path


def modules() -> Iterator[tuple[str, Path]]:
    """Every module of the package with the name it is imported as, each file once."""
    yield from package_files(ROOT / "ordermon", "ordermon")
    for package, folder in LINKED.items():
        yield from package_files(ROOT / folder, package)


def imports(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import"
            base = node.module or ""
            # `from ordermon.agents import engine` names the module ordermon.agents.engine
            yield from (f"{base}.{alias.name}" for alias in node.names)


def old_name(name: str) -> bool:
    return name.split(".")[0] in OLD_NAMES


def violations(module: str, path: Path) -> list[str]:
    layer = layer_of(module)
    assert layer is not None, module
    if layer in EMPTY.values():
        return [f"{module} imports {name} (it must stay empty)" for name in imports(path)]
    allowed_layers, allowed_frameworks = LAYERS[layer]
    found = []
    for name in imports(path):
        top = name.split(".")[0]
        target = layer_of(name)
        if old_name(name):
            found.append(f"{module} imports {name}: import it as ordermon.{name}")
        elif target not in (None, *EMPTY.values()) and target not in allowed_layers:
            found.append(f"{module} imports {name} ({target} is above {layer})")
        elif top in FRAMEWORKS - allowed_frameworks and (module, top) not in EXCEPTIONS:
            found.append(f"{module} imports {name} (only {WORKER} and the runtime may)")
    return found


ALL = list(modules())


@pytest.mark.parametrize(("module", "path"), ALL, ids=[m for m, _ in ALL])
def test_imports_go_one_way(module: str, path: Path) -> None:
    assert violations(module, path) == []


def test_the_rule_catches_an_upward_import(tmp_path: Path) -> None:
    """The check itself: an engine importing the runtime, a logic module importing Faust, a
    module importing a folder name, the package's __init__ importing anything."""
    bad = tmp_path / "bad.py"
    bad.write_text("from ordermon.config import Settings\nimport faust\n")
    assert len(violations(ENGINE, bad)) == 2
    bad.write_text("def f():\n    from ordermon.agents.worker import register\n")
    assert violations(LOGIC + ".flow", bad) == [
        f"{LOGIC}.flow imports {WORKER}.register ({WORKER} is above {LOGIC})"
    ]
    assert violations("ordermon.app", bad) == []
    assert violations("ordermon", bad) == [
        f"ordermon imports {WORKER}.register (it must stay empty)"
    ]
    bad.write_text("import streams.events\n")
    assert violations("ordermon.cli", bad) == [
        "ordermon.cli imports streams.events: import it as ordermon.streams.events"
    ]


def test_every_layer_has_modules() -> None:
    """A renamed folder must not make the test pass vacuously."""
    assert {layer_of(m) for m, _ in ALL} >= set(LAYERS) | set(EMPTY.values())
    names = [m for m, _ in ALL]
    assert len(names) == len(set(names))
    assert {f"{STREAMS}.publisher", f"{ENGINE}", f"{WORKER}.app", "ordermon.cli"} <= set(names)


@pytest.mark.parametrize(("package", "folder"), LINKED.items())
def test_the_folders_are_packages_of_ordermon_through_relative_symlinks(
    package: str, folder: str
) -> None:
    """ordermon/streams -> ../streams: relative, so a clone, the sdist and the Docker build
    context (which copies the folders beside ordermon/) resolve it."""
    link = ROOT / "ordermon" / package.split(".")[1]
    assert link.is_symlink(), f"{link} must be a symlink to ../{folder}"
    assert os.readlink(link) == f"../{folder}"
    assert link.resolve() == (ROOT / folder).resolve()
    assert (link / "__init__.py").is_file()


def first_party_imports_outside_the_package() -> Iterator[tuple[Path, str]]:
    for folder in ("tests", "dashboards"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "node_modules" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    names = [node.module or ""]
                else:
                    continue
                yield from ((path, name) for name in names if old_name(name))


def test_tests_and_tools_import_the_package_names_too() -> None:
    """In the repository the folders are importable under their own names as well (the root is
    on sys.path), so a test importing agents.engine by that name would load a second copy of every
    module it reaches; an installed ordermon has no such name at all."""
    found = [
        f"{p.relative_to(ROOT)} imports {n}" for p, n in first_party_imports_outside_the_package()
    ]
    assert found == [], "import them as ordermon.streams and ordermon.agents"
