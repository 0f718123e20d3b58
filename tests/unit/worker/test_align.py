"""Aligned reading (agents.worker.transport.held_back): which input partitions sit out the next
fetches. Table-driven; the live behaviour is exercised by tests/integration/test_catchup.py."""

from __future__ import annotations

import pytest
from faust.types import TP

from ordermon.agents.worker.transport import ALIGN_SPAN_MS, held_back

H = 60 * 60_000
A, B, C, D = (TP("orders", 0), TP("complaints", 0), TP("orders", 1), TP("refunds", 1))

CASES = [
    # (times, at their end, held back)
    ({A: 0, B: 3 * 24 * H}, [], {B}),  # a sparse topic read days ahead waits
    ({A: 0, B: ALIGN_SPAN_MS}, [], set()),  # within the span: read on
    ({A: 0, B: 3 * 24 * H}, [A], set()),  # the slow one is at its end: nothing to wait for
    ({A: 0, B: 3 * 24 * H, C: None}, [], {B}),  # not read yet: holds nobody back itself
    ({A: None, B: 3 * 24 * H}, [], set()),
    ({A: 5 * H, B: 0, C: 2 * H, D: 9 * H}, [], {A, C, D}),  # the least read is never held
    ({A: 5 * H, B: 0, C: 2 * H, D: 9 * H}, [B], {A, D}),
    ({}, [], set()),
]


@pytest.mark.parametrize(("times", "at_end", "expected"), CASES)
def test_partitions_read_ahead_of_the_least_read_one_are_held_back(
    times: dict[TP, int | None], at_end: list[TP], expected: set[TP]
) -> None:
    assert held_back(times, at_end) == expected
