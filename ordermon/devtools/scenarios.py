"""Seeded, pure generators of contract events on an event-time clock.

A `Scenario` describes a few warehouses; `Scenario.events()` lazily yields their events
(`ordermon.streams.events` records, plus `Malformed` messages in the `malformed` scenario) in
non-decreasing `occurred_at_ms` order. Nothing here reads a clock, touches Kafka or does I/O:
the simulator loop sends what this module generates, at whatever speed it likes.

Each warehouse is a small discrete-event simulation in event time, driven by its own
``random.Random`` (seeded from the scenario name, the seed and the warehouse id, so one warehouse's
draws never depend on another's). Its four queues follow the contract's:

- **dispatch**: orders arrive as a Poisson process whose rate follows a daily cycle in the
  warehouse's local time (UTC+8: low at night, peaks late morning and evening), optionally a
  weekend factor, continuous monthly growth, bursts and multiplicative noise. A team of ``k``
  packers, each taking ``k / C`` hours per parcel (about `PICK_MINUTES`), dispatches at most
  ``C`` parcels an hour, first come first served. A few % of customers cancel within minutes;
  a cancellation succeeds while the parcel has not left (it frees the packer).
- **delivery**: a dispatched parcel is delivered after 1-3 days in transit, or the delivery
  fails (`FAIL_SHARE`).
- **service**: complaints are opened by customers still waiting long after ordering (some chase
  an undispatched order after 12-48 hours), after a delivery (the probability rises with how long
  the parcel waited in the warehouse: ``late_delivery``; otherwise ``damaged``, ``wrong_item``,
  ``service``, ``other``) and after most failed deliveries. A customer-service team resolves
  them at a fixed pace per hour, first come first served.
- **refund**: a share of complaints (by reason) lead to a refund request; finance pays them at a
  fixed pace per hour, first come first served.

Every id an event refers to was introduced by an earlier event of the same warehouse, and each
``(id, status)`` happens at most once: placed < cancelled, or placed < dispatched < delivered |
failed; opened < resolved; requested < completed. Times are integer milliseconds.

Every scenario starts empty: nothing is in transit at `Scenario.start_ms`. So for its first
``transit_hours`` (1-3 days) the delivery queue only fills (deliveries start after a day and
reach the dispatch rate after three), and complaints and refunds, which mostly follow
deliveries, ramp up behind it. A short scenario (2 days) never reaches a steady delivery
queue; give its models shorter ``transit_hours`` (``dataclasses.replace``) when that matters.

Run ``python -m ordermon.devtools.scenarios`` to print each scenario's event counts.
"""

from __future__ import annotations

import heapq
import math
import random
import sys
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Final

from ordermon.streams.codec import dumps, event_to_wire
from ordermon.streams.errors import RejectReason
from ordermon.streams.events import (
    ComplaintEvent,
    ComplaintReason,
    DispatchEvent,
    Event,
    OrderEvent,
    RefundEvent,
)
from ordermon.streams.timefmt import format_rfc3339_ms
from ordermon.streams.validation import MAX_VALUE_BYTES

MINUTE_MS: Final = 60_000
HOUR_MS: Final = 60 * MINUTE_MS
DAY_MS: Final = 24 * HOUR_MS
MONTH_DAYS: Final = 30  # growth "per month" compounds over 30 days
START_MS: Final = 1_204_329_600_000  # 2008-03-01T00:00:00Z, a Saturday (08:00 in Beijing)
CHINA_OFFSET_MS: Final = 8 * HOUR_MS  # daily cycles and weekends follow UTC+8

PICK_MINUTES: Final = 15.0  # target time one packer spends on one parcel
CANCEL_SHARE: Final = 0.03  # customers who try to cancel; most within ~8 minutes
CANCEL_MEAN_MS: Final = 8 * MINUTE_MS
CHASE_SHARE: Final = 0.3  # customers who complain if still undispatched after 12-48 hours
FAIL_SHARE: Final = 0.03  # deliveries that fail
FAILED_COMPLAINT_SHARE: Final = 0.6  # failed deliveries that lead to a complaint
LATE_GRACE_HOURS: Final = 4.0  # warehouse wait before late-delivery complaints start
LATE_PER_HOUR: Final = 0.012  # complaint probability added per hour of wait beyond the grace
LATE_MAX: Final = 0.45
# Complaints after an on-time delivery, by reason (probability per delivered parcel).
BASE_COMPLAINTS: Final[tuple[tuple[ComplaintReason, float], ...]] = (
    ("damaged", 0.012),
    ("wrong_item", 0.008),
    ("service", 0.003),
    ("other", 0.004),
)
FAILED_REASONS: Final[tuple[tuple[ComplaintReason, float], ...]] = (
    ("late_delivery", 0.5),
    ("service", 0.3),
    ("other", 0.2),
)
REFUND_SHARE: Final[dict[str, float]] = {
    "late_delivery": 0.3,
    "damaged": 0.8,
    "wrong_item": 0.7,
    "service": 0.15,
    "other": 0.2,
}
FAILED_REFUND_SHARE: Final = 0.8
SERVICE_SHARE: Final = 0.10  # customer-service pace as a share of dispatch capacity
FINANCE_SHARE: Final = 0.07  # finance pace as a share of dispatch capacity
NOISE_BLOCK_MS: Final = 5 * MINUTE_MS  # noisy demand draws a new factor every 5 minutes
CARRIERS: Final = ("SF", "EMS", "ZJS", "YTO")

