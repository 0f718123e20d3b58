"""HTTP hardening: the header read timeout reaches Faust's web server, a malformed request is one
INFO line, and the memo computes an answer once for many readers."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiohttp.http_exceptions import BadHttpMessage, BadStatusLine

from ordermon.agents.logic.policy import Policy
from ordermon.agents.worker.webguard import (
    SERVER_LOGGER,
    Memo,
    Rendering,
    SharedAnswer,
    harden,
    install_log_filter,
)
from ordermon.app import build
from ordermon.config import Settings


def test_the_header_timeout_reaches_fausts_runner() -> None:
    app = build(Settings(web_header_timeout_seconds=3.5), Policy()).app
    assert app.web._runner._kwargs["keepalive_timeout"] == 3.5  # the root applied it
    harden(app, 2.5)
    assert app.web._runner._kwargs["keepalive_timeout"] == 2.5


@pytest.mark.parametrize(
    "exc", [BadHttpMessage("Invalid header value char"), BadStatusLine(b"\x16\x03\x01garbage")]
)
def test_a_malformed_request_is_one_info_line(
    exc: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    install_log_filter()
    install_log_filter()  # once is enough, twice changes nothing
    logger = logging.getLogger(SERVER_LOGGER)
    with caplog.at_level(logging.DEBUG, logger=SERVER_LOGGER):
        try:
            raise exc
        except Exception:
            logger.exception("Error handling request from %s", "127.0.0.1")
    (record,) = caplog.records
    assert record.levelno == logging.INFO and record.exc_info is None
    text = record.getMessage()
    assert text.startswith("malformed HTTP request from 127.0.0.1 refused (400)")
    assert "\n" not in text and "Traceback" not in caplog.text


def test_a_real_server_error_keeps_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    install_log_filter()
    logger = logging.getLogger(SERVER_LOGGER)
    with caplog.at_level(logging.DEBUG, logger=SERVER_LOGGER):
        try:
            raise RuntimeError("a bug")
        except RuntimeError:
            logger.exception("Error handling request from %s", "127.0.0.1")
    (record,) = caplog.records
    assert record.levelno == logging.ERROR and record.exc_info is not None


def test_the_memo_builds_once_per_change_and_at_most_once_per_max_age() -> None:
    builds: list[int] = []

    def build() -> int:
        builds.append(1)
        return len(builds)

    memo: Memo[int] = Memo(max_age_s=1.0)
    assert memo.get(0, 100.0, build) == 1
    assert memo.get(0, 500.0, build) == 1  # nothing changed: the same answer, however late
    assert memo.get(1, 500.5, build) == 2  # changed, and the copy is old: rebuilt
    assert memo.get(2, 501.0, build) == 2  # changed again within max_age: the copy
    assert memo.get(2, 501.6, build) == 3
    assert Memo[int](max_age_s=0).get(5, 0.0, build) == 4


async def test_the_shared_answer_is_built_in_slices_and_never_older_than_max_age() -> None:
    rendered: list[str] = []

    def render(key: str) -> dict[str, str] | None:
        rendered.append(key)
        return None if key == "skip" else {"k": key}

    def encode(items: list[object]) -> bytes:
        return repr(items).encode()

    def keys(*names: str) -> Rendering:
        return Rendering(lambda: names, render, encode)

    answer = SharedAnswer(max_age_s=1.0, slice_size=2)
    first, _raw = await answer.get(0, 10.0, keys("a", "b", "skip", "c", "d"))
    assert first == [{"k": k} for k in ("a", "b", "c", "d")] and len(rendered) == 5
    same, _ = await answer.get(0, 99.0, keys("x"))
    assert same is first and len(rendered) == 5  # nothing changed: no rendering
    young, _ = await answer.get(1, 10.3, keys("x"))
    assert young is first  # changed, copy 0.3 s old: served as is
    stale, _ = await answer.get(1, 10.6, keys("x"))
    assert stale is first  # 0.6 s old: served while a rebuild starts
    await asyncio.sleep(0.01)
    fresh, raw = await answer.get(1, 10.7, keys("y"))
    assert fresh == [{"k": "x"}] and raw == repr([{"k": "x"}]).encode()
    # after a quiet spell the copy is too old to serve: the reader waits for the rebuild
    late, _ = await answer.get(2, 50.0, keys("z"))
    assert late == [{"k": "z"}]
