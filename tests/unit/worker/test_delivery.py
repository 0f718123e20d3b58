"""Sending an output: bounded retries, then one log line and the failure counted; never a raise."""

from __future__ import annotations

import logging

import pytest

from ordermon.agents.worker.delivery import deliver


class MessageSizeTooLargeError(Exception):
    """Named like aiokafka's: the same send can never succeed."""


class Flaky:
    def __init__(self, failures: int, error: type[Exception] = ConnectionError) -> None:
        self.failures = failures
        self.error = error
        self.calls = 0

    async def __call__(self) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error("broker said no\nsecond line")


async def test_a_send_that_succeeds_after_retries_is_not_a_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failed: list[str] = []
    send = Flaky(2)
    ok = await deliver(send, output="x", what="y", on_failure=failed.append, backoff_s=0)
    assert ok and send.calls == 3 and failed == []
    assert not caplog.records


async def test_a_send_that_keeps_failing_is_given_up_with_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failed: list[str] = []
    send = Flaky(10)
    with caplog.at_level(logging.ERROR):
        ok = await deliver(
            send,
            output="deadletter",
            what="the dead letter of orders[2]@41",
            on_failure=failed.append,
            backoff_s=0,
        )
    assert not ok and send.calls == 3 and failed == ["deadletter"]
    (record,) = caplog.records
    text = record.getMessage()
    assert "orders[2]@41" in text and "ConnectionError: broker said no second line" in text
    assert "\n" not in text and record.exc_info is None


async def test_a_hopeless_send_is_not_retried() -> None:
    failed: list[str] = []
    send = Flaky(10, MessageSizeTooLargeError)
    assert not await deliver(send, output="o", what="w", on_failure=failed.append, backoff_s=0)
    assert send.calls == 1 and failed == ["o"]


async def test_a_wrapped_hopeless_error_is_recognised() -> None:
    async def send() -> None:
        try:
            raise MessageSizeTooLargeError("too big")
        except MessageSizeTooLargeError as exc:
            raise RuntimeError("Error while sending") from exc

    assert not await deliver(send, output="o", what="w", backoff_s=0)


async def test_a_changelog_send_that_fails_stops_neither_the_buffer_nor_the_worker(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Faust's producer buffer calls `_send_pending` in a service task; guarded, a send that can
    never succeed is given up with one line, counted, and its future failed."""
    import asyncio
    from types import SimpleNamespace

    from ordermon.agents.worker.transport import guard_buffer

    calls: list[object] = []

    async def refuse(fut: object) -> None:
        calls.append(fut)
        raise RuntimeError("Error while sending") from MessageSizeTooLargeError("too big")

    failed: list[str] = []
    buffer = SimpleNamespace(_send_pending=refuse)
    guard_buffer(buffer, failed.append)
    channel = SimpleNamespace(get_topic_name=lambda: "app-warehouse-minutes-changelog")
    fut = asyncio.get_running_loop().create_future()
    fut.message = SimpleNamespace(channel=channel, key=b"W1@1795334400000")  # type: ignore[attr-defined]
    with caplog.at_level(logging.ERROR):
        await buffer._send_pending(fut)
    assert len(calls) == 1 and failed == ["changelog"]
    assert isinstance(fut.exception(), RuntimeError)
    (record,) = caplog.records
    assert "W1@1795334400000" in record.getMessage() and "changelog" in record.getMessage()


def test_the_workers_producer_buffer_is_guarded() -> None:
    """Pins the Faust internals guard_buffer relies on: Transport.Producer and its buffer's
    `_send_pending`, which the buffer's task looks up on the instance."""
    from ordermon.agents.logic.policy import Policy
    from ordermon.app import build
    from ordermon.config import Settings

    app = build(Settings(), Policy()).app
    assert "guard_buffer" in app.producer.buffer._send_pending.__qualname__