# Hourly order weights in local time (hour 0 = 00:00-01:00); normalised to a mean of 1.
# Low at night, a late-morning peak and a higher evening peak.
DAY_CYCLE: Final = (
    0.55, 0.35, 0.25, 0.2, 0.2, 0.25, 0.4, 0.65, 0.9, 1.2, 1.45, 1.5,
    1.3, 1.15, 1.15, 1.2, 1.2, 1.2, 1.3, 1.45, 1.55, 1.5, 1.2, 0.85,
)  # fmt: skip
# Nights (01:00-05:00) near zero, long busy days.
NIGHT_LULL_CYCLE: Final = (
    0.12, 0.02, 0.01, 0.01, 0.01, 0.03, 0.2, 0.6, 1.1, 1.5, 1.7, 1.7,
    1.6, 1.5, 1.5, 1.5, 1.5, 1.5, 1.6, 1.7, 1.7, 1.5, 1.0, 0.4,
)  # fmt: skip

Window = tuple[int, int, float]  # [from_ms, to_ms) and a factor


@dataclass(frozen=True, slots=True)
class WarehouseModel:
    """The parameters of one warehouse's simulation. Rates are per hour of event time."""

    warehouse: str
    orders_per_hour: float  # mean over the daily cycle, at the scenario's start
    dispatch_per_hour: float  # packing capacity C
    service_per_hour: float  # complaints resolved per hour
    finance_per_hour: float  # refunds completed per hour
    growth_per_month: float = 0.0  # continuous: rate x (1 + g) ** (days / 30)
    cycle: tuple[float, ...] = DAY_CYCLE  # 24 hourly weights, local time
    weekend_factor: float = 1.0  # orders on Saturdays and Sundays (local) x this
    noise_shape: float = 0.0  # > 0: orders x Gamma(shape, 1/shape) per 5-minute block
    bursts: tuple[Window, ...] = ()  # orders x factor within [from_ms, to_ms)
    outages: tuple[Window, ...] = ()  # dispatch capacity x factor within [from_ms, to_ms)
    silent_from_ms: int | None = None  # nothing at all is sent from this time on
    transit_hours: tuple[float, float] = (24.0, 72.0)  # uniform range of delivery times
    utc_offset_ms: int = CHINA_OFFSET_MS

    @property
    def packers(self) -> int:
        """Servers of the dispatch queue: each takes packers / C hours per parcel."""
        return max(1, round(self.dispatch_per_hour * PICK_MINUTES / 60))

    @property
    def pick_ms(self) -> int:
        return round(self.packers * HOUR_MS / self.dispatch_per_hour)


def crossing_day(model: WarehouseModel) -> float | None:
    """Days after the start when the mean order rate reaches dispatch capacity; None if never
    (no growth and demand below capacity)."""
    if model.orders_per_hour >= model.dispatch_per_hour:
        return 0.0
    if model.growth_per_month <= 0:
        return None
    return (
        MONTH_DAYS
        * math.log(model.dispatch_per_hour / model.orders_per_hour)
        / math.log1p(model.growth_per_month)
    )


@dataclass(frozen=True)
class Malformed:
    """A deliberately bad message. `why` is the `RejectReason` value the decoder must give."""

    topic: str
    key: bytes | None
    value: bytes
    occurred_at_ms: int
    why: str
    detail: str = ""  # the same, for a person


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str  # one line for `ordermon simulate --list`
    start_ms: int
    duration_ms: int
    warehouses: tuple[str, ...]
    models: tuple[WarehouseModel, ...] = ()
    seed: int = 0
    malformed_share: float = 0.0  # share of all messages that are Malformed

    def __post_init__(self) -> None:
        if tuple(m.warehouse for m in self.models) != self.warehouses:
            raise ValueError("Scenario.warehouses must list the warehouses of its models, in order")
        if not 0.0 <= self.malformed_share < 1.0:
            raise ValueError(f"malformed_share must be in [0, 1), got {self.malformed_share}")

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.duration_ms

    def events(self) -> Iterator[Event | Malformed]:
        """All messages of the scenario, lazily, in non-decreasing ``occurred_at_ms`` order."""
        runs = [_WarehouseRun(self, model).messages() for model in self.models]
        return heapq.merge(*runs, key=_occurred_at)


def _occurred_at(message: Event | Malformed) -> int:
    return message.occurred_at_ms


