"""Sending an output (a dead letter, an alert) without letting its failure stop the stream.

A send that raises is retried a bounded number of times with back-off; then one log line names
what was lost and where its source is, a metric counts it, and the caller goes on. Nothing here
holds a partition for ever."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

log = logging.getLogger(__name__)

ATTEMPTS: Final = 3
BACKOFF_S: Final = 0.5  # before the 2nd attempt; doubled before each next one


async def deliver(
    send: Callable[[], Awaitable[Any]],
    *,
    output: str,
    what: str,
    on_failure: Callable[[str], None] | None = None,
    attempts: int = ATTEMPTS,
    backoff_s: float = BACKOFF_S,
) -> bool:
    """Await `send()` until it succeeds, at most `attempts` times. False when it never did: then
    one ERROR line ("could not send <what> to <output> ...") and `on_failure(output)`."""
    problem: BaseException | None = None
    for attempt in range(attempts):
        if attempt:
            await asyncio.sleep(backoff_s * 2 ** (attempt - 1))
        try:
            await send()
            return True
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # any failure of the output: retried, then given up on
            problem = exc
            if _hopeless(exc):
                break
    log.error(
        "could not send %s to %s after %d attempt(s): %s; the stream goes on",
        what,
        output,
        attempt + 1,
        _one_line(problem),
    )
    if on_failure is not None:
        on_failure(output)
    return False


def _hopeless(exc: BaseException) -> bool:
    """A failure that the same send cannot overcome (too large, not authorised, bad value)."""
    names = {type(e).__name__ for e in (exc, exc.__cause__) if e is not None}
    return bool(
        names
        & {
            "MessageSizeTooLargeError",
            "RecordTooLargeError",
            "TopicAuthorizationFailedError",
            "TypeError",
            "ValueError",
        }
    )


def _one_line(exc: BaseException | None) -> str:
    text = f"{type(exc).__name__}: {exc}" if exc is not None else "unknown"
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:297] + "..."
