"""Hardening of the worker's HTTP server (Faust's aiohttp web server) against hostile clients.

- **Header read timeout.** aiohttp closes a connection whose request has not been read in full
  within its keep-alive timeout (3,630 s by default, so a slowloris client holds its connection
  for an hour). `harden(app, settings)` sets it to ORDERMON_WEB_HEADER_TIMEOUT_SECONDS: a
  connection that has not sent a whole request in that time, or sits idle that long between
  requests, is closed.
- **One line per malformed request.** aiohttp logs a request it cannot parse (a 400) at ERROR with
  a traceback; that is a client's mistake, so it becomes one INFO line naming the client.
- **Answers computed once for many readers.** `SharedAnswer` keeps a computed answer (the status
  of every warehouse) while nothing changed, and for at most a short time while things change, so
  50 clients polling `/warehouses` do not compute it 50 times; it is rebuilt in slices that let
  the event loop run between them (other requests, the consumer), and readers get the previous
  copy meanwhile.

Built against aiohttp 3.x and faust-streaming 0.15.3 (`Web._runner` and `AppRunner._kwargs`, the
keyword arguments the runner hands to its server); tests/unit/ordermon/test_webguard.py pins them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")
SERVER_LOGGER = "aiohttp.server"


class MalformedRequestFilter(logging.Filter):
    """aiohttp's "Error handling request" for an unparsable request -> one INFO line."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None or not _is_bad_request(exc):
            return True
        remote = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
        record.msg = "malformed HTTP request from %s refused (400): %s"
        record.args = (remote, " ".join(str(getattr(exc, "message", exc)).split())[:200])
        record.levelno, record.levelname = logging.INFO, "INFO"
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True


def _is_bad_request(exc: BaseException) -> bool:
    from aiohttp.http_exceptions import HttpProcessingError

    return isinstance(exc, HttpProcessingError) and getattr(exc, "code", 400) == 400


def install_log_filter() -> None:
    logger = logging.getLogger(SERVER_LOGGER)
    if not any(isinstance(f, MalformedRequestFilter) for f in logger.filters):
        logger.addFilter(MalformedRequestFilter())


def harden(app: Any, header_timeout_seconds: float) -> None:
    """Apply the header read timeout (ORDERMON_WEB_HEADER_TIMEOUT_SECONDS) to the app's web
    server (before it starts) and the log filter."""
    runner = app.web._runner
    runner._kwargs["keepalive_timeout"] = header_timeout_seconds
    install_log_filter()


class Memo(Generic[T]):
    """One computed value, reused while `version` is unchanged, and for at most `max_age_s`
    seconds after it changed."""

    def __init__(self, max_age_s: float) -> None:
        self.max_age_s = max_age_s
        self._value: T | None = None
        self._version: int | None = None
        self._at = 0.0

    @property
    def value(self) -> T | None:
        return self._value

    @property
    def built_at(self) -> float:
        return self._at

    def fresh(self, version: int, now: float) -> bool:
        return self._value is not None and (
            self._version == version or now - self._at < self.max_age_s
        )

    def put(self, value: T, version: int, at: float) -> T:
        self._value, self._version, self._at = value, version, at
        return value

    def get(self, version: int, now: float, build: Callable[[], T]) -> T:
        if self._value is None or not self.fresh(version, now):
            return self.put(build(), version, now)
        return self._value


@dataclass(frozen=True, slots=True)
class Rendering:
    """How a `SharedAnswer` is made: the keys, one item per key (None: left out), the bytes."""

    keys: Callable[[], Sequence[str]]
    render: Callable[[str], Any | None]
    encode: Callable[[list[Any]], bytes]


class SharedAnswer:
    """A JSON list of one item per key, shared by every reader (see `Memo` for when it is
    rebuilt). A rebuild starts once the copy is `max_age_s / 2` old and something changed; it
    renders `slice_size` keys at a time and lets the event loop run between slices; meanwhile
    readers get the previous copy while it is younger than `max_age_s`, and wait for the rebuild
    otherwise (the first reader, or the first after a quiet spell): never older than max_age_s."""

    def __init__(self, max_age_s: float, slice_size: int = 100) -> None:
        # a rebuild starts once the copy is half the allowed age, so that under steady polling
        # it is done before the copy is too old to serve and nobody waits for it
        self.max_age_s = max_age_s
        self.memo: Memo[tuple[list[Any], bytes]] = Memo(max_age_s / 2)
        self.slice_size = slice_size
        self._building: asyncio.Future[tuple[list[Any], bytes]] | None = None

    async def get(self, version: int, now: float, how: Rendering) -> tuple[list[Any], bytes]:
        memo = self.memo
        previous = memo.value
        if previous is not None and memo.fresh(version, now):
            return previous
        if self._building is None or self._building.done():
            self._building = asyncio.ensure_future(self._build(version, now, how))
        if previous is not None and now - memo.built_at < self.max_age_s:
            return previous  # young enough: served while the rebuild runs
        return await asyncio.shield(self._building)

    async def _build(self, version: int, now: float, how: Rendering) -> tuple[list[Any], bytes]:
        items: list[Any] = []
        todo = list(how.keys())
        for start in range(0, len(todo), self.slice_size):
            if start:
                await asyncio.sleep(0)
            items.extend(
                item for key in todo[start : start + self.slice_size] if (item := how.render(key))
            )
        return self.memo.put((items, how.encode(items)), version, now)
