"""Topic names, with the deployment prefix, and the co-partitioning rule."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ordermon.streams.errors import PartitionsMismatch
from ordermon.streams.flows import INPUT_TOPICS

ALERTS = "ordermon.alerts"
DEADLETTER = "ordermon.deadletter"


@dataclass(frozen=True, slots=True)
class TopicNames:
    """Every topic name of one deployment. `base` maps a full name back to the contract's name."""

    prefix: str = ""

    def full(self, base: str) -> str:
        return f"{self.prefix}{base}"

    def base(self, full: str) -> str:
        return full[len(self.prefix) :] if self.prefix and full.startswith(self.prefix) else full

    @property
    def inputs(self) -> tuple[str, ...]:
        return tuple(self.full(t) for t in INPUT_TOPICS)

    @property
    def alerts(self) -> str:
        return self.full(ALERTS)

    @property
    def deadletter(self) -> str:
        return self.full(DEADLETTER)


def require_copartitioned(counts: Mapping[str, int | None]) -> int:
    """The common partition count of the input topics; PartitionsMismatch naming each otherwise.

    A count of None means the topic does not exist."""
    values = set(counts.values())
    if len(values) != 1 or None in values:
        raise PartitionsMismatch(counts)
    (n,) = values
    assert n is not None
    return n
