"""The worker's HTTP routes (CONTRACT: /healthz /readyz /metrics /warehouses /alerts) served by
aiohttp's test server from the app the composition root builds, after events went through the
ingest agent (Faust's test context, no broker; changelog sends captured)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer

from ordermon.agents.logic.policy import Policy
from ordermon.app import Built, build
from ordermon.config import Settings
from ordermon.streams.codec import encode_event
from ordermon.streams.events import OrderEvent
from ordermon.streams.timefmt import parse_rfc3339_ms

T0 = parse_rfc3339_ms("2026-11-22T08:00:00Z") or 0


def order(n: int, wh: str, status: str = "placed") -> bytes:
    return encode_event(
        OrderEvent(
            event_id=f"v{n}",
            status=status,  # type: ignore[arg-type]
            order_id=f"o{n}",
            warehouse=wh,
            occurred_at_ms=T0 + n * 20_000,
        )
    )


@pytest.fixture
async def served(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Built, TestClient]]:
    built = build(Settings.from_env({}), Policy())
    store = built.worker.store
    monkeypatch.setattr(store.heads, "send_changelog", lambda *a, **kw: None)
    monkeypatch.setattr(store.minutes, "send_changelog", lambda *a, **kw: None)
    dead: list[Any] = []

    async def send(key: bytes, value: bytes) -> None:
        dead.append(orjson.loads(value))

    monkeypatch.setattr(built.worker.topics.deadletter, "send", send)
    async with built.worker.agent.test_context() as agent:
        original = agent.to_message

        def to_message(key: Any, value: Any, **kw: Any) -> Any:
            message = original(key, value, **kw)
            message.topic = "orders"  # the test context names it "<internal>"
            return message

        agent.to_message = to_message
        for n in range(30):
            wh = "VW-1" if n % 3 else "VW-2"
            await agent.put(order(n, wh), key=wh.encode())
        await agent.put(b"{broken", key=b"VW-1")
    assert len(dead) == 1
    # The worker's timer two minutes on: the topics not seen (dispatches, ...) stop holding the
    # watermark, and the minutes of the orders close.
    built.engine.tick(int(time.time() * 1000) + 2 * 60_000)
    client = TestClient(TestServer(built.app.web.web_app, host="127.0.0.1"))
    await client.start_server()
    try:
        yield built, client
    finally:
        await client.close()


async def get(client: TestClient, path: str) -> tuple[int, Any, Any]:
    answer = await client.get(path)
    body = await answer.read()
    ctype = answer.headers.get("Content-Type", "")
    return answer.status, (orjson.loads(body) if "json" in ctype else body.decode()), answer


async def test_healthz_and_readyz(served: tuple[Built, TestClient]) -> None:
    _, client = served
    assert (await get(client, "/healthz"))[:2] == (200, {"status": "ok"})
    # no worker ran, so no table recovery completed: not ready
    assert (await get(client, "/readyz"))[:2] == (503, {"ready": False})


async def test_warehouses_lists_each_warehouse_with_its_counts(
    served: tuple[Built, TestClient],
) -> None:
    built, client = served
    status, body, answer = await get(client, "/warehouses")
    assert status == 200 and "X-Ordermon-Unreachable" not in answer.headers
    assert [s["warehouse"] for s in body] == ["VW-1", "VW-2"]
    totals = {s["warehouse"]: s["totals"]["orders_placed"] for s in body}
    assert totals == {"VW-1": 20, "VW-2": 10}
    assert (await get(client, "/warehouses?scope=local"))[1] == body
    engine_view = {s.warehouse: s.totals["orders_placed"] for s in built.engine.snapshots()}
    assert engine_view == totals


async def test_one_warehouse_has_its_series_and_an_unknown_one_is_404(
    served: tuple[Built, TestClient],
) -> None:
    _, client = served
    status, body, _ = await get(client, "/warehouses/VW-1")
    assert status == 200 and body["warehouse"] == "VW-1"
    assert body["series"], "the minutes closed so far, per minute"
    assert {"minute", "orders_placed"} <= set(body["series"][0])
    status, body, _ = await get(client, "/warehouses/NOPE-9")
    assert (status, body) == (404, {"error": "unknown warehouse 'NOPE-9'"})


async def test_metrics_and_alerts(served: tuple[Built, TestClient]) -> None:
    _, client = served
    status, text, answer = await get(client, "/metrics")
    assert status == 200 and answer.headers["Content-Type"].startswith("text/plain")
    assert 'ordermon_events_total{status="placed",topic="orders",warehouse="VW-1"} 20.0' in text
    assert 'ordermon_deadletter_total{reason="not_json",topic="orders"} 1.0' in text
    assert "ordermon_faust_messages_received_total" in text  # Faust's sensor, same page
    assert (await get(client, "/alerts"))[:2] == (200, [])


async def test_every_route_refuses_what_is_not_a_read(served: tuple[Built, TestClient]) -> None:
    _, client = served
    for path in ("/healthz", "/readyz", "/metrics", "/warehouses", "/warehouses/VW-1", "/alerts"):
        assert (await client.post(path)).status == 405, path
        assert (await client.head(path)).status in (200, 503), path
