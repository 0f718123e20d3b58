"""The Alertmanager sink against the real Debian Alertmanager (``prometheus-alertmanager``).

The test runs Alertmanager on a free 127.0.0.1 port with a generated config whose only receiver is
a webhook served by the test itself, pushes a firing alert and then its resolve through the sink,
and checks what Alertmanager notifies. Clustering is off; everything binds to 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ordermon.sinks.alertmanager import AlertmanagerSink
from ordermon.streams.outputs import Alert

pytestmark = pytest.mark.integration

ALERTMANAGER = Path(
    os.environ.get("ORDERMON_TEST_ALERTMANAGER", "/usr/bin/prometheus-alertmanager")
)
TIMEOUT = 60.0  # generous: Alertmanager's own loops tick every second or so


@dataclass
class Webhook:
    url: str = ""
    notifications: list[dict[str, Any]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.notifications.append(await request.json())
        return web.Response(text="ok")

    def with_status(self, status: str) -> list[dict[str, Any]]:
        return [n for n in self.notifications if n.get("status") == status]


@dataclass
class LiveAlertmanager:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def until(predicate: Callable[[], object], what: str, diagnostics: Callable[[], str]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{diagnostics()}")
        await asyncio.sleep(0.1)


@pytest.fixture
async def webhook() -> AsyncIterator[Webhook]:
    hook = Webhook()
    app = web.Application()
    app.router.add_post("/hook", hook.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    hook.url = f"http://127.0.0.1:{server.port}/hook"
    yield hook
    await server.close()


@pytest.fixture
async def alertmanager(tmp_path: Path, webhook: Webhook) -> AsyncIterator[LiveAlertmanager]:
    if not ALERTMANAGER.exists():
        pytest.skip(
            f"{ALERTMANAGER} not found: install Debian's prometheus-alertmanager "
            "(or set ORDERMON_TEST_ALERTMANAGER) to run the live Alertmanager test"
        )
    config = tmp_path / "alertmanager.yml"
    config.write_text(
        "route:\n"
        "  receiver: hook\n"
        "  group_by: ['alertname', 'warehouse']\n"
        "  group_wait: 0s\n"
        "  group_interval: 1s\n"
        "  repeat_interval: 1m\n"
        "receivers:\n"
        "  - name: hook\n"
        "    webhook_configs:\n"
        f"      - url: '{webhook.url}'\n"
        "        send_resolved: true\n"
    )
    port = free_port()
    log_path = tmp_path / "alertmanager.log"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            [
                str(ALERTMANAGER),
                f"--config.file={config}",
                f"--storage.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    live = LiveAlertmanager(f"http://127.0.0.1:{port}", process, log_path)
    try:
        await _wait_ready(live)
        yield live
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def _wait_ready(live: LiveAlertmanager) -> None:
    deadline = time.monotonic() + TIMEOUT
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        while time.monotonic() < deadline:
            if live.process.poll() is not None:
                raise AssertionError(f"alertmanager exited:\n{live.log()}")
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(live.url + "/-/ready") as answer:
                    if answer.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise AssertionError(f"alertmanager not ready at {live.url}:\n{live.log()}")


def alert(state: str, now_ms: int) -> Alert:
    return Alert(
        alert_id="ep-live-1",
        kind="dispatch_backpressure",
        warehouse="wh-live",
        severity="critical",
        state=state,  # type: ignore[arg-type]
        started_at_ms=now_ms - 1_800_000,
        updated_at_ms=now_ms,
        summary="Orders outrun dispatch at wh-live.",
        signals={"order_rate": 120.0, "dispatch_rate": 80.0, "pressure": 1.5, "backlog": 2400},
        ended_at_ms=now_ms if state == "resolved" else None,
        live=True,
    )


async def test_a_firing_alert_and_its_resolve_reach_the_webhook_through_alertmanager(
    alertmanager: LiveAlertmanager, webhook: Webhook
) -> None:
    failures: list[str] = []
    sink = AlertmanagerSink(alertmanager.url, resend_interval=5.0, on_failure=failures.append)
    sink.start()

    def diagnostics() -> str:
        return (
            f"sink: delivered={sink.delivered} errors={sink.errors} failed={sink.failed}\n"
            f"webhook got: {webhook.notifications}\nalertmanager log:\n{alertmanager.log()}"
        )

    try:
        await sink.send(alert("firing", int(time.time() * 1000)))
        await until(lambda: webhook.with_status("firing"), "the firing notification", diagnostics)
        firing = webhook.with_status("firing")[0]
        assert len(firing["alerts"]) == 1
        fired = firing["alerts"][0]
        assert fired["status"] == "firing"
        assert fired["labels"] == {
            "alertname": "dispatch_backpressure",
            "warehouse": "wh-live",
            "severity": "critical",
            "service": "ordermon",
        }
        assert fired["annotations"]["alert_id"] == "ep-live-1"
        assert fired["annotations"]["signal_backlog"] == "2400"
        assert fired["annotations"]["runbook_url"].endswith("#dispatch_backpressure")
        assert "pressure=1.5" in fired["annotations"]["description"]
        assert firing["groupLabels"] == {
            "alertname": "dispatch_backpressure",
            "warehouse": "wh-live",
        }

        await sink.send(alert("resolved", int(time.time() * 1000)))
        await until(
            lambda: webhook.with_status("resolved"), "the resolved notification", diagnostics
        )
        resolved = webhook.with_status("resolved")[0]["alerts"]
        assert [a["status"] for a in resolved] == ["resolved"]
        assert resolved[0]["labels"] == fired["labels"]
        assert resolved[0]["startsAt"][:19] == fired["startsAt"][:19]  # the same alert
        await until(lambda: sink.delivered >= 2, "the sink to count both POSTs", diagnostics)
        assert sink.failed == 0 and failures == []
    finally:
        await sink.close()
