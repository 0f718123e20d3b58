"""Read-only HTTP routes of the worker (CONTRACT: /healthz /readyz /metrics /warehouses /alerts).

Every route answers GET (and HEAD) only; anything else is refused with 405.

A warehouse lives on the one worker that owns its partition. `GET /warehouses` answers for the
whole group: this worker's warehouses plus those of every other member, asked with
``?scope=local`` (which answers this worker's only). The members and their URLs come from Faust's
partition assignor (each member advertises its `canonical_url`, ORDERMON_WEB_URL). A member that
does not answer in time is listed in the ``X-Ordermon-Unreachable`` header (comma-separated URLs),
and the list holds what the others answered: never a 500. `GET /warehouses/{id}` of a warehouse
owned by another member is forwarded to it."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import aiohttp

from agents.ingest import pipeline
from agents.logic.flow import counts_between, snapshot
from agents.logic.status import status_object
from agents.logic.windows import MINUTE_MS
from agents.topics import alerts as alerts_topic
from ordermon.app import app, settings
from ordermon.metrics import exposition
from ordermon.runtime import configure, runtime
from ordermon.webguard import Rendering, SharedAnswer, harden
from streams.codec import dumps, loads
from streams.flows import FLOWS
from streams.timefmt import MIN_MS, format_rfc3339_ms

configure(app, alerts_topic, settings)
harden(app, settings)  # header read timeout, one log line per malformed request
log = logging.getLogger(__name__)

HEADS_TABLE = "warehouse-heads"  # agents.tables.heads: its changelog partitions follow warehouses
PEER_TIMEOUT_S = 2.0  # under the 3 s clients (and the tests) give a whole answer
UNREACHABLE_HEADER = "X-Ordermon-Unreachable"


@app.on_rebalance_complete.connect
async def _on_rebalance_complete(sender: Any, **kwargs: Any) -> None:
    # The tables are complete only now that recovery is over. The pipeline's cache of known
    # warehouses may have been filled during the recovery (a /warehouses request or a metrics
    # scrape after the revoke): without this, the warehouses recovered after that moment stay
    # invisible to /warehouses and /metrics. (Belongs beside `_on_revoked` in agents.ingest.)
    pipeline.forget()
    runtime.changes += 1  # the warehouses held here changed: no cached answer


def _json(web: Any, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Any:
    return web.bytes(dumps(body), content_type="application/json", status=status, headers=headers)


def _local_only(request: Any) -> bool:
    return bool(request.query.get("scope") == "local")


def _self_url() -> str:
    return str(app.conf.canonical_url).rstrip("/")


def peer_urls() -> list[str]:
    """The other members' HTTP base URLs, from the assignor's view of the group."""
    urls: set[str] = set()
    assignor = app.assignor
    for distribution in (assignor.tables_metadata(), assignor.external_topics_metadata()):
        urls.update(str(url).rstrip("/") for url in distribution)
    urls.discard(_self_url())
    return sorted(urls)


_warned_at: dict[str, float] = {}


def _warn_unreachable(url: str, problem: object) -> None:
    """One log line per member and minute, however often /warehouses is polled."""
    now = time.monotonic()
    if now - _warned_at.get(url, -1e9) >= 60:
        _warned_at[url] = now
        log.warning("/warehouses: member %s did not answer: %r", url, problem)


async def _peer_get(url: str) -> tuple[int, Any]:
    timeout = aiohttp.ClientTimeout(total=PEER_TIMEOUT_S)
    async with app.http_client.get(url, timeout=timeout) as answer:
        return answer.status, loads(await answer.read())


def is_ready() -> bool:
    recovery = getattr(app.tables, "recovery", None)
    recovered = recovery is not None and recovery.completed.is_set()
    return bool(recovered and not app.rebalancing)


@app.page("/healthz")
async def healthz(web: Any, request: Any) -> Any:
    return _json(web, {"status": "ok"})


def restored() -> dict[str, int]:
    """Changelog records applied by table recoveries since the process started, per table
    (stores that count them: ``rocksdict://``). A restart with an on-disk store reads only what
    was written since its last run."""
    out: dict[str, int] = {}
    for name, table in app.tables.items():
        count = getattr(table.data, "restored", None)
        if isinstance(count, int):
            out[name] = count
    return out


@app.page("/readyz")
async def readyz(web: Any, request: Any) -> Any:
    ready = is_ready()
    body: dict[str, Any] = {"ready": ready}
    counts = restored()
    if counts:
        body["changelog_records_restored"] = counts
    return _json(web, body, 200 if ready else 503)


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


_local = SharedAnswer(settings.web_cache_seconds)
_LOCAL_RENDERING = Rendering(lambda: sorted(pipeline.known()), lambda wh: _status(wh), dumps)


async def _local_answer() -> tuple[list[dict[str, Any]], bytes]:
    """This worker's statuses and their JSON, computed once for every client that asks while
    nothing changed (or within ORDERMON_WEB_CACHE_SECONDS while counting goes on)."""
    return await _local.get(runtime.changes, time.monotonic(), _LOCAL_RENDERING)


def _newer(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Of two answers for one warehouse (a rebalance in flight), the one that has counted more."""
    total_a = sum((a.get("totals") or {}).values())
    total_b = sum((b.get("totals") or {}).values())
    return b if total_b > total_a else a


@app.page("/warehouses")
async def warehouses(web: Any, request: Any) -> Any:
    local, encoded = await _local_answer()
    peers = [] if _local_only(request) else peer_urls()
    if not peers:
        return web.bytes(encoded, content_type="application/json")
    answers = await asyncio.gather(
        *(_peer_get(f"{url}/warehouses?scope=local") for url in peers), return_exceptions=True
    )
    merged = {s["warehouse"]: s for s in local}
    unreachable: list[str] = []
    for url, answer in zip(peers, answers, strict=True):
        if isinstance(answer, BaseException) or answer[0] != 200 or not isinstance(answer[1], list):
            _warn_unreachable(url, answer)
            unreachable.append(url)
            continue
        for status in answer[1]:
            known = merged.get(status["warehouse"])
            merged[status["warehouse"]] = status if known is None else _newer(known, status)
    headers = {UNREACHABLE_HEADER: ",".join(unreachable)} if unreachable else None
    return _json(web, [merged[wh] for wh in sorted(merged)], headers=headers)


def _owner(warehouse: str) -> str | None:
    """The URL of the member that owns the warehouse's partition, None when unknown."""
    try:
        return str(app.router.key_store(HEADS_TABLE, warehouse.encode())).rstrip("/")
    except (KeyError, LookupError):
        return None


@app.page("/warehouses/{warehouse}")
async def warehouse(web: Any, request: Any, warehouse: str) -> Any:
    status = _status(warehouse)
    if status is None and not _local_only(request):
        owner = _owner(warehouse)
        if owner is not None and owner != _self_url():
            try:
                code, body = await _peer_get(f"{owner}/warehouses/{warehouse}?scope=local")
            except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
                return _json(
                    web,
                    {
                        "error": f"the worker that owns {warehouse!r} ({owner}) did not answer: "
                        f"{exc!r}"
                    },
                    503,
                    headers={UNREACHABLE_HEADER: owner},
                )
            return _json(web, body, code)
    if status is None:
        return _json(web, {"error": f"unknown warehouse {warehouse!r}"}, 404)
    state = pipeline.state(warehouse)
    assert state is not None
    end = state.closed_through_ms
    series: list[dict[str, Any]] = []
    if end is not None:
        # no minute before year 1, which a date cannot name (a warehouse dated 0001-01-01)
        for start in range(max(end - pipeline.config.horizon_ms, MIN_MS), end, MINUTE_MS):
            counts = counts_between(state, start, start + MINUTE_MS)
            series.append(
                {"minute": format_rfc3339_ms(start), **{f: counts[i] for i, f in enumerate(FLOWS)}}
            )
    status["series"] = series
    return _json(web, status)


@app.page("/alerts")
async def alerts(web: Any, request: Any) -> Any:
    return _json(web, [a.to_wire() for a in pipeline.firing()])
