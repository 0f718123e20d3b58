"""Helpers of the live tests: real worker processes and polling."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ordermon.devtools.broker import free_port

ROOT = Path(__file__).resolve().parents[2]


def get_json(url: str, timeout: float = 3.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        return json.loads(answer.read())


def wait_for(
    predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.25
) -> Any:
    """Poll until `predicate()` is truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except (OSError, ValueError, urllib.error.URLError) as exc:
            last_error = exc
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last error: {last_error!r})")


@dataclass
class Worker:
    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Worker:
        env = {**self.env, "ORDERMON_WEB_PORT": str(self.port)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ordermon", "worker"],
            env=env,
            cwd=ROOT,
            stdout=open(self.log_path, "ab"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        return self

    def wait_ready(self, timeout: float = 90.0) -> None:
        def ready() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited: {self.log_path.read_text()[-3000:]}")
            try:
                get_json(self.url + "/readyz", timeout=1.0)
                return True
            except urllib.error.HTTPError:
                return False

        wait_for(ready, timeout, f"worker on port {self.port} to be ready")

    def stop(self, sig: int | None = None) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        if sig is not None:
            self.process.send_signal(sig)
        else:
            self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def warehouses(self) -> list[dict[str, Any]]:
        return list(get_json(self.url + "/warehouses"))


@dataclass
class Deployment:
    """One isolated deployment on the shared broker: its own prefix, group and data dir."""

    bootstrap: str
    prefix: str
    env: dict[str, str]
    tmp: Path
    workers: list[Worker] = field(default_factory=list)

    def worker(self, **extra_env: str) -> Worker:
        n = len(self.workers)
        w = Worker(
            {**self.env, "ORDERMON_DATA_DIR": str(self.tmp / f"data{n}"), **extra_env},
            self.tmp / f"worker{n}.log",
        )
        self.workers.append(w)
        return w.start()
