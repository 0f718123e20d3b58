"""Typed, immutable input events of CONTRACT v1. Event time is epoch milliseconds (UTC)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from ordermon.streams.flows import COMPLAINTS, DISPATCHES, ORDERS, REFUNDS, flow_name

OrderStatus = Literal["placed", "cancelled"]
DispatchStatus = Literal["dispatched", "delivered", "failed"]
ComplaintStatus = Literal["opened", "resolved"]
RefundStatus = Literal["requested", "completed"]
ComplaintReason = Literal["late_delivery", "damaged", "wrong_item", "service", "other"]


@dataclass(frozen=True, slots=True, kw_only=True)
class BaseEvent:
    topic: ClassVar[str]
    event_id: str
    status: str
    order_id: str
    warehouse: str
    occurred_at_ms: int
    schema_version: int = 1

    @property
    def flow(self) -> str:
        return flow_name(self.topic, self.status)


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderEvent(BaseEvent):
    topic: ClassVar[str] = ORDERS
    status: OrderStatus
    amount: float | None = None
    items: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DispatchEvent(BaseEvent):
    topic: ClassVar[str] = DISPATCHES
    status: DispatchStatus
    carrier: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ComplaintEvent(BaseEvent):
    topic: ClassVar[str] = COMPLAINTS
    status: ComplaintStatus
    complaint_id: str
    reason: ComplaintReason | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RefundEvent(BaseEvent):
    topic: ClassVar[str] = REFUNDS
    status: RefundStatus
    refund_id: str
    amount: float


Event = OrderEvent | DispatchEvent | ComplaintEvent | RefundEvent

EVENT_TYPES: dict[str, type[Event]] = {
    ORDERS: OrderEvent,
    DISPATCHES: DispatchEvent,
    COMPLAINTS: ComplaintEvent,
    REFUNDS: RefundEvent,
}
