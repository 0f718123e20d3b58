"""One direction of imports: streams <- agents.logic <- agents.engine <- agents.worker <- ordermon.

Read from the source with `ast` (every import statement, also those inside functions and under
TYPE_CHECKING), so a lazy import cannot slip past. Only the Faust layer (agents.worker) and the
runtime (ordermon) may import Faust, aiokafka or the Prometheus client."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FRAMEWORKS = {"faust", "mode", "aiokafka", "kafka", "prometheus_client", "aiohttp", "rocksdict"}

# layer -> the first-party layers it may import (itself included), and the frameworks it may
LAYERS: dict[str, tuple[set[str], set[str]]] = {
    "streams": ({"streams"}, set()),
    "agents.logic": ({"streams", "agents.logic"}, set()),
    "agents.engine": ({"streams", "agents.logic", "agents.engine"}, set()),
    "agents.worker": (
        {"streams", "agents.logic", "agents.engine", "agents.worker"},
        FRAMEWORKS,
    ),
    "ordermon": (
        {"streams", "agents.logic", "agents.engine", "agents.worker", "ordermon"},
        FRAMEWORKS,
    ),
}
# streams.publisher is the one module of the wire that needs aiokafka (import it only to publish)
EXCEPTIONS = {("streams.publisher", "aiokafka")}


def layer_of(module: str) -> str | None:
    for layer in sorted(LAYERS, key=len, reverse=True):
        if module == layer or module.startswith(layer + "."):
            return layer
    if module == "agents" or module.startswith("agents."):
        return "agents"  # agents/__init__.py: empty
    return None


def modules() -> Iterator[tuple[str, Path]]:
    for package in ("streams", "agents", "ordermon"):
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield ".".join(parts), path


def imports(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import"
            base = node.module or ""
            # `from agents import engine` names the module agents.engine
            yield from (f"{base}.{alias.name}" for alias in node.names)


def violations(module: str, path: Path) -> list[str]:
    layer = layer_of(module)
    assert layer is not None, module
    if layer == "agents":  # agents/__init__.py stays empty
        return [f"{module} imports {name}" for name in imports(path)]
    allowed_layers, allowed_frameworks = LAYERS[layer]
    found = []
    for name in imports(path):
        top = name.split(".")[0]
        target = layer_of(name)
        if target not in (None, "agents") and target not in allowed_layers:
            found.append(f"{module} imports {name} ({target} is above {layer})")
        elif top in FRAMEWORKS - allowed_frameworks and (module, top) not in EXCEPTIONS:
            found.append(f"{module} imports {name} (only agents.worker and ordermon may)")
    return found


ALL = list(modules())


@pytest.mark.parametrize(("module", "path"), ALL, ids=[m for m, _ in ALL])
def test_imports_go_one_way(module: str, path: Path) -> None:
    assert violations(module, path) == []


def test_the_rule_catches_an_upward_import(tmp_path: Path) -> None:
    """The check itself: an engine importing the runtime, a logic module importing Faust."""
    bad = tmp_path / "bad.py"
    bad.write_text("from ordermon.config import Settings\nimport faust\n")
    assert len(violations("agents.engine", bad)) == 2
    bad.write_text("def f():\n    from agents.worker import register\n")
    assert violations("agents.logic.flow", bad) == [
        "agents.logic.flow imports agents.worker.register (agents.worker is above agents.logic)"
    ]
    assert violations("ordermon.app", bad) == []


def test_every_layer_has_modules() -> None:
    """A renamed folder must not make the test pass vacuously."""
    assert {layer_of(m) for m, _ in ALL} >= set(LAYERS)
