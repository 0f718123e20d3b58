"""The README walk: every shell command in a code block of README.md (and CONTRACT.md) is run,
by this file or by the test or make target that COVERAGE names for it. A command that is in
neither fails `test_every_command_is_covered`, naming its line.

This file runs the commands as written, through bash from a temporary folder, in the venv as
`. .venv/bin/activate` sets it up (its bin/ first on PATH) and with no ORDERMON_ variable of the
caller's. Only the ports differ: 9092 and 6066 become free ports on 127.0.0.1 (the commands
that do not name them get them through ORDERMON_KAFKA and ORDERMON_WEB_PORT), so a walk never
meets another broker or worker of the machine. The benchmark runs smaller (its size options
added) and `make ...` targets are what `make test` and `make demo` run themselves."""

from __future__ import annotations

import ast
import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from ordermon.devtools.broker import free_port, port_is_open
from ordermon.streams.codec import encode_event
from ordermon.streams.events import OrderEvent
from ordermon.streams.publisher import Publisher
from tests.integration.faults_lib import create_topics
from tests.integration.live import Deployment

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
DOCS = ("README.md", "CONTRACT.md")
SHELL = {"sh", "bash", "shell", "console"}
VENV_BIN = Path(sys.executable).parent

# command (as in the docs, comment left out) -> what runs it:
#   "test_x"                  a test of this file
#   "tests/...py::test_x"     another test, which must exist and name the command's options
#   "make:target"             a target of the Makefile (`make test` is what CI runs, .ci/run)
#   "docker:tests/...::test"  a docker command: no Docker engine where ordermon is developed and
#                             tested, so it is not run; the named test checks the files it reads
COVERAGE: dict[str, str] = {
    "make demo": "make:demo",
    "make test": "make:test",
    "make install": "make:install",
    ". .venv/bin/activate": "test_running_it_yourself",
    "ordermon broker --port 9092 &": "test_running_it_yourself",
    "ordermon worker &": "test_running_it_yourself",
    "ordermon simulate --scenario jd2008 --speed 86400": "test_running_it_yourself",
    "curl -s 127.0.0.1:6066/warehouses | python3 -m json.tool": "test_running_it_yourself",
    "ordermon deadletters list": "test_dead_letters",
    (
        "ordermon deadletters list --reason missing_field --topic orders"
        " --since 2026-11-22T00:00:00Z"
    ): "test_dead_letters",
    "ordermon deadletters replay --reason warehouse_limit --dry-run": "test_dead_letters",
    "ordermon deadletters replay --reason warehouse_limit": "test_dead_letters",
    "ordermon deadletters list --json --reason missing_field > fix.jsonl": "test_dead_letters",
    "ordermon deadletters replay --file fix.jsonl": "test_dead_letters",
    "ordermon simulate --scenario dispatch_overload --scale 0.1 --out events.jsonl": (
        "test_backtest"
    ),
    "ordermon backtest events.jsonl": "test_backtest",
    "ordermon backtest events.jsonl --policy policy.toml": "test_backtest",
    "ordermon backtest events.jsonl --policy policy.toml --json > episodes.json": "test_backtest",
    "docker compose up -d --build": "docker:tests/ops/test_compose.py::test_dockerfile",
    "docker compose --profile simulate up simulator": (
        "docker:tests/ops/test_compose.py::test_simulator_is_a_profile"
    ),
    "docker compose up -d --scale worker=3": (
        "docker:tests/ops/test_compose.py::test_worker_is_scalable_and_configured_for_containers"
    ),
    "cp dashboards/config.toml my.toml": (
        "tests/ops/test_promtool.py::test_the_readme_commands_for_your_own_installation"
    ),
    "python dashboards/build.py --config my.toml --out my-monitoring": (
        "tests/ops/test_promtool.py::test_the_readme_commands_for_your_own_installation"
    ),
    "cd my-monitoring/prometheus && promtool test rules rules.test.yml": (
        "tests/ops/test_promtool.py::test_the_readme_commands_for_your_own_installation"
    ),
    ".venv/bin/pytest tests/unit": "make:test",
    ".venv/bin/pytest tests/integration": "make:test",
    "make bench": "test_benchmarks",
    ".venv/bin/python -m ordermon.devtools.bench --help": "test_benchmarks",
    ".venv/bin/python -m ordermon.devtools.httpbench": "test_benchmarks",
    ".venv/bin/python -m ordermon.devtools.httpbench --feed 15000": "test_benchmarks",
}


@dataclass(frozen=True)
class Command:
    doc: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.doc}:{self.line}: {self.text}"


