"""`ordermon deadletters list|replay` against a real broker and worker: events dead-lettered for
the warehouse limit are listed with their reason, replayed once the limit is raised and counted,
exactly once however often the replay runs; a malformed event is replayed from a corrected file."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from ordermon.streams.codec import encode_event
from ordermon.streams.events import OrderEvent
from ordermon.streams.publisher import Publisher
from tests.integration.faults_lib import counted, create_topics, read_topic, wait_counted
from tests.integration.live import Deployment

pytestmark = pytest.mark.integration
MINUTE = 60_000
ORDERMON = str(Path(sys.executable).with_name("ordermon"))


def order(n: int, wh: str, at_ms: int) -> OrderEvent:
    return OrderEvent(
        event_id=f"v{n}", status="placed", order_id=f"o{n}", warehouse=wh, occurred_at_ms=at_ms
    )


def cli(dep: Deployment, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ORDERMON, "deadletters", *args],
        env=dep.env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_dead_letters_are_listed_replayed_once_and_counted(deployment: Deployment) -> None:
    now = int(time.time() * 1000)
    base = now - 10 * MINUTE
    create_topics(deployment.bootstrap, deployment.prefix)
    worker = deployment.worker(ORDERMON_MAX_WAREHOUSES="2")
    worker.wait_ready()
    events = [order(i, wh, base + i * 1000) for i, wh in enumerate(["DL-A", "DL-B", "DL-C"] * 3)]
    broken = orjson.loads(encode_event(order(50, "DL-A", base)))
    broken.pop("order_id")

    async def publish() -> None:
        async with Publisher(deployment.bootstrap, prefix=deployment.prefix) as pub:
            for e in events:
                await pub.send_raw("orders", encode_event(e), key=e.warehouse.encode())
            await pub.send_raw("orders", orjson.dumps(broken), key=b"DL-A")

    asyncio.run(publish())
    wait_counted(worker, 6)
    read_topic(deployment.bootstrap, f"{deployment.prefix}ordermon.deadletter", 4)

    listed = cli(deployment, "list", "--reason", "warehouse_limit")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert len(lines) == 3 and all("warehouse_limit" in x and "orders[" in x for x in lines)
    assert "3 dead letters" in listed.stderr

    dry = cli(deployment, "replay", "--reason", "warehouse_limit", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.count("would send") == 3 and "3 would be sent" in dry.stderr

    # The limit is raised (a worker restarted with more room), then the letters are replayed.
    worker.stop()
    worker = deployment.worker(ORDERMON_MAX_WAREHOUSES="10")
    worker.wait_ready()
    sent = cli(deployment, "replay", "--reason", "warehouse_limit")
    assert sent.returncode == 0, sent.stderr
    assert "3 sent, 0 skipped" in sent.stderr
    again = cli(deployment, "replay", "--reason", "warehouse_limit")
    assert again.returncode == 0 and "0 sent, 3 skipped" in again.stderr, again.stderr
    assert again.stderr.count("already replayed") == 3

    # The malformed one: list it as JSON, correct it, replay the file.
    as_json = cli(deployment, "list", "--json", "--reason", "missing_field")
    assert len(as_json.stdout.splitlines()) == 1, as_json.stdout + as_json.stderr
    (line,) = as_json.stdout.splitlines()
    letter = orjson.loads(line)
    assert letter["value"] == broken and letter["key"] in (None, "DL-A")
    letter["value"]["order_id"] = "o50"
    fixed = cli(deployment, "replay", "--file", "-", stdin=orjson.dumps(letter).decode() + "\n")
    assert fixed.returncode == 0 and "1 sent" in fixed.stderr, fixed.stderr

    statuses = wait_counted(worker, 10)
    by_wh = {s["warehouse"]: s["totals"]["orders_placed"] for s in statuses}
    assert by_wh == {"DL-A": 4, "DL-B": 3, "DL-C": 3}
    time.sleep(2)  # nothing more arrives: each letter was replayed once
    assert counted(worker.warehouses()) == 10


def test_bad_arguments_are_one_line(deployment: Deployment) -> None:
    done = cli(deployment, "list", "--since", "yesterday")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "RFC 3339" in done.stderr
    done = cli(deployment, "replay", "--file", "-", stdin="not json\n")
    assert done.returncode == 2 and "line 1" in done.stderr and "Traceback" not in done.stderr
