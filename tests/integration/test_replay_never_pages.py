"""Replays never page: history published to a real worker (as `ordermon simulate --scenario
warm_stall` sends it: nine and a half days of the scenarios' calendar, ending 90 minutes into a
dispatch stall) fires a critical alert on the topic, in /alerts and in the gauge, all with
`live: false`; a real Alertmanager gets none of it and a real Prometheus running the repository's
rules never has `OrdermonWarehouseCritical` pending. (That a stall happening now still pages
through the same path: test_alert_pipeline_live.)"""

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
from ordermon.devtools.realistic import STORY_ENV, warm_stall
from ordermon.devtools.scenarios import START_MS
from ordermon.devtools.simulate import run as simulate
from ordermon.kafka import ensure_topics
from ordermon.streams.publisher import Publisher
from tests.integration.live import Deployment, get_json
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
HISTORY_WH = "WH-HIST"
DAY_MS = 86_400_000


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


async def test_a_replay_never_pages(
    deployment: Deployment, alertmanager: LiveAlertmanager, webhook: Webhook, tmp_path: Path
) -> None:
    settings = Settings.from_env(
        {"ORDERMON_KAFKA": deployment.bootstrap, "ORDERMON_TOPIC_PREFIX": deployment.prefix}
    )
    await ensure_topics(settings)
    worker = deployment.worker(ORDERMON_ALERTMANAGER_URL=alertmanager.url, **STORY_ENV)
    await asyncio.to_thread(worker.wait_ready)
    target = worker.url.removeprefix("http://")
    (tmp_path / "prom").mkdir()
    stack = contextlib.ExitStack()
    prometheus = contextlib.contextmanager(start_prometheus)
    prom = stack.enter_context(prometheus(tmp_path / "prom", target, (PROMETHEUS / "rules.yml",)))
    alerts = Alerts(deployment.bootstrap, f"{deployment.prefix}ordermon.alerts")
    await alerts.consumer.start()
    try:
        # `warm_stall_scenario`'s story (`ordermon simulate --scenario warm_stall`) under a
        # warehouse name of its own: its alert is critical and still firing when it ends
        end = START_MS + round(9.5 * DAY_MS)
        history = warm_stall(
            end,
            warehouse=HISTORY_WH,
            history_days=9.5 - 90 / 1440,
            stall_minutes=90.0,
            after_minutes=0.0,
        )
        async with Publisher(deployment.bootstrap, prefix=deployment.prefix) as pub:
            await simulate(history, pub)

        def replayed_critical(messages: list[dict[str, Any]]) -> bool:
            return any(
                m["severity"] == "critical" and m["warehouse"] == HISTORY_WH for m in messages
            )

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

    finally:
        await alerts.consumer.stop()
        stack.close()