def shell_commands(doc: str) -> Iterator[Command]:
    """Every command of the doc's shell code blocks: one a line, the comment after `#` left out
    (a line that is only a comment continues the previous line's)."""
    lines = (ROOT / doc).read_text(encoding="utf-8").splitlines()
    fence: str | None = None
    for number, line in enumerate(lines, 1):
        if line.startswith("```"):
            fence = line[3:].strip() if fence is None else None
            continue
        if fence in SHELL:
            text = re.sub(r"(^|\s)#.*$", "", line).strip()
            if text:
                yield Command(doc, number, text)


def all_commands() -> list[Command]:
    return [c for doc in DOCS for c in shell_commands(doc)]


def covered_by(test: str) -> list[str]:
    """The commands this file's `test` runs, in the order the README gives them."""
    return [c.text for c in all_commands() if COVERAGE.get(c.text) == test]


def test_every_command_is_covered() -> None:
    commands = all_commands()
    assert len(commands) >= 30  # the extraction sees the blocks
    missing = [str(c) for c in commands if c.text not in COVERAGE]
    assert missing == [], "run these in a test, or name the test that does in COVERAGE"
    stale = sorted(set(COVERAGE) - {c.text for c in commands})
    assert stale == [], "COVERAGE names commands the docs no longer have"


def test_every_fenced_block_has_a_known_language() -> None:
    """A block of commands without `sh` would escape the walk."""
    for doc in DOCS:
        fences = re.findall(r"^```(.*)$", (ROOT / doc).read_text(encoding="utf-8"), re.M)
        openings = fences[0::2]
        assert set(openings) <= SHELL | {"python", "toml", "json", "yaml", "text", ""}, doc
        # the one unlabelled block of the README is the layout tree, not commands
        assert openings.count("") <= 1, doc


def functions_of(path: Path) -> dict[str, str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name: ast.get_source_segment(path.read_text(encoding="utf-8"), node) or ""
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
    }


def makefile_targets() -> dict[str, str]:
    targets: dict[str, str] = {}
    current = None
    for line in (ROOT / "Makefile").read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([\w.$()/-]+):(?!=)(.*)$", line)
        if match:
            current = match[1]
            targets[current] = match[2]
        elif line.startswith("\t") and current:
            targets[current] += "\n" + line.strip()
    return targets


@pytest.mark.parametrize("command", sorted(COVERAGE))
def test_what_covers_a_command_exists(command: str) -> None:
    where = COVERAGE[command]
    if where.startswith("make:"):
        target = where.removeprefix("make:")
        targets = makefile_targets()
        assert target in targets, f"no `{target}` target in the Makefile"
        if command.startswith("make "):
            assert command == f"make {target}"
        else:  # run by the target's pytest: the testpaths cover the command's folder
            assert "pytest" in targets[target] + targets.get("pytest", "")
            assert command.startswith(".venv/bin/pytest tests/")
            assert (ROOT / command.split()[1]).is_dir()
        if target == "test":
            assert "make test" in (ROOT / ".ci" / "run").read_text(), "CI runs `make test`"
        return
    if where.startswith("test_"):
        assert where in functions_of(Path(__file__)), where
        return
    docker = where.startswith("docker:")
    if docker:
        assert command.startswith("docker "), "only docker commands may stay unrun"
    ref = where.removeprefix("docker:")
    path, _, name = ref.partition("::")
    functions = functions_of(ROOT / path)
    assert name in functions, f"{ref} does not exist"
    source = functions[name]
    if not docker and "README.md" not in source:
        # a test that does not read its commands from the README names every option of them
        for option in re.findall(r"(?<!\S)--?[\w-]+", command):
            assert option in source, f"{ref} does not use {option}"


# ---- the commands run here ---------------------------------------------------------------------


def walk_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERMON_")}
    env["PATH"] = f"{VENV_BIN}:{env.get('PATH', '/usr/bin:/bin')}"
    env["VIRTUAL_ENV"] = str(VENV_BIN.parent)
    return {**env, **extra}


@dataclass(frozen=True)
class Ports:
    kafka: int
    web: int

    def apply(self, command: str) -> str:
        return command.replace("9092", str(self.kafka)).replace("6066", str(self.web))


