"""Live helpers of the ops tests: loopback ports, polling, and a real Prometheus process."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.ops.opslib import binary

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def port_is_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((HOST, port)) == 0


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def poll(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.5) -> Any:
    """Poll until `predicate()` is truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except (OSError, ValueError) as exc:
            last = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)


# ---- Prometheus ---------------------------------------------------------------------------------


@dataclass
class Prometheus:
    url: str
    log: Path

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant query; the result vector (a scalar counts as one series)."""
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        status, body = http_get(url)
        data = json.loads(body)
        if status != 200 or data.get("status") != "success":
            raise AssertionError(f"Prometheus rejected {expr!r}: {data.get('error', body[:300])}")
        result = data["data"]["result"]
        if data["data"]["resultType"] == "scalar":
            return [{"value": result}]
        return list(result)

    def get(self, path: str) -> Any:
        status, body = http_get(self.url + path)
        assert status == 200, f"GET {path}: {status} {body[:300]!r}"
        return json.loads(body)["data"]


def start_prometheus(
    tmp: Path,
    target: str,
    rule_files: tuple[Path, ...] = (),
    *,
    job: str = "ordermon",
    labels: dict[str, str] | None = None,
) -> Iterator[Prometheus]:
    """A real Prometheus on a free loopback port scraping `target` every second as `job`
    (by default `ordermon`, the job name of dashboards/prometheus/prometheus.yml), the target
    carrying `labels` too (a namespace, say)."""
    exe = binary("prometheus")
    config = tmp / "prometheus.yml"
    config.write_text(
        json.dumps(  # JSON is YAML
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(p) for p in rule_files],
                "scrape_configs": [
                    {
                        "job_name": job,
                        "metrics_path": "/metrics",
                        "static_configs": [{"targets": [target], "labels": labels or {}}],
                    }
                ],
            }
        )
    )
    port = free_port()
    log = tmp / "prometheus.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                exe,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp / 'tsdb'}",
                f"--web.listen-address={HOST}:{port}",
                "--log.level=warn",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp,
        )
    prom = Prometheus(f"http://{HOST}:{port}", log)
    try:
        try:
            poll(
                lambda: process.poll() is None and http_get(prom.url + "/-/ready")[0] == 200,
                60,
                "prometheus to be ready",
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{tail(log)}") from None
        yield prom
    finally:
        stop(process)
