"""Per-minute event-time arithmetic, in integer epoch milliseconds."""

from __future__ import annotations

from typing import Final

MINUTE_MS: Final = 60_000
HOUR_MS: Final = 60 * MINUTE_MS


def minute_start(ms: int) -> int:
    """Start of the minute that holds `ms` (floor, also for times before 1970)."""
    return ms - ms % MINUTE_MS
