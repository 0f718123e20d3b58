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
from faust.exceptions import NotReady

from ordermon.agents.engine import Engine
from ordermon.agents.logic.flow import counts_between, snapshot
from ordermon.agents.logic.status import status_object
from ordermon.agents.logic.windows import MINUTE_MS
from ordermon.agents.worker.deps import Deps
from ordermon.agents.worker.tables import HEADS_TABLE
from ordermon.agents.worker.webguard import Rendering, SharedAnswer, harden
from ordermon.streams.codec import dumps, loads
from ordermon.streams.flows import FLOWS
from ordermon.streams.timefmt import MIN_MS, format_rfc3339_ms

log = logging.getLogger(__name__)

PEER_TIMEOUT_S = 2.0  # under the 3 s clients (and the tests) give a whole answer
UNREACHABLE_HEADER = "X-Ordermon-Unreachable"


def _json(web: Any, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Any:
    return web.bytes(dumps(body), content_type="application/json", status=status, headers=headers)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _local_only(request: Any) -> bool:
    return bool(request.query.get("scope") == "local")


def _newer(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Of two answers for one warehouse (a rebalance in flight), the one that has counted more."""
    total_a = sum((a.get("totals") or {}).values())
    total_b = sum((b.get("totals") or {}).values())
    return b if total_b > total_a else a


def series(engine: Engine, warehouse: str) -> list[dict[str, Any]]:
    """Per-minute counts over the horizon that ends at the last closed minute."""
    state = engine.state(warehouse)
    end = None if state is None else state.closed_through_ms
    out: list[dict[str, Any]] = []
    if state is None or end is None:
        return out
    # no minute before year 1, which a date cannot name (a warehouse dated 0001-01-01)
    for start in range(max(end - engine.config.horizon_ms, MIN_MS), end, MINUTE_MS):
        counts = counts_between(state, start, start + MINUTE_MS)
        out.append(
            {"minute": format_rfc3339_ms(start), **{f: counts[i] for i, f in enumerate(FLOWS)}}
        )
    return out


class Views:
    """The routes of one app, over its engine."""

    def __init__(self, app: Any, deps: Deps) -> None:
        self.app = app
        self.deps = deps
        self.engine = deps.engine
        self._warned_at: dict[str, float] = {}
        self._local = SharedAnswer(deps.config.web_cache_seconds)
        self._rendering = Rendering(lambda: sorted(self.engine.known()), self.status, dumps)

    # ---- the group -------------------------------------------------------------------------
    def self_url(self) -> str:
        return str(self.app.conf.canonical_url).rstrip("/")

    def peer_urls(self) -> list[str]:
        """The other members' HTTP base URLs, from the assignor's view of the group."""
        urls: set[str] = set()
        assignor = self.app.assignor
        for distribution in (assignor.tables_metadata(), assignor.external_topics_metadata()):
            urls.update(str(url).rstrip("/") for url in distribution)
        urls.discard(self.self_url())
        return sorted(urls)

    def owner(self, warehouse: str) -> str | None:
        """The URL of the member that owns the warehouse's partition, None when unknown (also
        while the worker starts: no producer to hash the key yet)."""
        try:
            return str(self.app.router.key_store(HEADS_TABLE, warehouse.encode())).rstrip("/")
        except (KeyError, LookupError, NotReady):
            return None

    def _warn_unreachable(self, url: str, problem: object) -> None:
        """One log line per member and minute, however often /warehouses is polled."""
        now = time.monotonic()
        if now - self._warned_at.get(url, -1e9) >= 60:
            self._warned_at[url] = now
            log.warning("/warehouses: member %s did not answer: %r", url, problem)

    async def peer_get(self, url: str) -> tuple[int, Any]:
        timeout = aiohttp.ClientTimeout(total=PEER_TIMEOUT_S)
        async with self.app.http_client.get(url, timeout=timeout) as answer:
            return answer.status, loads(await answer.read())

    # ---- this worker -----------------------------------------------------------------------
    def is_ready(self) -> bool:
        recovery = getattr(self.app.tables, "recovery", None)
        recovered = recovery is not None and recovery.completed.is_set()
        return bool(recovered and not self.app.rebalancing)

    def restored(self) -> dict[str, int]:
        """Changelog records applied by table recoveries since the process started, per table
        (stores that count them: ``rocksdict://``). A restart with an on-disk store reads only
        what was written since its last run."""
        out: dict[str, int] = {}
        for name, table in self.app.tables.items():
            count = getattr(table.data, "restored", None)
            if isinstance(count, int):
                out[name] = count
        return out

    def status(self, warehouse: str) -> dict[str, Any] | None:
        state = self.engine.state(warehouse)
        if state is None:
            return None
        alerts = [a.to_wire() for a in self.engine.firing(warehouse, now_ms=_now_ms())]
        return status_object(snapshot(state, self.engine.config), alerts)

    async def local_answer(self) -> tuple[list[dict[str, Any]], bytes]:
        """This worker's statuses and their JSON, computed once for every client that asks
        while nothing changed (or within ORDERMON_WEB_CACHE_SECONDS while counting goes on)."""
        return await self._local.get(self.engine.changes, time.monotonic(), self._rendering)

    # ---- the routes --------------------------------------------------------------------------
    async def healthz(self, web: Any, request: Any) -> Any:
        return _json(web, {"status": "ok"})

    async def readyz(self, web: Any, request: Any) -> Any:
        ready = self.is_ready()
        body: dict[str, Any] = {"ready": ready}
        counts = self.restored()
        if counts:
            body["changelog_records_restored"] = counts
        return _json(web, body, 200 if ready else 503)

    async def metrics(self, web: Any, request: Any) -> Any:
        body, content_type = self.deps.metrics_page()
        return web.bytes(body, content_type=content_type.split(";")[0])

    async def warehouses(self, web: Any, request: Any) -> Any:
        local, encoded = await self.local_answer()
        peers = [] if _local_only(request) else self.peer_urls()
        if not peers:
            return web.bytes(encoded, content_type="application/json")
        answers = await asyncio.gather(
            *(self.peer_get(f"{url}/warehouses?scope=local") for url in peers),
            return_exceptions=True,
        )
        merged = {s["warehouse"]: s for s in local}
        unreachable: list[str] = []
        for url, answer in zip(peers, answers, strict=True):
            if (
                isinstance(answer, BaseException)
                or answer[0] != 200
                or not isinstance(answer[1], list)
            ):
                self._warn_unreachable(url, answer)
                unreachable.append(url)
                continue
            for status in answer[1]:
                known = merged.get(status["warehouse"])
                merged[status["warehouse"]] = status if known is None else _newer(known, status)
        headers = {UNREACHABLE_HEADER: ",".join(unreachable)} if unreachable else None
        return _json(web, [merged[wh] for wh in sorted(merged)], headers=headers)

    async def warehouse(self, web: Any, request: Any, warehouse: str) -> Any:
        status = self.status(warehouse)
        if status is None and not _local_only(request):
            owner = self.owner(warehouse)
            if owner is not None and owner != self.self_url():
                return await self.forward(web, warehouse, owner)
        if status is None:
            return _json(web, {"error": f"unknown warehouse {warehouse!r}"}, 404)
        status["series"] = series(self.engine, warehouse)
        return _json(web, status)

    async def forward(self, web: Any, warehouse: str, owner: str) -> Any:
        """The answer of the member that owns the warehouse, or 503 naming it."""
        try:
            code, body = await self.peer_get(f"{owner}/warehouses/{warehouse}?scope=local")
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            return _json(
                web,
                {"error": f"the worker that owns {warehouse!r} ({owner}) did not answer: {exc!r}"},
                503,
                headers={UNREACHABLE_HEADER: owner},
            )
        return _json(web, body, code)

    async def alerts(self, web: Any, request: Any) -> Any:
        return _json(web, [a.to_wire() for a in self.engine.firing(now_ms=_now_ms())])


def register_views(app: Any, deps: Deps) -> Views:
    harden(app, deps.config.web_header_timeout_seconds)  # header timeout, malformed requests
    views = Views(app, deps)

    async def healthz(web: Any, request: Any) -> Any:
        return await views.healthz(web, request)

    async def readyz(web: Any, request: Any) -> Any:
        return await views.readyz(web, request)

    async def metrics(web: Any, request: Any) -> Any:
        return await views.metrics(web, request)

    async def warehouses(web: Any, request: Any) -> Any:
        return await views.warehouses(web, request)

    async def warehouse(web: Any, request: Any, warehouse: str) -> Any:
        return await views.warehouse(web, request, warehouse)

    async def alerts(web: Any, request: Any) -> Any:
        return await views.alerts(web, request)

    app.page("/healthz")(healthz)
    app.page("/readyz")(readyz)
    app.page("/metrics")(metrics)
    app.page("/warehouses")(warehouses)
    app.page("/warehouses/{warehouse}")(warehouse)
    app.page("/alerts")(alerts)
    return views
