"""Live fixtures of the ops tests: a real Prometheus, and the /metrics targets it scrapes.

`metrics_target` is a real worker fed by the embedded broker and a simulated scenario;
`fake_target` serves what the code registers (ordermon.metrics + Faust's sensor) from a fixed
state, so the dashboards' queries can be checked even where no worker can run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from ordermon.metrics import exposition
from tests.ops.live import HOST, free_port, http_get, poll, port_is_open, stop, tail
from tests.ops.opslib import exporting_registry

# ---- targets ------------------------------------------------------------------------------------


@pytest.fixture
def fake_target() -> Iterator[str]:
    """host:port serving /metrics from everything the code registers, with a fixed state (two
    warehouses, one critical alert) and Faust's sensor fed one consumed and committed batch."""
    registry, metrics, monitor = exporting_registry()
    for wh in ("BJ1", "SH2"):
        metrics.events.labels(topic="orders", status="placed", warehouse=wh).inc(10)
    from faust.types import TP

    for partition in range(4):
        tp = TP("orders", partition)
        monitor.on_message_in(tp, 99, SimpleNamespace(time_in=None))
        monitor.track_tp_end_offset(tp, 120)
        monitor.on_tp_commit({tp: 100})
    monitor.on_send_completed(None, time.monotonic(), None)
    metrics.batch_seconds.observe(0.004)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body, content_type = exposition(registry)
            self.send_response(200 if self.path == "/metrics" else 404)
            self.send_header("Content-Type", content_type)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((HOST, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{HOST}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _ordermon_cli() -> str | None:
    """The `ordermon` command when it has broker, worker and simulate; None otherwise."""
    exe = Path(sys.executable).with_name("ordermon")
    path = str(exe) if exe.exists() else shutil.which("ordermon")
    if path is None:
        return None
    try:
        done = subprocess.run([path, "--help"], capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = done.stdout.decode(errors="replace")
    if done.returncode != 0 or not all(c in text for c in ("broker", "worker", "simulate")):
        return None
    return path


@pytest.fixture
def metrics_target(tmp_path: Path) -> Iterator[str]:
    """host:port of a real worker's /metrics, with data flowing.

    Starts the embedded broker (or uses ORDERMON_TEST_BROKER), `ordermon worker` and
    `ordermon simulate --scenario warm_stall` as fast as it goes: nine days of a small shift
    site (the detector judges a stall against the site's learned week), ending 90 minutes into a
    working-hours dispatch stall, so its alert is still firing when the panels are read, with a
    fresh topic prefix and consumer group. Skips, saying why, when the commands are not there
    yet."""
    cli = _ordermon_cli()
    if cli is None:
        pytest.skip("worker not available yet: `ordermon --help` lacks broker/worker/simulate")
    run = uuid.uuid4().hex[:8]
    web_port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ORDERMON_")},
        "ORDERMON_TOPIC_PREFIX": f"ops{run}.",
        "ORDERMON_APP_ID": f"ordermon-ops-{run}",
        "ORDERMON_WEB_HOST": HOST,
        "ORDERMON_WEB_PORT": str(web_port),
        "ORDERMON_DATA_DIR": str(tmp_path / "data"),
        "ORDERMON_LOG_LEVEL": "info",
        "ORDERMON_IDLE_AFTER_SECONDS": "5",
    }
    processes: list[subprocess.Popen[bytes]] = []

    def spawn(name: str, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
        log = tmp_path / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [cli, *args], stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path
            )
        processes.append(process)
        return process, log

    try:
        external = os.environ.get("ORDERMON_TEST_BROKER")
        if external:
            env["ORDERMON_KAFKA"] = external
        else:
            port = free_port()
            env["ORDERMON_KAFKA"] = f"{HOST}:{port}"
            broker, broker_log = spawn("broker", "broker", "--port", str(port))
            deadline = time.monotonic() + 60
            while not (port_is_open(port) and b"broker ready" in broker_log.read_bytes()):
                if broker.poll() is not None or time.monotonic() > deadline:
                    pytest.skip(f"the embedded broker did not start:\n{tail(broker_log)}")
                time.sleep(0.25)
        worker, worker_log = spawn("worker", "worker")

        def healthy() -> bool:
            if worker.poll() is not None:
                raise AssertionError(f"ordermon worker exited:\n{tail(worker_log)}")
            return (
                port_is_open(web_port) and http_get(f"http://{HOST}:{web_port}/healthz")[0] == 200
            )

        try:
            poll(healthy, 120, "the worker's /healthz")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{tail(worker_log)}") from None
        spawn("simulate", "simulate", "--scenario", "warm_stall", "--speed", "0")
        yield f"{HOST}:{web_port}"
    finally:
        for process in reversed(processes):
            stop(process)
