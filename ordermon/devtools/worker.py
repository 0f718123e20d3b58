"""A worker process on 127.0.0.1 for the tests, the benchmark and the soak: start, wait until
ready, read its routes, stop (or kill)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ordermon.devtools.broker import free_port

ROOT = Path(__file__).resolve().parents[2]


class WorkerFailed(RuntimeError):
    """The worker exited, or did not become ready in time; the message ends with its log."""


def get_json(url: str, timeout: float = 3.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        return json.loads(answer.read())


@dataclass
class WorkerProcess:
    env: Mapping[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def start(self, *, new_session: bool = False) -> WorkerProcess:
        """`new_session`: the worker does not get the terminal's Ctrl-C (the caller stops it)."""
        env = {**self.env, "ORDERMON_WEB_PORT": str(self.port)}
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ordermon", "worker"],
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=new_session,
            )
        return self

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Poll /readyz until it answers 200; WorkerFailed if the worker exits or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise WorkerFailed(f"worker exited:\n{self.log_tail()}")
            try:
                get_json(self.url + "/readyz", timeout=1.0)
                return
            except (OSError, ValueError):
                time.sleep(0.2)
        raise WorkerFailed(f"worker not ready within {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self, sig: int | None = None) -> None:
        """Terminate (or send `sig`, e.g. SIGKILL) and wait; kill if it does not go."""
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