@lru_cache(maxsize=32)
def _minute_weights(cycle: tuple[float, ...]) -> tuple[float, ...]:
    """1440 per-minute weights with a mean of 1, linear between the hours' midpoints."""
    if len(cycle) != 24 or min(cycle) < 0 or sum(cycle) <= 0:
        raise ValueError("a daily cycle is 24 non-negative hourly weights, not all zero")
    raw = []
    for minute in range(1440):
        pos = (minute + 0.5) / 60 - 0.5
        i = math.floor(pos)
        frac = pos - i
        raw.append(cycle[i % 24] * (1 - frac) + cycle[(i + 1) % 24] * frac)
    mean = sum(raw) / len(raw)
    return tuple(w / mean for w in raw)


def blend(cycle: tuple[float, ...], depth: float) -> tuple[float, ...]:
    """`cycle` with its swings scaled by `depth` (0: flat, 1: unchanged)."""
    mean = sum(cycle) / len(cycle)
    return tuple(1 + depth * (w / mean - 1) for w in cycle)


# --------------------------------------------------------------------------------------------
# One warehouse's simulation

_WAITING, _PACKING, _DISPATCHED, _CANCELLED = range(4)
# Kinds of scheduled happenings, in the heap as (time_ms, seq, kind, order).
_PACKED, _CANCEL, _CHASE, _DELIVERED, _FAILED, _OPEN, _RESOLVE, _REQUEST, _PAID = range(9)
_NEVER: Final = 1 << 62


class _Order:
    __slots__ = (
        "amount",
        "carrier",
        "complaining",
        "complaint_id",
        "dispatched_ms",
        "failed",
        "items",
        "order_id",
        "placed_ms",
        "reason",
        "refund_amount",
        "refund_id",
        "state",
    )

    def __init__(self, order_id: str, placed_ms: int, amount: float, items: int) -> None:
        self.order_id = order_id
        self.placed_ms = placed_ms
        self.amount = amount
        self.items = items
        self.state = _WAITING
        self.dispatched_ms = 0
        self.carrier = ""
        self.failed = False
        self.complaining = False
        self.reason: ComplaintReason = "other"
        self.complaint_id = ""
        self.refund_id = ""
        self.refund_amount = 0.0


