"""Read-only HTTP routes of the worker (CONTRACT: /healthz /readyz /metrics /warehouses /alerts)."""

from __future__ import annotations

from typing import Any

from agents.ingest import pipeline
from agents.logic.flow import counts_between, snapshot
from agents.logic.status import status_object
from agents.logic.windows import MINUTE_MS
from agents.topics import alerts as alerts_topic
from ordermon.app import app, settings
from ordermon.metrics import exposition
from ordermon.runtime import configure, runtime
from streams.codec import dumps
from streams.flows import FLOWS
from streams.timefmt import format_rfc3339_ms

configure(app, alerts_topic, settings)


def _json(web: Any, body: Any, status: int = 200) -> Any:
    return web.bytes(dumps(body), content_type="application/json", status=status)


def is_ready() -> bool:
    recovery = getattr(app.tables, "recovery", None)
    recovered = recovery is not None and recovery.completed.is_set()
    return bool(recovered and not app.rebalancing)


@app.page("/healthz")
async def healthz(web: Any, request: Any) -> Any:
    return _json(web, {"status": "ok"})


@app.page("/readyz")
async def readyz(web: Any, request: Any) -> Any:
    ready = is_ready()
    return _json(web, {"ready": ready}, 200 if ready else 503)


@app.page("/metrics")
async def metrics(web: Any, request: Any) -> Any:
    body, content_type = exposition(runtime.registry)
    return web.bytes(body, content_type=content_type.split(";")[0])


def _status(warehouse: str) -> dict[str, Any] | None:
    state = pipeline.state(warehouse)
    if state is None:
        return None
    alerts = [a.to_wire() for a in pipeline.firing(warehouse)]
    return status_object(snapshot(state, pipeline.config), alerts)


@app.page("/warehouses")
async def warehouses(web: Any, request: Any) -> Any:
    out = [s for wh in sorted(pipeline.known()) if (s := _status(wh)) is not None]
    return _json(web, out)


@app.page("/warehouses/{warehouse}")
async def warehouse(web: Any, request: Any, warehouse: str) -> Any:
    status = _status(warehouse)
    if status is None:
        return _json(web, {"error": f"unknown warehouse {warehouse!r} on this worker"}, 404)
    state = pipeline.state(warehouse)
    assert state is not None
    end = state.closed_through_ms
    series: list[dict[str, Any]] = []
    if end is not None:
        for start in range(end - pipeline.config.horizon_ms, end, MINUTE_MS):
            counts = counts_between(state, start, start + MINUTE_MS)
            series.append(
                {"minute": format_rfc3339_ms(start), **{f: counts[i] for i, f in enumerate(FLOWS)}}
            )
    status["series"] = series
    return _json(web, status)


@app.page("/alerts")
async def alerts(web: Any, request: Any) -> Any:
    return _json(web, [a.to_wire() for a in pipeline.firing()])
