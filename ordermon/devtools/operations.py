"""One realistic traffic model of warehouse operations: pure, seeded, deterministic.

Each `Site` is a warehouse with a weekly `Calendar` (shifts per weekday, carrier pickup times,
holidays), an order curve (low 02-06, a lunch bump, the peak 20-22, weekends +20%, day-to-day and
quarter-hour noise on top of Poisson arrivals, optional daily growth) and four teams, each serving
its queue **in order (FIFO) at its capacity while on duty**:

- the **dispatch** team packs orders during its shifts (an order can be packed 10 minutes after it
  was placed at the earliest); a parcel is scanned ``dispatched`` at once, or, at a site with
  carrier pickups, when the next pickup collects it (scans spread over 20 minutes);
  about 3% of customers cancel within minutes, which succeeds while the order is not packed;
- **carriers** deliver 1-3 days later between 08:00 and 21:00, ~3% of deliveries fail;
- the **service desk** (09:00-21:00 on open days) resolves complaints, opened by ~2% of
  customers some hours after the delivery;
- **finance** (weekdays 10:00-18:00) pays refunds, requested for half the resolved complaints
  (~1% of orders).

Teams are sized from the expected weekly load with a headroom (dispatch 15%, desk and finance
50%) over their working minutes; capacity per minute is a Poisson draw around that pace.

Events come out as the contract's wire JSON, keyed by warehouse, in **arrival order**: each topic
of each site reaches the consumer 0-60 s after the event happened (the lag drifts every 10 minutes,
order within one topic and key is kept), so topics are up to 60 s out of order with each other.

Faults are parameters of a site (`dispatch_windows`, `complaint_steps`, `silent_from_ms`,
`growth_per_day`); a `Scenario` carries the sites and its ground truth (`Truth`). Times that only
the simulation knows (when a backlog has cleared after a fault) are filled in as the run goes:
read `Run.truths` after the events are exhausted.

A scenario starts empty (nothing in flight: deliveries begin a day in, complaints behind them)
unless it has `warmup_days`: those are simulated before `start_ms` and not sent, so parcels,
complaints and refunds are already under way when the stream begins, as in a real deployment.

Nothing here reads a clock or does I/O. Time of day is the site's local time (`utc_offset_ms`,
UTC by default). Times are integer milliseconds since the epoch.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final, NamedTuple

MINUTE_MS: Final = 60_000
HOUR_MS: Final = 60 * MINUTE_MS
DAY_MS: Final = 24 * HOUR_MS
START_MS: Final = 1_772_409_600_000  # 2026-03-02T00:00:00Z, a Monday
TOPICS: Final = ("orders", "dispatches", "complaints", "refunds")

# Orders by hour of the day (local), normalised to a mean of 1: low 02-06, lunch bump, peak 20-22.
ORDER_CURVE: Final = (
    0.55, 0.3, 0.15, 0.1, 0.1, 0.15, 0.3, 0.55, 0.8, 1.0, 1.1, 1.15,
    1.4, 1.35, 1.1, 1.05, 1.05, 1.1, 1.3, 1.6, 1.95, 2.0, 1.65, 1.1,
)  # fmt: skip
WEEKEND_FACTOR: Final = 1.2
DAY_NOISE_SHAPE: Final = 400.0  # Gamma(k, 1/k) per day: CV 5%
BLOCK_NOISE_SHAPE: Final = 25.0  # Gamma(k, 1/k) per 15 minutes: CV 20%
BLOCK_MS: Final = 15 * MINUTE_MS
PICK_LAG_MS: Final = 10 * MINUTE_MS  # an order can be packed this long after it was placed
SCAN_SPREAD_MS: Final = 20 * MINUTE_MS  # a pickup's scans spread over this long
CANCEL_SHARE: Final = 0.03
CANCEL_MEAN_MS: Final = 10 * MINUTE_MS
FAIL_SHARE: Final = 0.03
COMPLAINT_SHARE: Final = 0.02
COMPLAINT_MEAN_DELAY_MS: Final = 4 * HOUR_MS
REFUND_SHARE_OF_COMPLAINTS: Final = 0.5
DELIVERY_HOURS: Final = (8, 21)
LAG_MAX_MS: Final = 60_000  # arrival up to this long after the event happened
LAG_STEP_MS: Final = 10 * MINUTE_MS
CARRIERS: Final = ("DHL", "UPS", "GLS", "DPD")
REASONS: Final = ("late_delivery", "damaged", "wrong_item", "service", "other")
LATE_GRACE_HOURS: Final = 4.0  # a parcel that waited longer than this for dispatch ...
LATE_MAX: Final = 0.45  # ... draws late complaints (`Site.late_complaints` per hour), capped

Shifts = tuple[tuple[int, int], ...]  # (from_minute, to_minute) of the local day, to <= 1440
Window = tuple[int, int, float]  # [from_ms, to_ms) and a factor


def hours(*spans: tuple[float, float]) -> Shifts:
    """Shifts from (from_hour, to_hour) pairs: ``hours((7, 15), (15, 23))``."""
    return tuple((round(a * 60), round(b * 60)) for a, b in spans)


TWO_SHIFTS: Final = hours((7, 15), (15, 23))


def week(shifts: Shifts, closed: tuple[int, ...] = (), **per_day: Shifts) -> tuple[Shifts, ...]:
    """Seven days (Monday first) of `shifts`, `closed` weekdays (0 = Monday) with none, and
    named days overriding: ``week(TWO_SHIFTS, closed=(6,), sat=hours((8, 14)))``."""
    names = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    unknown = set(per_day) - set(names)
    if unknown:
        raise ValueError(f"unknown weekday {sorted(unknown)[0]!r}; use {', '.join(names)}")
    days = [() if d in closed else shifts for d in range(7)]
    for name, value in per_day.items():
        days[names.index(name)] = value
    return tuple(days)


@dataclass(frozen=True, slots=True)
class Calendar:
    """When a team works: shifts per weekday (Monday first; empty = closed) and holidays
    (days since the scenario's start on which nobody works)."""

    days: tuple[Shifts, ...]
    holidays: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if len(self.days) != 7:
            raise ValueError(f"a calendar has 7 weekdays, got {len(self.days)}")
        for shifts in self.days:
            spans = sorted(shifts)
            for a, b in spans:
                if not 0 <= a < b <= 1440:
                    raise ValueError(f"shift {a}-{b} is not within one day (minutes 0-1440)")
            for (_, b1), (a2, _) in itertools.pairwise(spans):
                if a2 < b1:
                    raise ValueError(f"overlapping shifts {spans}")

    def minutes_per_week(self) -> int:
        return sum(b - a for shifts in self.days for a, b in shifts)


DISPATCH_WEEK: Final = Calendar(week(TWO_SHIFTS))
DESK_WEEK: Final = Calendar(week(hours((9, 21))))
FINANCE_WEEK: Final = Calendar(week(hours((10, 18)), closed=(5, 6)))


@dataclass(frozen=True, slots=True)
class Site:
    """One warehouse. `orders_per_day` is a weekday's mean at the start (weekends x1.2)."""

    warehouse: str
    orders_per_day: float
    dispatch: Calendar = DISPATCH_WEEK
    pickups: tuple[int, ...] = ()  # minutes of the local day; empty: scanned when packed
    pickup_late_ms: int = 0  # each truck comes up to this late (uniform), and takes what waits
    desk: Calendar = DESK_WEEK
    finance: Calendar = FINANCE_WEEK
    dispatch_headroom: float = 1.15  # dispatch capacity / expected weekly orders
    desk_headroom: float = 1.5
    finance_headroom: float = 1.5
    dispatch_per_day: float | None = None  # capacity per working day; None: from the headroom
    capacity_jitter: float = 0.0  # each day's dispatch capacity x U(1 - j, 1 + j)
    growth_per_day: float = 0.0  # orders x (1 + g) ** days
    dispatch_windows: tuple[Window, ...] = ()  # dispatch capacity x factor within [from, to)
    complaint_steps: tuple[tuple[int, float], ...] = ()  # (from_ms, share of orders)
    silent_from_ms: int | None = None  # nothing at all is sent from this time on
    utc_offset_ms: int = 0
    # (from_ms, shift_ms): the local clock moves by shift_ms at from_ms (daylight saving time:
    # +1 h in spring, -1 h in autumn); every schedule and curve follows the local clock
    clock_change: tuple[int, int] | None = None
    # The shape of demand: hourly weights (local time), weekends, Gamma noise (shape; 0: none)
    # per day and per quarter-hour on top of the Poisson arrivals, promotions (orders x factor).
    curve: tuple[float, ...] = ORDER_CURVE
    weekend_factor: float = WEEKEND_FACTOR
    day_noise: float = DAY_NOISE_SHAPE
    block_noise: float = BLOCK_NOISE_SHAPE
    demand_windows: tuple[Window, ...] = ()
    # Fixed paces of the desk and finance per working day (None: sized from the load).
    desk_per_day: float | None = None
    finance_per_day: float | None = None
    # Complaint probability added per hour a parcel waited for dispatch beyond 4 hours.
    late_complaints: float = 0.0
    # Time constants: in transit (uniform), delivery hours, complaint delay (mean), pick lag,
    # and the arrival lag of each topic (uniform 0 to this, drifting every 10 minutes).
    transit_ms: tuple[int, int] = (DAY_MS, 3 * DAY_MS)
    delivery_hours: tuple[int, int] = DELIVERY_HOURS
    complaint_delay_ms: int = COMPLAINT_MEAN_DELAY_MS
    pick_lag_ms: int = PICK_LAG_MS
    lag_max_ms: int = LAG_MAX_MS

    def offset_ms(self, t: int) -> int:
        """The site's local time minus UTC at `t`."""
        change = self.clock_change
        if change is not None and t >= change[0]:
            return self.utc_offset_ms + change[1]
        return self.utc_offset_ms

    def __post_init__(self) -> None:
        if len(self.curve) != 24 or min(self.curve) < 0 or sum(self.curve) <= 0:
            raise ValueError("an order curve is 24 non-negative hourly weights, not all zero")

    def weekly_orders(self, day: float = 0.0) -> float:
        """Expected orders in a week that starts `day` days after the start."""
        return (
            self.orders_per_day
            * (5 + 2 * self.weekend_factor)
            * math.pow(1 + self.growth_per_day, day)
        )

    def capacity_per_working_day(self) -> float:
        """Parcels the dispatch team packs in a full working day (before faults)."""
        if self.dispatch_per_day is not None:
            return self.dispatch_per_day
        working_days = sum(1 for shifts in self.dispatch.days if shifts)
        return self.dispatch_headroom * self.weekly_orders() / working_days

    def capacity_per_day(self) -> float:
        """Dispatch capacity averaged over the calendar days of a week."""
        working_days = sum(1 for shifts in self.dispatch.days if shifts)
        return self.capacity_per_working_day() * working_days / 7


@dataclass(frozen=True, slots=True)
class Truth:
    """What should happen: `kind` fires for `warehouse` (``*``: the network) between
    `fire_from_ms` and `fire_by_ms` (None: any time after `fire_from_ms`), and is a true page
    until `cleared_ms` (None: the run's end). `fault_end_ms` is when the fault itself stopped
    (None: it lasts to the end); `cleared_ms` when its effect was gone (the team caught up), set
    by the run. `also` are other kinds that are true pages for this fault. `value` is a truth to
    compare a signal against (the capacity per day for `forecast_overload`). Pages of a kind in
    `also` count as true from `fault_start_ms`."""

    kind: str
    warehouse: str
    fault_start_ms: int
    fire_from_ms: int
    fire_by_ms: int | None
    fault_end_ms: int | None = None
    cleared_ms: int | None = None
    also: tuple[str, ...] = ()
    value: float | None = None
    label: str = ""
    required: bool = True  # False: a tolerated page, not a fault recall counts


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    sites: tuple[Site, ...]
    days: float
    seed: int = 0
    start_ms: int = START_MS
    truths: tuple[Truth, ...] = ()
    warmup_days: float = 0.0  # simulated before start_ms, not sent: parcels already in flight
    malformed_share: float = 0.0  # share of all messages that break the contract (`why`)
    # what the sites declare in the policy file (`ordermon.policy`'s mapping: their calendars),
    # as an operations team that knows its holidays would; the suite replays with it
    policy: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.malformed_share < 1.0:
            raise ValueError(f"malformed_share must be in [0, 1), got {self.malformed_share}")
        if len(set(self.warehouses)) != len(self.sites):
            raise ValueError("every site of a scenario needs a warehouse id of its own")

    @property
    def end_ms(self) -> int:
        return self.start_ms + round(self.days * DAY_MS)

    @property
    def warehouses(self) -> tuple[str, ...]:
        return tuple(s.warehouse for s in self.sites)

    def run(self) -> Run:
        return Run(self)

    def wire(self) -> Iterator[tuple[str, bytes, bytes]]:
        """(topic, key, value) of every event, in arrival order."""
        return self.run().wire()


class Message(NamedTuple):
    topic: str
    key: bytes
    value: bytes
    occurred_at_ms: int
    arrival_ms: int
    why: str = ""  # a malformed message: the `RejectReason` value the decoder must give


class Run:
    """One run of a scenario: `messages()` (or `wire()`) once; then `truths` is complete."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.truths: list[Truth] = list(scenario.truths)
        self.counts: dict[tuple[str, str], int] = {}  # (warehouse, topic) -> events

    def wire(self) -> Iterator[tuple[str, bytes, bytes]]:
        for m in self.messages():
            yield m.topic, m.key, m.value

    def messages(self) -> Iterator[Message]:
        """Every message in arrival order (with the malformed ones, if the scenario has any)."""
        sc = self.scenario
        if not sc.malformed_share:
            return self._messages()
        from ordermon.devtools.malformed import mixed_in  # it imports Message

        return mixed_in(self._messages(), sc.malformed_share, sc.warehouses, f"{sc.name}:{sc.seed}")

    def _messages(self) -> Iterator[Message]:
        sc = self.scenario
        sims = [_SiteSim(sc, site, self) for site in sc.sites]
        heap: list[tuple[int, int, str, bytes, bytes, int]] = []
        seq = 0
        t = sc.start_ms - round(sc.warmup_days * DAY_MS / MINUTE_MS) * MINUTE_MS
        while t < sc.end_ms:
            for sim in sims:
                for occurred, arrival, topic, value in sim.minute(t):
                    seq += 1
                    heapq.heappush(heap, (arrival, seq, topic, sim.key, value, occurred))
            while heap and heap[0][0] < t:
                arrival, _, topic, key, value, occurred = heapq.heappop(heap)
                yield Message(topic, key, value, occurred, arrival)
            t += MINUTE_MS
        while heap:
            arrival, _, topic, key, value, occurred = heapq.heappop(heap)
            if occurred < sc.end_ms:
                yield Message(topic, key, value, occurred, arrival)
        for sim in sims:
            sim.finish()


# --------------------------------------------------------------------------------------------
# One site's simulation, a minute at a time


@lru_cache(maxsize=4)
def minute_prefix(t: int) -> str:
    """``YYYY-MM-DDTHH:MM:`` of the minute at `t` (UTC), shared by every site of a run."""
    return datetime.fromtimestamp(t / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:")


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw (Knuth below 30, normal approximation above)."""
    if lam <= 0:
        return 0
    if lam < 30:
        limit = math.exp(-lam)
        k = 0
        p = rng.random()
        while p > limit:
            k += 1
            p *= rng.random()
        return k
    return max(0, round(rng.gauss(lam, math.sqrt(lam))))


def _duty(calendar: Calendar) -> tuple[bytes, ...]:
    """Per weekday, 1440 flags: is the team on duty in that minute."""
    out = []
    for shifts in calendar.days:
        flags = bytearray(1440)
        for a, b in shifts:
            flags[a:b] = b"\x01" * (b - a)
        out.append(bytes(flags))
    return tuple(out)


def _rate_per_duty_minute(calendar: Calendar, weekly_load: float, headroom: float) -> float:
    minutes = calendar.minutes_per_week()
    return 0.0 if minutes == 0 else headroom * weekly_load / minutes


def _per_duty_minute(calendar: Calendar, per_working_day: float) -> float:
    """The pace per minute on duty of a team that serves `per_working_day` in a working day."""
    working_days = sum(1 for shifts in calendar.days if shifts)
    return per_working_day / max(1.0, calendar.minutes_per_week() / max(1, working_days))


@lru_cache(maxsize=32)
def minute_curve(curve: tuple[float, ...]) -> tuple[float, ...]:
    """1440 weights of the minutes of a day, mean 1, linear between the hours' starts."""
    mean = sum(curve) / 24
    return tuple(
        (curve[(m // 60) % 24] * (1 - (m % 60) / 60) + curve[(m // 60 + 1) % 24] * (m % 60) / 60)
        / mean
        for m in range(1440)
    )


_WAITING, _PACKED, _CANCELLED, _DISPATCHED = 0, 1, 2, 3
# scheduled happenings: (ms, seq, kind, number)
_CANCEL, _SCAN, _DELIVER, _FAIL, _OPEN, _REQUEST, _COLLECT = range(7)


class _SiteSim:
    def __init__(self, sc: Scenario, site: Site, run: Run) -> None:
        self.site = site
        self.run = run
        self.wh = site.warehouse
        self.key = site.warehouse.encode()
        self.rng = random.Random(f"{sc.name}:{sc.seed}:{site.warehouse}")
        self.lag_rng = random.Random(f"{sc.name}:{sc.seed}:{site.warehouse}:lag")
        self.start = sc.start_ms
        self.prefix = f"{sc.name[:12]}{sc.seed}-{site.warehouse}-"
        self.base_per_min = site.orders_per_day / 1440
        self.dispatch_duty = _duty(site.dispatch)
        self.desk_duty = _duty(site.desk)
        self.finance_duty = _duty(site.finance)
        self.curve = minute_curve(site.curve)
        self.pack_rate = _per_duty_minute(site.dispatch, site.capacity_per_working_day())
        weekly = site.weekly_orders()
        complaints = weekly * COMPLAINT_SHARE
        self.desk_rate = (
            _rate_per_duty_minute(site.desk, complaints, site.desk_headroom)
            if site.desk_per_day is None
            else _per_duty_minute(site.desk, site.desk_per_day)
        )
        refunds = complaints * REFUND_SHARE_OF_COMPLAINTS
        self.finance_rate = (
            _rate_per_duty_minute(site.finance, refunds, site.finance_headroom)
            if site.finance_per_day is None
            else _per_duty_minute(site.finance, site.finance_per_day)
        )
        self.pickups = frozenset(site.pickups)
        # state
        self.n_events = 0
        self.placed_ms: list[int] = []
        self.state = bytearray()
        self.waiting: deque[int] = deque()
        self.live_waiting = 0
        self.pile: list[int] = []
        self.desk_q: deque[tuple[int, int, int]] = deque()  # (opened_ms, complaint, order)
        self.finance_q: deque[tuple[int, int, int]] = deque()
        self.n_complaints = 0
        self.n_refunds = 0
        self.future: dict[int, list[tuple[int, int, int, int]]] = {}
        self.seq = 0
        self.day = -1
        self.day_noise = 1.0
        self.day_capacity = 1.0
        self.block = -1
        self.block_noise = 1.0
        self.lag = [0] * 4
        self.last_arrival = [0] * 4
        self.lag_step = -1
        self.out: list[tuple[int, int, str]] = []  # (occurred, topic index, value)
        self.minute_prefix = ""
        self.silent = site.silent_from_ms
        # faults whose clearing this site watches: truth index -> (queue, after_ms)
        self.watch: dict[int, tuple[str, int]] = {}
        for i, truth in enumerate(run.truths):
            if truth.warehouse == self.wh and truth.fault_end_ms is not None:
                queue = "service" if truth.kind == "service_backpressure" else "dispatch"
                self.watch[i] = (queue, truth.fault_end_ms)

    # -- helpers

    def schedule(self, ms: int, kind: int, number: int, extra: int = 0) -> None:
        self.seq += 1
        self.future.setdefault(ms // MINUTE_MS, []).append((ms, kind, number, extra))

    def stamp(self, ms: int) -> str:
        sec, milli = divmod(ms % MINUTE_MS, 1000)
        return f"{self.minute_prefix}{sec:02d}.{milli:03d}Z"

    def emit(self, ms: int, topic: int, body: str) -> None:
        self.n_events += 1
        if ms < self.start:
            return  # the warm-up is simulated, not sent
        value = (
            f'{{"event_id":"{self.prefix}e{self.n_events}",{body},'
            f'"warehouse":"{self.wh}","occurred_at":"{self.stamp(ms)}"}}'
        )
        self.out.append((ms, topic, value))

    def order_body(self, status: str, n: int) -> str:
        return f'"status":"{status}","order_id":"{self.prefix}o{n}"'

    def local(self, t: int) -> tuple[int, int, int]:
        """(day since start, weekday 0 = Monday, minute of the day) in local time."""
        local = t + self.site.offset_ms(t)
        day_number = local // DAY_MS
        return (t - self.start) // DAY_MS, (day_number + 3) % 7, (local % DAY_MS) // MINUTE_MS

    def on(self, duty: tuple[bytes, ...], calendar: Calendar, day: int, wd: int, mod: int) -> bool:
        return bool(duty[wd][mod]) and day not in calendar.holidays

    def on_day(self, calendar: Calendar, day: int, wd: int) -> bool:
        return bool(calendar.days[wd]) and day not in calendar.holidays

    # -- one minute

    def minute(self, t: int) -> list[tuple[int, int, str, bytes]]:
        if self.silent is not None and t >= self.silent:
            return []
        self.minute_prefix = minute_prefix(t)
        day, wd, mod = self.local(t)
        rng = self.rng
        site = self.site
        if day != self.day:
            self.day = day
            k = site.day_noise
            self.day_noise = rng.gammavariate(k, 1 / k) if k else 1.0
            j = site.capacity_jitter
            self.day_capacity = 1 + j * (2 * rng.random() - 1) if j else 1.0
        block = t // BLOCK_MS
        if block != self.block:
            self.block = block
            k = site.block_noise
            self.block_noise = rng.gammavariate(k, 1 / k) if k else 1.0
        self.orders(t, day, wd, mod)
        self.pack(t, day, wd, mod)
        if self.pickups and mod in self.pickups and self.on_day(self.site.dispatch, day, wd):
            late = self.site.pickup_late_ms
            if late:
                self.schedule(t + int(self.rng.random() * late), _COLLECT, 0)
            else:
                self.collect(t)
        self.serve_desk(t, day, wd, mod)
        self.serve_finance(t, day, wd, mod)
        self.happenings(t)
        return self.arrivals(t)

    def orders(self, t: int, day: int, wd: int, mod: int) -> None:
        site = self.site
        rate = self.base_per_min * self.curve[mod] * self.day_noise * self.block_noise
        if wd >= 5:
            rate *= site.weekend_factor
        if site.growth_per_day:
            rate *= (1 + site.growth_per_day) ** ((t - self.start) / DAY_MS)
        for a, b, factor in site.demand_windows:
            if a <= t < b:
                rate *= factor
        rng = self.rng
        for offset in sorted(int(rng.random() * MINUTE_MS) for _ in range(poisson(rng, rate))):
            ms = t + offset
            n = len(self.placed_ms)
            self.placed_ms.append(ms)
            self.state.append(_WAITING)
            self.waiting.append(n)
            self.live_waiting += 1
            amount = 15 + (n * 7919 % 18_000) / 100
            self.emit(ms, 0, f'{self.order_body("placed", n)},"amount":{amount:.2f}')
            if rng.random() < CANCEL_SHARE:
                self.schedule(ms + 1 + int(rng.expovariate(1 / CANCEL_MEAN_MS)), _CANCEL, n)

    def happenings(self, t: int) -> None:
        """Whatever was scheduled for this minute, including what it schedules for it."""
        while due := self.future.pop(t // MINUTE_MS, None):
            for item in sorted(due):
                self.happen(*item)

    def happen(self, ms: int, kind: int, n: int, extra: int) -> None:
        rng = self.rng
        if kind == _CANCEL:
            if self.state[n] == _WAITING:
                self.state[n] = _CANCELLED
                self.live_waiting -= 1
                self.emit(ms, 0, self.order_body("cancelled", n))
        elif kind == _COLLECT:
            self.collect(ms)
        elif kind == _SCAN:
            self.state[n] = _DISPATCHED
            carrier = CARRIERS[n % len(CARRIERS)]
            self.emit(ms, 1, f'{self.order_body("dispatched", n)},"carrier":"{carrier}"')
            self.deliver_later(ms, n)
        elif kind in (_DELIVER, _FAIL):
            self.emit(ms, 1, self.order_body("delivered" if kind == _DELIVER else "failed", n))
            share = self.complaint_share(ms)
            late = self.late_share(extra)
            u = rng.random()
            if u < share + late:
                delay = 1 + int(rng.expovariate(1 / self.site.complaint_delay_ms))
                self.schedule(ms + delay, _OPEN, n, int(kind == _FAIL or u >= share))
        elif kind == _OPEN:
            self.n_complaints += 1
            c = self.n_complaints
            reason = "late_delivery" if extra else REASONS[1 + c % 4]
            self.emit(
                ms,
                2,
                f'"status":"opened","order_id":"{self.prefix}o{n}",'
                f'"complaint_id":"{self.prefix}c{c}","reason":"{reason}"',
            )
            self.desk_q.append((ms, c, n))
        else:  # _REQUEST
            self.n_refunds += 1
            r = self.n_refunds
            self.emit(ms, 3, self.refund_body("requested", n, r))
            self.finance_q.append((ms, r, n))

    def refund_body(self, status: str, n: int, r: int) -> str:
        amount = 15 + (n * 7919 % 18_000) / 100
        return (
            f'"status":"{status}","order_id":"{self.prefix}o{n}",'
            f'"refund_id":"{self.prefix}r{r}","amount":{amount:.2f}'
        )

    def late_share(self, waited_ms: int) -> float:
        """The added complaint probability of a parcel that waited `waited_ms` for dispatch."""
        per_hour = self.site.late_complaints
        if not per_hour:
            return 0.0
        return min(LATE_MAX, per_hour * max(0.0, waited_ms / HOUR_MS - LATE_GRACE_HOURS))

    def complaint_share(self, ms: int) -> float:
        share = COMPLAINT_SHARE
        for since, value in self.site.complaint_steps:
            if ms >= since:
                share = value
        return share

    def deliver_later(self, ms: int, n: int) -> None:
        rng, site = self.rng, self.site
        low, high = site.transit_ms
        at = ms + low + int(rng.random() * (high - low))
        local_hour = ((at + site.offset_ms(at)) % DAY_MS) / HOUR_MS
        first, last = site.delivery_hours
        if not first <= local_hour < last:
            wait = (first - local_hour) % 24
            at += int(wait * HOUR_MS) + int(rng.random() * 4 * HOUR_MS)
        kind = _FAIL if rng.random() < FAIL_SHARE else _DELIVER
        self.schedule(at, kind, n, ms - self.placed_ms[n])

    def dispatch_factor(self, t: int) -> float:
        factor = self.day_capacity
        for a, b, f in self.site.dispatch_windows:
            if a <= t < b:
                factor *= f
        return factor

    def pack(self, t: int, day: int, wd: int, mod: int) -> None:
        if not self.on(self.dispatch_duty, self.site.dispatch, day, wd, mod):
            return
        capacity = poisson(self.rng, self.pack_rate * self.dispatch_factor(t))
        ready_before = t - self.site.pick_lag_ms
        waiting, state, placed = self.waiting, self.state, self.placed_ms
        packed: list[int] = []
        while len(packed) < capacity and waiting:
            n = waiting[0]
            if state[n] == _CANCELLED:
                waiting.popleft()
                continue
            if placed[n] >= ready_before:
                break
            waiting.popleft()
            state[n] = _PACKED
            packed.append(n)
        self.live_waiting -= len(packed)
        if len(packed) < capacity:
            self.caught_up(t, "dispatch")
        if self.pickups:
            self.pile.extend(packed)
            return
        for i, n in enumerate(packed):
            self.schedule(t + (i * MINUTE_MS) // max(1, len(packed)), _SCAN, n)

    def collect(self, t: int) -> None:
        pile, self.pile = self.pile, []
        for i, n in enumerate(pile):
            self.schedule(t + (i * SCAN_SPREAD_MS) // len(pile), _SCAN, n)
        self.caught_up(t + SCAN_SPREAD_MS, "pickup")

    def serve(
        self, t: int, rate: float, q: deque[tuple[int, int, int]]
    ) -> list[tuple[int, int, int]]:
        """A team on duty serves its queue in order at its capacity this minute: the items done,
        each as (time done, item id, order)."""
        capacity = poisson(self.rng, rate)
        done: list[tuple[int, int, int]] = []
        while len(done) < capacity and q and q[0][0] < t:
            _, item, n = q.popleft()
            done.append((t + ((len(done) + 1) * MINUTE_MS) // (capacity + 1), item, n))
        return done if len(done) == capacity else [*done, (-1, -1, -1)]

    def serve_desk(self, t: int, day: int, wd: int, mod: int) -> None:
        if not self.on(self.desk_duty, self.site.desk, day, wd, mod):
            return
        for ms, c, n in self.serve(t, self.desk_rate, self.desk_q):
            if ms < 0:  # capacity to spare
                self.caught_up(t, "service")
                break
            self.emit(
                ms,
                2,
                f'"status":"resolved","order_id":"{self.prefix}o{n}",'
                f'"complaint_id":"{self.prefix}c{c}"',
            )
            if self.rng.random() < REFUND_SHARE_OF_COMPLAINTS:
                self.schedule(ms + MINUTE_MS + int(self.rng.random() * 9 * MINUTE_MS), _REQUEST, n)

    def serve_finance(self, t: int, day: int, wd: int, mod: int) -> None:
        if not self.on(self.finance_duty, self.site.finance, day, wd, mod):
            return
        for ms, r, n in self.serve(t, self.finance_rate, self.finance_q):
            if ms >= 0:
                self.emit(ms, 3, self.refund_body("completed", n, r))

    def caught_up(self, t: int, queue: str) -> None:
        """The team had capacity to spare this minute: any fault on this queue that has ended
        has now cleared. At a site with carrier pickups, the parcels still wait for the next
        pickup: the dispatch queue clears when its scans are done (see `collect`)."""
        for i, (q, after) in list(self.watch.items()):
            if q == queue and t >= after:
                if queue == "dispatch" and self.pickups:
                    self.watch[i] = ("pickup", after)
                    continue
                self.run.truths[i] = replace(self.run.truths[i], cleared_ms=t)
                del self.watch[i]

    def arrivals(self, t: int) -> list[tuple[int, int, str, bytes]]:
        step = t // LAG_STEP_MS
        if step != self.lag_step:
            self.lag_step = step
            self.lag = [int(self.lag_rng.random() * self.site.lag_max_ms) for _ in range(4)]
        out = []
        last = self.last_arrival
        for occurred, topic, value in sorted(self.out):
            arrival = max(last[topic], occurred + self.lag[topic])
            last[topic] = arrival
            out.append((occurred, arrival, TOPICS[topic], value.encode()))
            if occurred >= self.start:
                key = (self.wh, TOPICS[topic])
                self.run.counts[key] = self.run.counts.get(key, 0) + 1
        self.out.clear()
        return out

    def finish(self) -> None:
        """Nothing to do at the end but to keep unresolved watches visible (cleared stays None)."""
        self.watch.clear()