def bash(
    command: str, cwd: Path, env: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["bash", "-c", command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    return done


def run_small_bench(
    command: str, env: dict[str, str], timeout: float = 150, what: str = "the small bench"
) -> None:
    """A small bench (the whole test takes 15-25 s; twice, in CI runs, it did not end in 300 s,
    and which of its benches hung is not known): on a timeout, fail with what it printed (the
    step it was at) and the ends of the logs it left (its broker and workers), instead of being
    stopped by pytest's timeout with nothing to read. Both benches' timeouts together stay under
    pytest's 300 s."""
    started = time.time()
    try:
        bash(command, ROOT, env, timeout)
    except subprocess.TimeoutExpired as exc:
        said = [x.decode() if isinstance(x, bytes) else (x or "") for x in (exc.stdout, exc.stderr)]
        logs = [
            f"--- {log}\n{log.read_text(errors='replace')[-3000:]}"
            for folder in Path(tempfile.gettempdir()).glob("ordermon-bench-*")
            if folder.stat().st_mtime >= started
            for log in sorted(folder.glob("*.log"))
        ]
        raise AssertionError(
            f"{what} did not end in {timeout:.0f} s:\n" + "\n".join(said + logs)
        ) from exc


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def test_running_it_yourself(tmp_path: Path) -> None:
    """`make install` done (the venv this runs in), the broker and a worker in the background,
    one simulated jd2008 run, and the worker's view of every warehouse."""
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    commands = covered_by("test_running_it_yourself")
    activate, *rest = commands
    ports = Ports(free_port(), free_port())
    env = walk_env(ORDERMON_KAFKA=f"127.0.0.1:{ports.kafka}", ORDERMON_WEB_PORT=str(ports.web))
    where = bash(f"cd {ROOT} && {activate} && command -v ordermon", tmp_path, env).stdout
    assert Path(where.strip()).parent == VENV_BIN
    background: list[subprocess.Popen[bytes]] = []
    try:
        for command in rest[:-1]:
            command = ports.apply(command)
            if command.endswith("&"):
                log = (tmp_path / f"{len(background)}.log").open("wb")
                background.append(
                    subprocess.Popen(
                        ["bash", "-c", f"exec {command.removesuffix('&').strip()}"],
                        cwd=tmp_path,
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
                wait_for_port(ports.kafka if "broker" in command else ports.web, background[-1])
            else:
                bash(command, tmp_path, env, timeout=600)
        view = ports.apply(rest[-1])
        deadline = time.monotonic() + 120
        while True:  # the worker counts what the simulation sent: every site, orders counted
            statuses = json.loads(bash(view, tmp_path, env).stdout)
            if len(statuses) == 5 and all(s["totals"]["orders_placed"] > 0 for s in statuses):
                break
            assert time.monotonic() < deadline, statuses
            time.sleep(2)
    finally:
        for process in reversed(background):
            stop(process)


def wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while not port_is_open(port, "127.0.0.1"):
        assert process.poll() is None, "exited before it listened"
        assert time.monotonic() < deadline
        time.sleep(0.5)


def order(n: int, warehouse: str, at_ms: int) -> OrderEvent:
    return OrderEvent(
        event_id=f"w{n}",
        status="placed",
        order_id=f"o{n}",
        warehouse=warehouse,
        occurred_at_ms=at_ms,
    )


def test_dead_letters(deployment: Deployment, tmp_path: Path) -> None:
    """Letters of both kinds the block names (a warehouse over the limit, an order without its
    order_id), then the six commands in order; the corrected file is edited as the README says."""
    now = int(time.time() * 1000)
    create_topics(deployment.bootstrap, deployment.prefix)
    worker = deployment.worker(ORDERMON_MAX_WAREHOUSES="1")
    worker.wait_ready()
    broken = orjson.loads(encode_event(order(9, "DL-A", now - 60_000)))
    broken.pop("order_id")

    async def publish() -> None:
        async with Publisher(deployment.bootstrap, prefix=deployment.prefix) as pub:
            for n, warehouse in enumerate(("DL-A", "DL-B")):
                await pub.send(order(n, warehouse, now - 120_000))
            await pub.send_raw("orders", orjson.dumps(broken), key=b"DL-A")

    asyncio.run(publish())
    env = walk_env(ORDERMON_KAFKA=deployment.bootstrap, ORDERMON_TOPIC_PREFIX=deployment.prefix)
    listing, filtered, dry, replay, export, corrected = covered_by("test_dead_letters")
    deadline = time.monotonic() + 90
    while not {"warehouse_limit", "missing_field"} <= set(
        bash(listing, tmp_path, env).stdout.split()
    ):
        assert time.monotonic() < deadline, bash(listing, tmp_path, env).stdout
        time.sleep(1)
    worker.stop()
    out = bash(filtered, tmp_path, env).stdout
    assert "missing_field" in out and "warehouse_limit" not in out
    done = bash(dry, tmp_path, env)
    assert "would send" in done.stdout and "1 would be sent" in done.stderr
    assert "1 sent" in bash(replay, tmp_path, env).stderr
    bash(export, tmp_path, env)
    (line,) = (tmp_path / "fix.jsonl").read_text().splitlines()
    letter = json.loads(line)
    value = letter["value"] if isinstance(letter["value"], dict) else json.loads(letter["value"])
    value["order_id"] = "o9"  # the edit: the field the publisher left out
    letter["value"] = value if isinstance(letter["value"], dict) else json.dumps(value)
    (tmp_path / "fix.jsonl").write_text(json.dumps(letter) + "\n")
    assert "1 sent" in bash(corrected, tmp_path, env).stderr
    assert "already replayed" in bash(corrected, tmp_path, env).stderr  # idempotent


def test_backtest(tmp_path: Path) -> None:
    """The backtest block, with the README's policy example as policy.toml."""
    (policy,) = re.findall(
        r"^```toml\n(.*?)^```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S | re.M
    )
    (tmp_path / "policy.toml").write_text(policy, encoding="utf-8")
    env = walk_env()
    simulate, *backtests = covered_by("test_backtest")
    bash(simulate, tmp_path, env)
    events = (tmp_path / "events.jsonl").read_text().count("\n")
    for command in backtests:
        done = bash(command, tmp_path, env)
        if "--json" not in command:  # the summary line; --json writes it in the document
            assert f"{events} events counted" in done.stderr, done.stderr[-500:]
    episodes = json.loads((tmp_path / "episodes.json").read_text())
    assert episodes["summary"]["events"] == events
    assert any(e["kind"] == "dispatch_backpressure" for e in episodes["episodes"])


def test_benchmarks(tmp_path: Path) -> None:
    """`make bench`, its --help, and the HTTP benchmark: each starts its own broker and worker on
    free ports; run here smaller (a few thousand events, 20 warehouses, 40 requests) so that
    what they measure is their business, not this test's."""
    make_bench, bench_help, *httpbench = covered_by("test_benchmarks")
    recipe = makefile_targets()[make_bench.split()[1]]
    module = ".venv/bin/python -m ordermon.devtools.bench"
    assert recipe.endswith("$(BIN)/python -m ordermon.devtools.bench"), recipe
    assert bench_help.startswith(module)
    env = walk_env()
    assert "--events" in bash(f"cd {ROOT} && {bench_help}", tmp_path, env).stdout
    small = (
        "--events 20000 --engine-events 2000 --cost-warehouses '' --latency-warehouses 0 "
        "--scale-events 4000 --scale-warehouses 20 --quiet-events 2000"
    )
    run_small_bench(f"cd {ROOT} && exec {module} {small} --out {tmp_path / 'bench.json'}", env)
    bench = json.loads((tmp_path / "bench.json").read_text())
    worker = bench["throughput"]["worker"]
    assert worker["complete"] and worker["events_counted"] >= 20000, worker
    # 20,000 events may all be counted between two of the bench's samples (0.5 s apart): then it
    # says it saw no steady state and gives no ratio, rather than a made-up one
    scale = bench["scale"]  # counted all, then restarted and listed every warehouse again
    assert scale["worker"]["complete"] and scale["warehouses"] == 20, scale
    assert scale["restart"]["warehouses_listed"] == 20, scale["restart"]
    assert scale["restart"]["all_listed_s"] >= scale["restart"]["ready_s"] > 0, scale["restart"]
    quiet = bench["quiet"]  # the same sites and day, a tenth of the events: counted all
    assert quiet["worker"]["complete"] and quiet["events"] == 2000, quiet
    assert quiet["warehouses"] == 20 and quiet["event_time_span_minutes"] == 1440, quiet
    if worker["steady_state"]:
        assert bench["ratio"] > 0, bench["ratio"]
    else:
        assert bench["ratio"] is None and worker["events_per_s"] is None, worker
    plain, feed = httpbench
    assert feed == f"{plain} --feed 15000"
    small = (
        f"--warehouses 20 --events 600 --requests 40 --concurrency 5 --out {tmp_path / 'h.json'}"
    )
    run_small_bench(
        f"cd {ROOT} && exec {plain} --feed 200 {small}", env, 100, "the small HTTP bench"
    )
    result = json.loads((tmp_path / "h.json").read_text())
    assert result["requests"] == 40 and result["warehouses"] == 20
