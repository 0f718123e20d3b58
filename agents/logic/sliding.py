"""Sliding window sums of one warehouse's per-minute counts, advanced minute by minute.

The detector reads, at every closed minute `t`, the counts of several windows ending at `t`
(15 minutes to 8 hours) and the counts of everything before `t`. Summing the buckets afresh would
cost a lookup per minute of each window at every evaluation; instead each sum slides: adding the
minute that enters and removing the one that leaves. Derived from the flow state and kept in
memory only (rebuilt after a restart); an event that lands behind the sums' time updates them."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from ordermon.agents.logic.windows import HOUR_MS, MINUTE_MS
from ordermon.streams.flows import FLOWS

if TYPE_CHECKING:
    from ordermon.agents.logic.flow import Bucket, WarehouseState

# A frozen minute's counts (`flow.freeze`), indexed like FLOWS, after a byte that says how they
# are packed: 0, unsigned 16-bit integers (a warehouse-minute with fewer than 65,536 events of
# each kind); 1, unsigned 32-bit
PACKS: Final = (struct.Struct(f"<{len(FLOWS)}H"), struct.Struct(f"<{len(FLOWS)}I"))

# The windows the detector may use: the horizon and longer ones for slow queues.
WINDOWS_MS: Final = (
    15 * MINUTE_MS,
    HOUR_MS,
    2 * HOUR_MS,
    4 * HOUR_MS,
    8 * HOUR_MS,
    24 * HOUR_MS,
)
_REBUILD_AFTER_MS: Final = 12 * HOUR_MS  # a longer jump is recomputed, not stepped


@dataclass(slots=True)
class Sliding:
    at_ms: int
    windows: tuple[int, ...]
    sums: dict[int, list[int]] = field(default_factory=dict)  # window -> counts in [at-w, at)
    before: list[int] = field(default_factory=list)  # counts of events with occurred_at < at

    def on_event(self, minute_ms: int, index: int) -> None:
        """An event counted both in the totals and in its minute's bucket."""
        if minute_ms >= self.at_ms:
            return
        self.before[index] += 1
        for w, counts in self.sums.items():
            if minute_ms >= self.at_ms - w:
                counts[index] += 1


def counts_of(minute: Bucket | bytes) -> Sequence[int]:
    """A minute's counts, indexed like FLOWS, frozen (`flow.freeze`) or not."""
    if isinstance(minute, bytes):
        return PACKS[minute[0]].unpack_from(minute, 1)
    return minute.counts


def _bucket_counts(state: WarehouseState, minute_ms: int) -> Sequence[int] | None:
    minute = state.minutes.get(minute_ms)
    return None if minute is None else counts_of(minute)


def _rebuild(state: WarehouseState, at_ms: int, windows: tuple[int, ...]) -> Sliding:
    from ordermon.agents.logic.flow import counts_between, totals_before

    return Sliding(
        at_ms=at_ms,
        windows=windows,
        sums={w: counts_between(state, at_ms - w, at_ms) for w in windows},
        before=totals_before(state, at_ms),
    )


def window_sums(
    state: WarehouseState, at_ms: int, windows: tuple[int, ...] = WINDOWS_MS
) -> Sliding:
    """The sums at `at_ms` (a minute boundary). Cheap when `at_ms` moves forward a minute at a
    time, as evaluation does; any other move recomputes them."""
    cache = state.sliding
    if (
        cache is None
        or cache.windows != windows
        or at_ms < cache.at_ms
        or at_ms - cache.at_ms > _REBUILD_AFTER_MS
    ):
        cache = state.sliding = _rebuild(state, at_ms, windows)
        return cache
    before = cache.before
    sums = cache.sums
    for minute in range(cache.at_ms, at_ms, MINUTE_MS):
        entering = _bucket_counts(state, minute)
        if entering is not None:
            for i, c in enumerate(entering):
                if c:
                    before[i] += c
                    for counts in sums.values():
                        counts[i] += c
        for w, counts in sums.items():
            leaving = _bucket_counts(state, minute - w)
            if leaving is not None:
                for i, c in enumerate(leaving):
                    if c:
                        counts[i] -= c
    cache.at_ms = at_ms
    return cache
