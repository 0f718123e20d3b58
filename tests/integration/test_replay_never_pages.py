"""Replays never page: a 2008 history published to a real worker (as `ordermon simulate` sends
it) fires critical alerts on the topic, in /alerts and in the gauge, all with `live: false`; a
real Alertmanager gets none of them and a real Prometheus running the repository's rules never
has `OrdermonWarehouseCritical` pending. A stall happening now, on the same worker, still pages."""

from __future__ import annotations

import asyncio
import contextlib
import time
import urllib.parse
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from ordermon.config import Settings
from ordermon.devtools.scenarios import build
from ordermon.devtools.simulate import run as simulate
from ordermon.kafka import ensure_topics
from streams.publisher import Publisher
from tests.integration.live import Deployment, get_json
from tests.integration.test_alert_pipeline_live import STALL_POLICY, WH, stall_story
from tests.integration.test_alertmanager_live import (  # noqa: F401 - fixtures
    LiveAlertmanager,
    Webhook,
    alertmanager,
    until,
    webhook,
)
from tests.ops.live import start_prometheus
from tests.ops.opslib import PROMETHEUS

pytestmark = pytest.mark.integration

RULE = "OrdermonWarehouseCritical"


class Alerts:
    """Every message of the deployment's `ordermon.alerts` topic, read as it comes."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
        )
        self.messages: list[dict[str, Any]] = []

    async def until(self, predicate: Any, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate(self.messages):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; {len(self.messages)} alert messages read")
            batch = await self.consumer.getmany(timeout_ms=500)
            for records in batch.values():
                self.messages.extend(orjson.loads(r.value) for r in records)


def instant(prom_url: str, expr: str) -> list[dict[str, Any]]:
    url = f"{prom_url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    answer = get_json(url, timeout=5)
    assert answer["status"] == "success", answer
    return list(answer["data"]["result"])


async def test_a_replay_never_pages_and_a_live_stall_does(
    deployment: Deployment, alertmanager: LiveAlertmanager, webhook: Webhook, tmp_path: Path
) -> None:
    settings = Settings.from_env(
        {"ORDERMON_KAFKA": deployment.bootstrap, "ORDERMON_TOPIC_PREFIX": deployment.prefix}
    )
    await ensure_topics(settings)
    worker = deployment.worker(ORDERMON_ALERTMANAGER_URL=alertmanager.url, **STALL_POLICY)
    await asyncio.to_thread(worker.wait_ready)
    target = worker.url.removeprefix("http://")
    (tmp_path / "prom").mkdir()
    stack = contextlib.ExitStack()
    prometheus = contextlib.contextmanager(start_prometheus)
    prom = stack.enter_context(prometheus(tmp_path / "prom", target, (PROMETHEUS / "rules.yml",)))
    alerts = Alerts(deployment.bootstrap, f"{deployment.prefix}ordermon.alerts")
    await alerts.consumer.start()
    try:
        # 12 hours of 2008 (a 6-hour dispatch stall at SH-02 still under way at the end), as
        # `ordermon simulate --scenario stall --days 0.5 --speed 0` sends it
        history = build("stall", days=0.5)
        async with Publisher(deployment.bootstrap, prefix=deployment.prefix) as pub:
            await simulate(history, pub)

        def replayed_critical(messages: list[dict[str, Any]]) -> bool:
            return any(m["severity"] == "critical" and m["warehouse"] == "SH-02" for m in messages)

        await alerts.until(replayed_critical)
        assert alerts.messages and all(m["live"] is False for m in alerts.messages)
        # /alerts keeps them, not live
        firing = await asyncio.to_thread(get_json, worker.url + "/alerts")
        assert any(a["severity"] == "critical" for a in firing)
        assert all(a["live"] is False for a in firing)

        # Prometheus scrapes the replay's criticals under live="false"; the rule would have
        # matched them without that label, and never sees anything to forward
        replayed = 'ordermon_alert_active{job="ordermon", severity="critical", live="false"}'

        def scraped_a_while() -> bool:
            found = instant(prom.url, f"count_over_time({replayed}[10m]) >= 10")
            return bool(found)

        await until(scraped_a_while, "ten scrapes of the replay's criticals", lambda: "")
        unfiltered = 'ordermon_alert_active{job="ordermon", severity="critical"} == 1'
        assert instant(prom.url, unfiltered)  # what the rule would page without live
        assert instant(prom.url, f'ALERTS{{alertname="{RULE}"}}') == []
        assert instant(prom.url, f'count_over_time(ALERTS{{alertname="{RULE}"}}[10m])') == []
        rules = get_json(prom.url + "/api/v1/rules")["data"]["groups"]
        (rule,) = [r for g in rules for r in g["rules"] if r["name"] == RULE]
        assert rule["health"] == "ok" and rule["state"] == "inactive" and rule["alerts"] == []
        # nor did the worker's sink page anything
        am_alerts = await asyncio.to_thread(get_json, alertmanager.url + "/api/v2/alerts")
        assert am_alerts == [] and webhook.notifications == []

        # A stall happening now pages, through the same worker and Alertmanager
        async with Publisher(deployment.bootstrap, prefix=deployment.prefix) as pub:
            await pub.send_many(stall_story(int(time.time() * 1000)))

        def live_stall(messages: list[dict[str, Any]]) -> bool:
            return any(m["warehouse"] == WH and m["state"] == "firing" for m in messages)

        await alerts.until(live_stall)
        await until(
            lambda: any(
                a["labels"]["warehouse"] == WH for n in webhook.notifications for a in n["alerts"]
            ),
            "the live stall to reach the webhook through Alertmanager",
            alertmanager.log,
        )
        paged = {a["labels"]["warehouse"] for n in webhook.notifications for a in n["alerts"]}
        assert paged == {WH}, paged  # nothing of 2008
    finally:
        await alerts.consumer.stop()
        stack.close()
