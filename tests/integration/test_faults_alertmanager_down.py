"""Alertmanager answering 500 for a minute: the stream is not slowed (events keep being counted
while it is down: the sink's queue is bounded and the stream never waits for it), and the alert
reaches Alertmanager once it answers again."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from ordermon.devtools.broker import free_port
from ordermon.streams.events import Event
from tests.integration.faults_lib import counted, create_topics, generate, publish, wait_counted
from tests.integration.live import Deployment
from tests.integration.test_alert_pipeline_live import STALL_POLICY, WH, stall_story

pytestmark = pytest.mark.integration
OUTAGE_S = 60.0


@dataclass
class FlakyAlertmanager:
    """Answers POST /api/v2/alerts with 500 until `healthy` is set, then 200; records each."""

    port: int = field(default_factory=free_port)
    healthy: bool = False
    posts: list[tuple[float, int, list[dict[str, Any]]]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def handle(self, request: web.Request) -> web.Response:
        status = 200 if self.healthy else 500
        self.posts.append((time.monotonic(), status, await request.json()))
        return web.Response(status=status, text="ok" if status == 200 else "down for maintenance")

    def delivered(self, alertname: str) -> bool:
        return any(
            status == 200 and any(a["labels"]["alertname"] == alertname for a in body)
            for _t, status, body in self.posts
        )

    def refused(self) -> list[float]:
        return [t for t, status, _b in self.posts if status != 200]


async def poll(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.5)


async def test_alerts_wait_for_alertmanager_and_the_stream_does_not(
    deployment: Deployment,
) -> None:
    am = FlakyAlertmanager()
    app = web.Application()
    app.router.add_post("/api/v2/alerts", am.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", am.port).start()
    try:
        await asyncio.to_thread(create_topics, deployment.bootstrap, deployment.prefix)
        worker = deployment.worker(
            ORDERMON_ALERTMANAGER_URL=am.url,
            **STALL_POLICY,
        )
        await asyncio.to_thread(worker.wait_ready)
        story: list[Event] = stall_story(int(time.time() * 1000))
        await asyncio.to_thread(publish, deployment.bootstrap, deployment.prefix, story)
        await poll(lambda: am.refused(), 300, "the alert to be refused by Alertmanager")
        outage_began = am.refused()[0]

        # While Alertmanager refuses everything, a new stream is counted in full.
        more, _truth = generate(3000, seed=41)
        await asyncio.to_thread(publish, deployment.bootstrap, deployment.prefix, more)
        statuses = await asyncio.to_thread(wait_counted, worker, len(story) + len(more))
        assert counted(statuses) == len(story) + len(more)
        assert not am.healthy and not am.delivered("dispatch_backpressure")

        await asyncio.sleep(max(0.0, outage_began + OUTAGE_S - time.monotonic()))
        assert len(am.refused()) >= 2  # it kept trying through the outage
        am.healthy = True
        await poll(lambda: am.delivered("dispatch_backpressure"), 180, "the alert to arrive")
        alert = next(
            a
            for _t, status, body in am.posts
            if status == 200
            for a in body
            if a["labels"]["alertname"] == "dispatch_backpressure"
        )
        assert alert["labels"]["warehouse"] == WH and alert["labels"]["service"] == "ordermon"
        assert worker.process is not None and worker.process.poll() is None
    finally:
        await runner.cleanup()
