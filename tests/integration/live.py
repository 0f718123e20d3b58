"""Helpers of the live tests: real worker processes and polling."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ordermon.devtools.worker import ROOT, WorkerProcess, get_json

__all__ = ["ROOT", "Deployment", "Worker", "get_json", "wait_for"]


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


class Worker(WorkerProcess):
    """A worker process of a live test (see ordermon.devtools.worker)."""


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