class _WarehouseRun:
    def __init__(self, scenario: Scenario, model: WarehouseModel) -> None:
        self.model = model
        self.wh = model.warehouse
        base = f"{scenario.name}:{scenario.seed}:{model.warehouse}"
        self.rng = random.Random(base)
        self.bad_rng = random.Random(base + ":malformed")
        self.scenario = scenario
        self.start = scenario.start_ms
        end = scenario.end_ms
        if model.silent_from_ms is not None:
            end = min(end, model.silent_from_ms)
        self.end = end
        self.id_prefix = f"{scenario.name}-{scenario.seed}-{model.warehouse}-"
        self.n_events = 0
        self.n_orders = 0
        self.n_cases = 0
        self.n_refunds = 0
        self.out: list[Event] = []
        self.heap: list[tuple[int, int, int, _Order]] = []
        self.seq = 0
        # arrivals: piecewise-constant rate per minute
        self.weights = _minute_weights(model.cycle)
        self.base_per_ms = model.orders_per_hour / HOUR_MS
        self.growth_per_ms = math.log1p(model.growth_per_month) / (MONTH_DAYS * DAY_MS)
        self.block_end = self.start - self.start % MINUTE_MS
        self.block_rate = 0.0
        self.noise_block = -1
        self.noise = 1.0
        # dispatch: k packers; delivery: uniform transit
        self.packers = model.packers
        self.pick_ms = model.pick_ms
        self.transit_ms = (
            round(model.transit_hours[0] * HOUR_MS),
            round(model.transit_hours[1] * HOUR_MS),
        )
        self.queue: deque[_Order] = deque()
        self.busy = 0
        # service and finance: one FIFO line each at a fixed pace
        self.service_ms = round(HOUR_MS / model.service_per_hour)
        self.finance_ms = round(HOUR_MS / model.finance_per_hour)
        self.service_free = self.start
        self.finance_free = self.start

    # -- the loop

    def messages(self) -> Iterator[Event | Malformed]:
        bad_odds = self.scenario.malformed_share / (1 - self.scenario.malformed_share)
        for event in self.events():
            yield event
            if bad_odds and self.bad_rng.random() < bad_odds:
                yield self.malformed(event)

    def events(self) -> Iterator[Event]:
        heap, out, end = self.heap, self.out, self.end
        changes = sorted({t for a, b, _ in self.model.outages for t in (a, b)})
        next_change = 0
        arrival = self.next_arrival(self.start)
        while True:
            t_heap = heap[0][0] if heap else _NEVER
            t_change = changes[next_change] if next_change < len(changes) else _NEVER
            t_arrival = _NEVER if arrival is None else arrival
            t = min(t_heap, t_change, t_arrival)
            if t >= end:
                return
            if t == t_change:
                next_change += 1
                self.start_packing(t)
            elif t == t_arrival:
                self.place(t)
                arrival = self.next_arrival(t)
            else:
                _, _, kind, order = heapq.heappop(heap)
                self.handle(t, kind, order)
            if out:
                yield from out
                out.clear()

    def uniform_ms(self, low: int, high: int) -> int:
        """A duration in [low, high) ms (faster than randint, and as good here)."""
        return low + int(self.rng.random() * (high - low))

    def schedule(self, t: int, kind: int, order: _Order) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (t, self.seq, kind, order))

    def handle(self, t: int, kind: int, o: _Order) -> None:
        if kind == _PACKED:
            if o.state == _PACKING:  # else cancelled while packing: the packer is already free
                self.dispatch(t, o)
        elif kind == _CANCEL:
            if o.state in (_WAITING, _PACKING):
                self.cancel(t, o)
        elif kind == _CHASE:
            if o.state in (_WAITING, _PACKING) and not o.complaining:
                o.complaining = True
                o.reason = "late_delivery"
                self.open_complaint(t, o)
        elif kind == _DELIVERED:
            self.deliver(t, o)
        elif kind == _FAILED:
            self.fail(t, o)
        elif kind == _OPEN:
            self.open_complaint(t, o)
        elif kind == _RESOLVE:
            self.emit_complaint(t, o, "resolved")
        elif kind == _REQUEST:
            self.request_refund(t, o)
        elif kind == _PAID:
            self.emit_refund(t, o, "completed")

    # -- arrivals

    def rate_at(self, minute_ms: int) -> float:
        """Orders per millisecond during the minute starting at `minute_ms`."""
        m = self.model
        local = minute_ms + m.utc_offset_ms
        rate = self.base_per_ms * self.weights[(local // MINUTE_MS) % 1440]
        if m.weekend_factor != 1.0 and (local // DAY_MS + 3) % 7 >= 5:  # 1970-01-01: Thursday
            rate *= m.weekend_factor
        if self.growth_per_ms:
            rate *= math.exp(self.growth_per_ms * (minute_ms - self.start))
        for a, b, factor in m.bursts:
            if a <= minute_ms < b:
                rate *= factor
        if m.noise_shape > 0:
            block = (minute_ms - self.start) // NOISE_BLOCK_MS
            if block != self.noise_block:
                self.noise_block = block
                self.noise = self.rng.gammavariate(m.noise_shape, 1 / m.noise_shape)
            rate *= self.noise
        return rate

    def next_arrival(self, t: int) -> int | None:
        """The next order time after `t` (inverting the cumulative rate); None past the end."""
        budget = self.rng.expovariate(1.0)
        while True:
            if t >= self.block_end:
                if t >= self.end:
                    return None
                self.block_end = t - t % MINUTE_MS + MINUTE_MS
                self.block_rate = self.rate_at(self.block_end - MINUTE_MS)
            available = (self.block_end - t) * self.block_rate
            if budget < available:
                return t + int(budget / self.block_rate)
            budget -= available
            t = self.block_end

    # -- dispatch queue

    def place(self, t: int) -> None:
        rng = self.rng
        self.n_orders += 1
        amount = round(rng.lognormvariate(5.0, 0.7), 2)
        items = 1 + min(int(rng.expovariate(0.9)), 9)
        o = _Order(f"{self.wh}-{self.n_orders}", t, amount, items)
        self.emit_order(t, o, "placed")
        if rng.random() < CANCEL_SHARE:
            self.schedule(t + 30_000 + int(rng.expovariate(1 / CANCEL_MEAN_MS)), _CANCEL, o)
        if rng.random() < CHASE_SHARE:
            self.schedule(t + self.uniform_ms(12 * HOUR_MS, 48 * HOUR_MS), _CHASE, o)
        self.queue.append(o)
        self.start_packing(t)

    def packing_now(self, t: int) -> tuple[int, int]:
        """(packers at work, ms per parcel) at `t`: an outage keeps capacity x its factor."""
        k, pick = self.packers, self.pick_ms
        for a, b, factor in self.model.outages:
            if a <= t < b:
                k_now = max(1, round(k * factor))
                return k_now, round(pick * k_now / (k * factor))
        return k, pick

    def start_packing(self, t: int) -> None:
        k, pick = self.packing_now(t)
        queue = self.queue
        while self.busy < k and queue:
            o = queue.popleft()
            if o.state != _WAITING:
                continue  # cancelled while waiting
            o.state = _PACKING
            self.busy += 1
            self.schedule(t + pick, _PACKED, o)

    def cancel(self, t: int, o: _Order) -> None:
        if o.state == _PACKING:
            self.busy -= 1
        o.state = _CANCELLED
        self.emit_order(t, o, "cancelled")
        self.start_packing(t)

    def dispatch(self, t: int, o: _Order) -> None:
        rng = self.rng
        o.state = _DISPATCHED
        o.dispatched_ms = t
        o.carrier = CARRIERS[int(rng.random() * len(CARRIERS))]
        self.busy -= 1
        self.emit_dispatch(t, o, "dispatched")
        transit = self.uniform_ms(*self.transit_ms)
        self.schedule(t + transit, _FAILED if rng.random() < FAIL_SHARE else _DELIVERED, o)
        self.start_packing(t)

    # -- delivery queue

    def deliver(self, t: int, o: _Order) -> None:
        self.emit_dispatch(t, o, "delivered")
        if o.complaining:
            return
        waited_h = (o.dispatched_ms - o.placed_ms) / HOUR_MS
        p_late = min(LATE_MAX, LATE_PER_HOUR * max(0.0, waited_h - LATE_GRACE_HOURS))
        u = self.rng.random()
        reason: ComplaintReason | None = None
        if u < p_late:
            reason = "late_delivery"
        else:
            u -= p_late
            for name, p in BASE_COMPLAINTS:
                if u < p:
                    reason = name
                    break
                u -= p
        if reason is not None:
            o.complaining = True
            o.reason = reason
            self.schedule(t + self.uniform_ms(30 * MINUTE_MS, DAY_MS), _OPEN, o)

    def fail(self, t: int, o: _Order) -> None:
        o.failed = True
        self.emit_dispatch(t, o, "failed")
        if o.complaining or self.rng.random() >= FAILED_COMPLAINT_SHARE:
            return
        u = self.rng.random()
        reason: ComplaintReason = FAILED_REASONS[-1][0]
        for name, p in FAILED_REASONS:
            if u < p:
                reason = name
                break
            u -= p
        o.complaining = True
        o.reason = reason
        self.schedule(t + self.uniform_ms(10 * MINUTE_MS, 6 * HOUR_MS), _OPEN, o)

    # -- service and refund queues

    def open_complaint(self, t: int, o: _Order) -> None:
        self.n_cases += 1
        o.complaint_id = f"{self.wh}-c{self.n_cases}"
        self.emit_complaint(t, o, "opened")
        self.service_free = max(t, self.service_free) + self.service_ms
        self.schedule(self.service_free, _RESOLVE, o)
        share = FAILED_REFUND_SHARE if o.failed else REFUND_SHARE[o.reason]
        if self.rng.random() < share:
            self.schedule(t + self.uniform_ms(5 * MINUTE_MS, 3 * HOUR_MS), _REQUEST, o)

    def request_refund(self, t: int, o: _Order) -> None:
        self.n_refunds += 1
        o.refund_id = f"{self.wh}-r{self.n_refunds}"
        if o.failed or o.reason in ("damaged", "wrong_item"):
            o.refund_amount = o.amount
        else:
            o.refund_amount = round(o.amount * self.rng.uniform(0.1, 0.5), 2)
        self.emit_refund(t, o, "requested")
        self.finance_free = max(t, self.finance_free) + self.finance_ms
        self.schedule(self.finance_free, _PAID, o)

    # -- events

    def next_id(self) -> str:
        self.n_events += 1
        return f"{self.id_prefix}{self.n_events}"

    def emit_order(self, t: int, o: _Order, status: str) -> None:
        placed = status == "placed"
        self.out.append(
            OrderEvent(
                event_id=self.next_id(),
                status="placed" if placed else "cancelled",
                order_id=o.order_id,
                warehouse=self.wh,
                occurred_at_ms=t,
                amount=o.amount if placed else None,
                items=o.items if placed else None,
            )
        )

    def emit_dispatch(self, t: int, o: _Order, status: str) -> None:
        self.out.append(
            DispatchEvent(
                event_id=self.next_id(),
                status="dispatched"
                if status == "dispatched"
                else "delivered"
                if status == "delivered"
                else "failed",
                order_id=o.order_id,
                warehouse=self.wh,
                occurred_at_ms=t,
                carrier=o.carrier,
            )
        )

    def emit_complaint(self, t: int, o: _Order, status: str) -> None:
        self.out.append(
            ComplaintEvent(
                event_id=self.next_id(),
                status="opened" if status == "opened" else "resolved",
                order_id=o.order_id,
                warehouse=self.wh,
                occurred_at_ms=t,
                complaint_id=o.complaint_id,
                reason=o.reason,
            )
        )

    def emit_refund(self, t: int, o: _Order, status: str) -> None:
        self.out.append(
            RefundEvent(
                event_id=self.next_id(),
                status="requested" if status == "requested" else "completed",
                order_id=o.order_id,
                warehouse=self.wh,
                occurred_at_ms=t,
                refund_id=o.refund_id,
                amount=o.refund_amount,
            )
        )

    # -- malformed messages

    def malformed(self, event: Event) -> Malformed:
        """A broken copy of `event`, breaking one rule of the contract."""
        rng = self.bad_rng
        why = MALFORMED_KINDS[rng.randrange(len(MALFORMED_KINDS))]
        wire = event_to_wire(event)
        key: bytes | None = self.wh.encode()
        topic = event.topic
        if why == RejectReason.NOT_JSON:
            value = dumps(wire)[: rng.randint(8, 40)]
            detail = "the value is truncated JSON"
        elif why == RejectReason.NOT_UTF8:
            value = dumps(wire).replace(b'"order_id":"', b'"order_id":"Z\xfcrich-', 1)
            detail = "the order id carries a Latin-1 byte: the value is not valid UTF-8"
        elif why == RejectReason.NOT_OBJECT:
            value = dumps([wire])
            detail = "the value is a JSON array, not an object"
        elif why == RejectReason.MISSING_FIELD:
            del wire["event_id"]
            value = dumps(wire)
            detail = "the required field event_id is missing"
        elif why == RejectReason.WRONG_TYPE:
            wire["occurred_at"] = event.occurred_at_ms
            value = dumps(wire)
            detail = "occurred_at is epoch milliseconds (a number), not an RFC 3339 string"
        elif why == RejectReason.UNKNOWN_STATUS:
            wire["status"] = _UNKNOWN_STATUS[topic]
            value = dumps(wire)
            detail = f"status {wire['status']!r} is not a status of topic {topic!r}"
        elif why == RejectReason.BAD_TIMESTAMP:
            wire["occurred_at"] = format_rfc3339_ms(event.occurred_at_ms).rstrip("Z")
            value = dumps(wire)
            detail = "occurred_at has no offset"
        elif why == RejectReason.KEY_MISMATCH:
            others = [w for w in self.scenario.warehouses if w != self.wh]
            key = (others[rng.randrange(len(others))] if others else self.wh + "-X").encode()
            value = dumps(wire)
            detail = "the message key names another warehouse than the warehouse field"
        elif why == RejectReason.TOO_LARGE:
            wire["note"] = "x" * (MAX_VALUE_BYTES + 1024)
            value = dumps(wire)
            detail = f"the value is larger than {MAX_VALUE_BYTES} bytes"
        else:  # BAD_WAREHOUSE
            bad = self.wh.replace("-", " ") + "/仓"
            wire["warehouse"] = bad
            key = bad.encode()
            value = dumps(wire)
            detail = "the warehouse id has a space, a slash and a non-ASCII character"
        return Malformed(topic, key, value, event.occurred_at_ms, str(why), detail)


MALFORMED_KINDS: Final[tuple[RejectReason, ...]] = (
    RejectReason.NOT_JSON,
    RejectReason.NOT_UTF8,
    RejectReason.NOT_OBJECT,
    RejectReason.MISSING_FIELD,
    RejectReason.WRONG_TYPE,
    RejectReason.UNKNOWN_STATUS,
    RejectReason.BAD_TIMESTAMP,
    RejectReason.KEY_MISMATCH,
    RejectReason.TOO_LARGE,
    RejectReason.BAD_WAREHOUSE,
)
_UNKNOWN_STATUS: Final = {
    "orders": "pending",
    "dispatches": "shipped",
    "complaints": "escalated",
    "refunds": "approved",
}


# --------------------------------------------------------------------------------------------
# The scenarios

# (warehouse, mean orders per hour) of the short scenarios.
NETWORK: Final = (
    ("BJ-01", 120.0),
    ("SH-02", 100.0),
    ("GZ-03", 90.0),
    ("CD-04", 70.0),
    ("WH-05", 60.0),
)

# jd2008: (warehouse, orders per hour on 2008-03-01, day on which demand reaches capacity).
# Dispatch capacity C = orders_per_hour * 1.3 ** (day / 30) is derived from that day, so the
# crossing day holds for any growth rate and scale.
JD2008_SITES: Final = (
    ("BJ-01", 12.0, 30.0),
    ("SH-02", 11.0, 30.0),
    ("GZ-03", 10.0, 30.0),
    ("CD-04", 8.0, 24.0),  # crosses earlier
    ("WH-05", 9.0, 40.0),  # more capacity
)
JD2008_CROSSING_DAY: Final = {wh: day for wh, _, day in JD2008_SITES}


def _duration_ms(days: float | None, default_days: float) -> int:
    d = default_days if days is None else days
    if not (math.isfinite(d) and d > 0):
        raise ValueError(f"days must be a positive number, got {days}")
    return round(d * DAY_MS)


def _check_scale(scale: float) -> None:
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive number, got {scale}")


def _model(
    warehouse: str,
    orders_per_hour: float,
    capacity: float,
    *,
    growth_per_month: float = 0.0,
    cycle: tuple[float, ...] = DAY_CYCLE,
    weekend_factor: float = 1.0,
    noise_shape: float = 0.0,
    bursts: tuple[Window, ...] = (),
) -> WarehouseModel:
    """A warehouse whose service and finance teams are sized from its dispatch capacity."""
    return WarehouseModel(
        warehouse=warehouse,
        orders_per_hour=orders_per_hour,
        dispatch_per_hour=capacity,
        service_per_hour=SERVICE_SHARE * capacity,
        finance_per_hour=FINANCE_SHARE * capacity,
        growth_per_month=growth_per_month,
        cycle=cycle,
        weekend_factor=weekend_factor,
        noise_shape=noise_shape,
        bursts=bursts,
    )


def _network(
    *,
    scale: float,
    utilisation: float,
    rate_factor: float = 1.0,
    cycle: tuple[float, ...] = DAY_CYCLE,
    weekend_factor: float = 1.0,
    noise_shape: float = 0.0,
    bursts: tuple[Window, ...] = (),
) -> tuple[WarehouseModel, ...]:
    """The five warehouses of NETWORK, each with capacity = mean demand / utilisation."""
    _check_scale(scale)
    models = []
    for wh, rate in NETWORK:
        orders = rate * rate_factor * scale
        models.append(
            _model(
                wh,
                orders,
                orders / utilisation,
                cycle=cycle,
                weekend_factor=weekend_factor,
                noise_shape=noise_shape,
                bursts=bursts,
            )
        )
    return tuple(models)


def _scenario(
    name: str,
    description: str,
    duration_ms: int,
    models: tuple[WarehouseModel, ...],
    seed: int,
    malformed_share: float = 0.0,
) -> Scenario:
    return Scenario(
        name=name,
        description=description,
        start_ms=START_MS,
        duration_ms=duration_ms,
        warehouses=tuple(m.warehouse for m in models),
        models=models,
        seed=seed,
        malformed_share=malformed_share,
    )


def steady(
    seed: int = 0, days: float | None = None, scale: float = 1.0, *, utilisation: float = 0.6
) -> Scenario:
    """Five warehouses for 2 days, demand at 60% of dispatch capacity with the daily cycle
    (97% in the busiest minute). Nothing should alert."""
    return _scenario(
        "steady",
        "5 warehouses, 2 days, daily cycle, dispatch at ~60% of capacity: nothing should alert",
        _duration_ms(days, 2),
        _network(scale=scale, utilisation=utilisation),
        seed,
    )


def jd2008(
    seed: int = 0, days: float | None = None, scale: float = 1.0, *, growth_per_month: float = 0.3
) -> Scenario:
    """The 2008 story over 60 days from 2008-03-01 (day 0): orders grow 30% a month (continuous),
    the dispatch teams are frozen at their March size, so orders placed per day reach dispatch
    capacity on day 30.0 at BJ-01, SH-02 and GZ-03, on day 24.0 at CD-04 and on day 40.0 at WH-05
    (C = orders_per_hour * 1.3 ** (day / 30), see `JD2008_SITES` and `crossing_day`).

    Before that, evening peaks (1.6x the daily mean) briefly exceed capacity and drain overnight.
    About 3% of orders are cancelled, so the backlog grows for good from about 3.5 days later
    (day 33.5, 27.5 at CD-04, 43.5 at WH-05); then waits grow, late-delivery complaints and
    customers chasing undispatched orders swamp the fixed customer-service team (its backlog
    takes off around day 40-45; day ~52 at WH-05), and refunds pile up behind the fixed finance
    pace a few days later. About 300k messages at scale 1 (`days` and `scale` change that in
    proportion; the crossing days do not depend on either)."""
    _check_scale(scale)
    models = tuple(
        _model(
            wh,
            rate * scale,
            rate * scale * (1 + growth_per_month) ** (day / MONTH_DAYS),
            growth_per_month=growth_per_month,
        )
        for wh, rate, day in JD2008_SITES
    )
    return _scenario(
        "jd2008",
        "2008: orders +30%/month, hiring frozen; demand passes dispatch capacity ~day 30 "
        "and the backlog cascades into service and refunds",
        _duration_ms(days, 60),
        models,
        seed,
    )


def flash_sale(
    seed: int = 0, days: float | None = None, scale: float = 1.0, *, factor: float = 3.0
) -> Scenario:
    """2 days at 45% of capacity with a mild daily cycle; at the midpoint a network-wide promotion
    multiplies orders by 3 for 20-40 minutes (drawn from the seed). Dispatch clears it within
    the hour: benign."""
    duration = _duration_ms(days, 2)
    at = START_MS + duration // 2
    at -= at % MINUTE_MS
    minutes = random.Random(f"flash_sale:{seed}").randint(20, 40)
    burst = (at, at + minutes * MINUTE_MS, factor)
    return _scenario(
        "flash_sale",
        "a 20-40 minute burst of 3x orders that dispatch absorbs within an hour: benign",
        duration,
        _network(scale=scale, utilisation=0.45, cycle=blend(DAY_CYCLE, 0.5), bursts=(burst,)),
        seed,
    )


def night_lull(seed: int = 0, days: float | None = None, scale: float = 1.0) -> Scenario:
    """2 days with a strong daily cycle: nights (01:00-05:00 local) near zero, busy days at up
    to ~85% of capacity. A quiet night is not a silent warehouse: benign."""
    return _scenario(
        "night_lull",
        "strong daily cycle, nights near zero: benign",
        _duration_ms(days, 2),
        _network(scale=scale, utilisation=0.5, cycle=NIGHT_LULL_CYCLE),
        seed,
    )


def weekend_dip(seed: int = 0, days: float | None = None, scale: float = 1.0) -> Scenario:
    """10 days from Saturday 2008-03-01: weekend orders at 40% of weekdays, weekdays at 60% of
    capacity. A quiet weekend is not an outage: benign."""
    return _scenario(
        "weekend_dip",
        "10 days, weekends at 40% of weekdays: benign",
        _duration_ms(days, 10),
        _network(scale=scale, utilisation=0.6, rate_factor=0.5, weekend_factor=0.4),
        seed,
    )


def noisy_steady(seed: int = 0, days: float | None = None, scale: float = 1.0) -> Scenario:
    """2 days at 80% of capacity, a mild daily cycle, and heavy noise: every 5 minutes the
    order rate is multiplied by a Gamma(3, 1/3) draw (mean 1, CV 0.58). Benign."""
    return _scenario(
        "noisy_steady",
        "dispatch at ~80% of capacity with heavy noise around the mean: benign",
        _duration_ms(days, 2),
        _network(scale=scale, utilisation=0.8, cycle=blend(DAY_CYCLE, 0.3), noise_shape=3.0),
        seed,
    )


def stall(
    seed: int = 0,
    days: float | None = None,
    scale: float = 1.0,
    *,
    warehouse: str = "SH-02",
    factor: float = 0.1,
    hours: float = 6.0,
    from_day: float | None = None,
) -> Scenario:
    """`steady`, but from the midpoint (or `from_day`) `warehouse` dispatches at 10% of
    capacity for 6 hours; its backlog builds, then drains over about half a day."""
    duration = _duration_ms(days, 2)
    at = START_MS + (duration // 2 if from_day is None else round(from_day * DAY_MS))
    models = _network(scale=scale, utilisation=0.6)
    _known(warehouse, models)
    window = (at, at + round(hours * HOUR_MS), factor)
    return _scenario(
        "stall",
        f"steady, but {warehouse} dispatches at {factor:.0%} of capacity for {hours:g} h midway",
        duration,
        tuple(replace(m, outages=(window,)) if m.warehouse == warehouse else m for m in models),
        seed,
    )


def silent(
    seed: int = 0, days: float | None = None, scale: float = 1.0, *, warehouse: str = "GZ-03"
) -> Scenario:
    """`steady`, but `warehouse` sends nothing at all from the midpoint on; the others go on."""
    duration = _duration_ms(days, 2)
    models = _network(scale=scale, utilisation=0.6)
    _known(warehouse, models)
    at = START_MS + duration // 2
    return _scenario(
        "silent",
        f"steady, but {warehouse} stops sending anything midway while the others go on",
        duration,
        tuple(replace(m, silent_from_ms=at) if m.warehouse == warehouse else m for m in models),
        seed,
    )


def malformed(
    seed: int = 0, days: float | None = None, scale: float = 1.0, *, share: float = 0.05
) -> Scenario:
    """`steady` for 2 days, with about 5% extra messages that break the contract (one rule each,
    named in `Malformed.why`); the valid events alone are exactly a consistent stream."""
    return _scenario(
        "malformed",
        "steady traffic plus ~5% malformed messages, each breaking one contract rule",
        _duration_ms(days, 2),
        _network(scale=scale, utilisation=0.6),
        seed,
        malformed_share=share,
    )


def _known(warehouse: str, models: tuple[WarehouseModel, ...]) -> None:
    names = [m.warehouse for m in models]
    if warehouse not in names:
        raise ValueError(f"unknown warehouse {warehouse!r}; this scenario has {', '.join(names)}")


SCENARIOS: Final[dict[str, Callable[..., Scenario]]] = {
    "steady": steady,
    "jd2008": jd2008,
    "flash_sale": flash_sale,
    "night_lull": night_lull,
    "weekend_dip": weekend_dip,
    "noisy_steady": noisy_steady,
    "stall": stall,
    "silent": silent,
    "malformed": malformed,
}


def build(name: str, *, seed: int = 0, days: float | None = None, scale: float = 1.0) -> Scenario:
    """The scenario called `name`; ValueError listing the known names otherwise."""
    factory = SCENARIOS.get(name)
    if factory is None:
        raise ValueError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
    return factory(seed=seed, days=days, scale=scale)


def _counts(scenario: Scenario) -> Counter[str]:
    counts: Counter[str] = Counter()
    for message in scenario.events():
        if isinstance(message, Malformed):
            counts["malformed"] += 1
        else:
            counts[message.flow] += 1
    return counts


def _main(names: list[str]) -> None:
    for name in names or list(SCENARIOS):
        scenario = build(name)
        counts = _counts(scenario)
        total = sum(counts.values())
        print(f"{name}: {total} messages over {scenario.duration_ms / DAY_MS:g} days")
        for flow, n in sorted(counts.items()):
            print(f"  {flow:24} {n:8d}")


if __name__ == "__main__":
    _main(sys.argv[1:])
