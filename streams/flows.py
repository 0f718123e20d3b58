"""The contract's topics, their statuses, and the four queues built from them (CONTRACT v1).

A *flow* is one (topic, status) pair, named ``<topic>_<status>`` (``orders_placed``); it is the
`flow` label of ``ordermon_flow_rate_per_second``. A *queue* is an inflow and an outflow of flows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

ORDERS: Final = "orders"
DISPATCHES: Final = "dispatches"
COMPLAINTS: Final = "complaints"
REFUNDS: Final = "refunds"

STATUSES: Final[dict[str, tuple[str, ...]]] = {
    ORDERS: ("placed", "cancelled"),
    DISPATCHES: ("dispatched", "delivered", "failed"),
    COMPLAINTS: ("opened", "resolved"),
    REFUNDS: ("requested", "completed"),
}

INPUT_TOPICS: Final[tuple[str, ...]] = tuple(STATUSES)


def flow_name(topic: str, status: str) -> str:
    return f"{topic}_{status}"


FLOWS: Final[tuple[str, ...]] = tuple(
    flow_name(topic, status) for topic, statuses in STATUSES.items() for status in statuses
)


@dataclass(frozen=True, slots=True)
class Queue:
    name: str
    inflow: tuple[str, ...]
    outflow: tuple[str, ...]
    meaning: str


QUEUES: Final[tuple[Queue, ...]] = (
    Queue(
        "dispatch",
        ("orders_placed",),
        ("dispatches_dispatched", "orders_cancelled"),
        "parcels are not leaving the warehouse",
    ),
    Queue(
        "delivery",
        ("dispatches_dispatched",),
        ("dispatches_delivered", "dispatches_failed"),
        "carriers are not delivering",
    ),
    Queue(
        "service",
        ("complaints_opened",),
        ("complaints_resolved",),
        "customer service is falling behind",
    ),
    Queue("refund", ("refunds_requested",), ("refunds_completed",), "finance is falling behind"),
)
QUEUE_NAMES: Final[tuple[str, ...]] = tuple(q.name for q in QUEUES)
