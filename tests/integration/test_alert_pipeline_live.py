"""Issue 3 end to end: a dispatch stall published to a real worker fires
`dispatch_backpressure` on `ordermon.alerts`, in /alerts, in the `ordermon_alert_active` gauge and
through a real Alertmanager to a webhook; the recovery resolves it everywhere. The stall comes
after nine days of the site's history, published at once: the detector judges a stall against
the site's learned week, so the worker must evaluate the whole catch-up (issue 15)."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from ordermon.config import Settings
from ordermon.devtools.catalogue import events as scenario_events
from ordermon.devtools.malformed import Malformed
from ordermon.devtools.realistic import STORY_ENV, STORY_WAREHOUSE, warm_stall
from ordermon.kafka import ensure_topics
from ordermon.streams.events import Event
from ordermon.streams.publisher import Publisher
from tests.integration.live import Deployment, get_json
from tests.integration.test_alertmanager_live import (  # noqa: F401 - fixtures
    LiveAlertmanager,
    Webhook,
    alertmanager,
    until,
    webhook,
)

pytestmark = pytest.mark.integration
WH = STORY_WAREHOUSE
# The settings the story is told under (alerts hold minutes, not half an hour): one place.
STALL_POLICY = STORY_ENV
MINUTE = 60_000


def stall_story(now_ms: int) -> list[Event]:
    """`realistic.warm_stall` ending a minute before `now_ms`, as contract events in arrival
    order: nine days of a small shift site (its rhythm, which the detector needs a week of),
    then dispatch stops for 40 minutes at 13:00 site time and catches up within the last 25.
    Its alert fires and resolves within the hour before the wall clock (older event times are
    not paged); `tests/unit/devtools/test_stories.py` checks that offline."""
    end = (now_ms // MINUTE - 1) * MINUTE
    return [e for e in scenario_events(warm_stall(end)) if not isinstance(e, Malformed)]


def metric(url: str, name: str, labels: dict[str, str]) -> float | None:
    with urllib.request.urlopen(url + "/metrics", timeout=3) as answer:
        text = answer.read().decode()
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(name + "{"):
            got = ",".join(sorted(line[len(name) + 1 : line.index("}")].split(",")))
            if got == want:
                return float(line.rsplit(" ", 1)[1])
    return None


async def test_a_stall_fires_and_resolves_through_every_sink(
    deployment: Deployment, alertmanager: LiveAlertmanager, webhook: Webhook
) -> None:
    settings = Settings.from_env(
        {"ORDERMON_KAFKA": deployment.bootstrap, "ORDERMON_TOPIC_PREFIX": deployment.prefix}
    )
    await ensure_topics(settings)
    worker = deployment.worker(
        ORDERMON_ALERTMANAGER_URL=alertmanager.url,
        **STALL_POLICY,
    )
    await asyncio.to_thread(worker.wait_ready)

    consumer = AIOKafkaConsumer(
        f"{deployment.prefix}ordermon.alerts",
        bootstrap_servers=deployment.bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()
    try:
        async with Publisher(deployment.bootstrap, prefix=deployment.prefix) as pub:
            await pub.send_many(stall_story(int(time.time() * 1000)))

        messages: list[dict[str, Any]] = []

        async def collect_until_resolved() -> None:
            while not any(
                m["kind"] == "dispatch_backpressure" and m["state"] == "resolved" for m in messages
            ):
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    messages.extend(orjson.loads(r.value) for r in records)

        await asyncio.wait_for(collect_until_resolved(), 300)  # ~60,000 events first
    finally:
        await consumer.stop()

    dispatch = [m for m in messages if m["kind"] == "dispatch_backpressure"]
    assert dispatch[0]["state"] == "firing" and dispatch[-1]["state"] == "resolved"
    assert len({m["alert_id"] for m in dispatch}) == 1  # one episode
    fired = dispatch[0]
    assert fired["warehouse"] == WH and fired["signals"]["backlog"] >= 20
    assert fired["signals"]["reason"] == "stall"
    assert "ended_at" in dispatch[-1]
    # the gauge and /alerts agree that nothing is firing any more
    assert get_json(worker.url + "/alerts") == []
    assert not metric(
        worker.url,
        "ordermon_alert_active",
        {"warehouse": WH, "kind": "dispatch_backpressure", "severity": fired["severity"]},
    )
    # Alertmanager notified the webhook of the firing alert and of its resolve
    await until(
        lambda: any(
            a["labels"]["alertname"] == "dispatch_backpressure" and a["status"] == "resolved"
            for n in webhook.notifications
            for a in n["alerts"]
        ),
        "the resolve to reach the webhook through Alertmanager",
        alertmanager.log,
    )
    statuses = [a["status"] for n in webhook.notifications for a in n["alerts"]]
    assert statuses[0] == "firing"
    assert webhook.notifications[0]["alerts"][0]["labels"]["warehouse"] == WH
