"""The fixed-pace scenarios (configurations of the traffic model): determinism, causality, the
contract, and each story's shape."""

from __future__ import annotations

import hashlib
import heapq
import inspect
import itertools
import math
import os
import subprocess
import sys
import tracemalloc
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import ClassVar

import pytest

from ordermon.devtools.catalogue import event_of
from ordermon.devtools.malformed import KINDS as MALFORMED_KINDS
from ordermon.devtools.malformed import Malformed
from ordermon.devtools.operations import DAY_MS, HOUR_MS, LAG_MAX_MS, MINUTE_MS, Scenario, Site
from ordermon.devtools.scenarios import JD2008_CROSSING_DAY, SCENARIOS, build, crossing_day
from ordermon.streams.codec import decode, encode_event
from ordermon.streams.events import ComplaintEvent, DispatchEvent, Event, OrderEvent, RefundEvent
from ordermon.streams.flows import FLOWS
from ordermon.streams.validation import Rejection

REPO = Path(__file__).resolve().parents[3]
NAMES = (
    "steady",
    "jd2008",
    "flash_sale",
    "night_lull",
    "weekend_dip",
    "noisy_steady",
    "stall",
    "silent",
    "malformed",
)
LOCAL_MS = 8 * HOUR_MS  # the warehouses' daily cycles follow UTC+8


def in_event_time(s: Scenario) -> Iterator[Event | Malformed]:
    """The scenario's messages (arrival order, topics up to a minute apart) put back in event-time
    order: a message is due once the arrivals have passed its time by the longest lag."""
    heap: list[tuple[int, int, Event | Malformed]] = []
    for n, m in enumerate(s.run().messages()):
        heapq.heappush(heap, (m.occurred_at_ms, n, event_of(m)))
        while heap[0][0] < m.arrival_ms - LAG_MAX_MS:
            yield heapq.heappop(heap)[2]
    while heap:
        yield heapq.heappop(heap)[2]


def events(s: Scenario) -> list[Event | Malformed]:
    return list(in_event_time(s))


def per_hour(site: Site) -> float:
    """Dispatch capacity per hour of a fixed-pace site."""
    return site.capacity_per_day() / 24


def duration_ms(s: Scenario) -> int:
    return s.end_ms - s.start_ms


def _digest(messages: Iterable[object]) -> str:
    h = hashlib.sha256()
    for m in messages:
        h.update(repr(m).encode())
    return h.hexdigest()


class _Causality:
    """Time order, unique event ids, and the causal rules of the module docstring, checked one
    message at a time; `errors` holds what broke them (the first ten of the rule breaks)."""

    # flow -> the order state it must follow
    ORDER_STEPS: ClassVar[dict[str, str]] = {
        "orders_cancelled": "placed",
        "dispatches_dispatched": "placed",
        "dispatches_delivered": "dispatches_dispatched",
        "dispatches_failed": "dispatches_dispatched",
    }

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.last = -1
        self.event_ids: set[str] = set()
        self.order_state: dict[str, str] = {}
        self.order_wh: dict[str, str] = {}
        self.complaint: dict[str, tuple[str, str]] = {}  # id -> (order_id, state)
        self.complained: set[str] = set()
        self.refund: dict[str, tuple[str, float, str]] = {}  # id -> (order_id, amount, state)

    def bad(self, m: Event, why: str) -> None:
        if len(self.errors) < 10:
            self.errors.append(f"{why}: {m}")

    def check(self, m: Event | Malformed) -> None:
        if m.occurred_at_ms < self.last:
            self.errors.append(f"time goes back at {m}")
        self.last = m.occurred_at_ms
        if isinstance(m, Malformed):
            return
        if m.event_id in self.event_ids:
            self.bad(m, "duplicate event_id")
        self.event_ids.add(m.event_id)
        oid, flow = m.order_id, m.flow
        if flow == "orders_placed":
            if oid in self.order_state:
                self.bad(m, "order placed twice")
            self.order_state[oid] = "placed"
            self.order_wh[oid] = m.warehouse
        elif self.order_wh.get(oid) != m.warehouse:
            self.bad(m, "order unknown here")
        elif flow in self.ORDER_STEPS:
            if self.order_state[oid] != self.ORDER_STEPS[flow]:
                self.bad(m, f"{flow} after {self.order_state[oid]}")
            self.order_state[oid] = flow
        elif isinstance(m, ComplaintEvent):
            self.check_complaint(m)
        elif isinstance(m, RefundEvent):
            self.check_refund(m)
        else:
            self.bad(m, "unknown flow")

    def check_complaint(self, m: ComplaintEvent) -> None:
        cid, oid = m.complaint_id, m.order_id
        if m.status != "opened":
            if self.complaint.get(cid) != (oid, "opened"):
                self.bad(m, "resolved without an open complaint")
            self.complaint[cid] = (oid, "resolved")
            return
        if cid in self.complaint or oid in self.complained:
            self.bad(m, "complaint opened twice")
        if self.order_state[oid] == "orders_cancelled":
            self.bad(m, "complaint about a cancelled order")
        self.complaint[cid] = (oid, "opened")
        self.complained.add(oid)

    def check_refund(self, m: RefundEvent) -> None:
        rid, oid, amount = m.refund_id, m.order_id, m.amount
        if m.status != "requested":
            if self.refund.get(rid) != (oid, amount, "requested"):
                self.bad(m, "completed without a matching request")
            self.refund[rid] = (oid, amount, "completed")
            return
        if rid in self.refund:
            self.bad(m, "refund requested twice")
        if oid not in self.complained:
            self.bad(m, "refund without a complaint")
        self.refund[rid] = (oid, amount, "requested")


def _consistency_errors(messages: Iterable[Event | Malformed]) -> list[str]:
    """Time order, unique event ids, and the causal rules of the module docstring."""
    causality = _Causality()
    for m in messages:
        causality.check(m)
    return causality.errors


def _contract_errors(messages: Iterable[Event | Malformed], every: int) -> list[str]:
    """Every `every`-th event round-trips through the codec; every Malformed is rejected with
    the reason it names."""
    errors: list[str] = []
    for i, m in enumerate(messages):
        if isinstance(m, Malformed):
            got = decode(m.topic, m.key, m.value)
            if not isinstance(got, Rejection) or got.reason != m.why:
                errors.append(f"{m.why} ({m.detail}) decoded as {got}")
        elif i % every == 0:
            back = decode(m.topic, m.warehouse.encode(), encode_event(m))
            if back != m:
                errors.append(f"{m} decoded as {back}")
    return errors


# -- the registry and build()


def test_registry_lists_every_scenario_with_a_one_line_description() -> None:
    assert tuple(SCENARIOS) == NAMES
    for name, factory in SCENARIOS.items():
        s = factory()
        assert s.name == name
        assert s.description and "\n" not in s.description
        assert len(s.warehouses) >= 4
        assert all(w.isascii() and len(w) <= 64 for w in s.warehouses)


def test_build_of_an_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(ValueError) as info:
        build("surge")
    for name in NAMES:
        assert name in str(info.value)


@pytest.mark.parametrize("kwargs", [{"days": 0}, {"days": -1.0}, {"scale": 0}, {"days": math.nan}])
def test_build_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        build("steady", **kwargs)  # type: ignore[arg-type]


def test_scenario_refuses_two_sites_of_one_warehouse() -> None:
    s = build("steady")
    with pytest.raises(ValueError, match="warehouse id of its own"):
        replace(s, sites=(*s.sites, s.sites[0]))


def test_days_sets_the_duration_and_no_event_passes_the_end() -> None:
    s = build("steady", days=0.3)
    assert duration_ms(s) == round(0.3 * DAY_MS)
    times = [m.occurred_at_ms for m in events(s)]
    assert times[0] >= s.start_ms
    assert times[-1] < s.end_ms
    assert times[-1] > s.end_ms - 10 * MINUTE_MS


# -- every scenario: warehouses, order, causality, contract


def _order(n: int, status: str, at: int, wh: str = "BJ-01") -> OrderEvent:
    return OrderEvent(
        event_id=f"e{n}",
        status=status,  # type: ignore[arg-type]
        order_id="o1",
        warehouse=wh,
        occurred_at_ms=at,
    )


def _dispatch(n: int, status: str, at: int) -> DispatchEvent:
    return DispatchEvent(
        event_id=f"e{n}",
        status=status,  # type: ignore[arg-type]
        order_id="o1",
        warehouse="BJ-01",
        occurred_at_ms=at,
    )


@pytest.mark.parametrize(
    ("messages", "broken"),
    [
        ([_order(1, "placed", 0), _dispatch(2, "dispatched", 1)], None),
        ([_order(1, "placed", 5), _dispatch(2, "dispatched", 1)], "time goes back"),
        ([_order(1, "placed", 0), _order(1, "cancelled", 1)], "duplicate event_id"),
        ([_order(1, "placed", 0), _dispatch(2, "delivered", 1)], "dispatches_delivered after"),
        ([_order(1, "placed", 0), _order(2, "cancelled", 1, "SH-02")], "order unknown here"),
    ],
)
def test_the_causality_check_names_what_breaks(messages: list[Event], broken: str | None) -> None:
    errors = _consistency_errors(messages)
    assert errors[0].startswith(broken) if broken else errors == [], errors


@pytest.mark.parametrize("name", NAMES)
def test_every_scenario_is_ordered_consistent_and_valid(name: str) -> None:
    s = build(name, days=0.75)
    messages = events(s)
    senders = {m.warehouse for m in messages if not isinstance(m, Malformed)}
    assert senders == set(s.warehouses)
    assert _consistency_errors(messages) == []
    assert _contract_errors(messages, every=23) == []


@pytest.mark.parametrize("name", ["steady", "malformed"])
def test_same_seed_gives_the_same_sequence_and_another_seed_another(name: str) -> None:
    first = list(build(name, seed=7, days=0.4).run().messages())
    again = list(build(name, seed=7, days=0.4).run().messages())
    other = list(build(name, seed=8, days=0.4).run().messages())
    assert first == again
    assert first != other
    assert _digest(first) != _digest(other)


def test_the_sequence_does_not_depend_on_the_process() -> None:
    code = (
        "import hashlib, sys, itertools\n"
        "from ordermon.devtools.scenarios import build\n"
        "h = hashlib.sha256()\n"
        "for m in itertools.islice(build('malformed', seed=3).run().messages(), 3000):\n"
        "    h.update(repr(m).encode())\n"
        "print(h.hexdigest())\n"
    )
    here = _digest(itertools.islice(build("malformed", seed=3).run().messages(), 3000))
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == here


def test_events_are_generated_lazily() -> None:
    s = build("jd2008", days=90)
    it = s.run().messages()
    assert inspect.isgenerator(it)
    tracemalloc.start()
    try:
        head = list(itertools.islice(it, 2000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(head) == 2000
    assert peak < 5_000_000  # 90 days held in memory would take hundreds of MB


# -- malformed


def test_malformed_breaks_each_rule_about_five_percent_of_the_time() -> None:
    messages = events(build("malformed", days=0.5))
    bad = [m for m in messages if isinstance(m, Malformed)]
    assert 0.035 < len(bad) / len(messages) < 0.065
    assert {m.why for m in bad} == {str(k) for k in MALFORMED_KINDS}
    assert all(m.detail for m in bad)
    assert _contract_errors(bad, every=1) == []
    assert any(len(m.value) > 64 * 1024 for m in bad)


# -- jd2008: one full default run, summarised in one pass


@dataclass
class Jd2008Run:
    scenario: Scenario
    total: int = 0
    flows: Counter[tuple[str, str]] = field(default_factory=Counter)
    placed_by_day: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    # per warehouse and day: min of the dispatch backlog; end-of-day service and refund backlogs
    min_backlog: dict[str, dict[int, int]] = field(default_factory=lambda: defaultdict(dict))
    service_backlog: dict[str, dict[int, int]] = field(default_factory=lambda: defaultdict(dict))
    refund_backlog: dict[str, dict[int, int]] = field(default_factory=lambda: defaultdict(dict))
    consistency: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def jd2008_run() -> Jd2008Run:
    s = build("jd2008")
    run = Jd2008Run(s)
    backlog: Counter[tuple[str, str]] = Counter()
    queue_of = {
        "orders_placed": ("dispatch", 1),
        "orders_cancelled": ("dispatch", -1),
        "dispatches_dispatched": ("dispatch", -1),
        "complaints_opened": ("service", 1),
        "complaints_resolved": ("service", -1),
        "refunds_requested": ("refund", 1),
        "refunds_completed": ("refund", -1),
    }

    def summarise(messages: Iterable[Event | Malformed]) -> Iterable[Event | Malformed]:
        for m in messages:
            yield m
            assert not isinstance(m, Malformed)
            run.total += 1
            w, flow = m.warehouse, m.flow
            day = (m.occurred_at_ms - s.start_ms) // DAY_MS
            run.flows[w, flow] += 1
            if flow == "orders_placed":
                run.placed_by_day[w][day] += 1
            if flow in queue_of:
                queue, step = queue_of[flow]
                backlog[w, queue] += step
                if queue == "dispatch":
                    mins = run.min_backlog[w]
                    mins[day] = min(mins.get(day, backlog[w, queue]), backlog[w, queue])
                elif queue == "service":
                    run.service_backlog[w][day] = backlog[w, queue]
                else:
                    run.refund_backlog[w][day] = backlog[w, queue]

    run.consistency = _consistency_errors(summarise(in_event_time(s)))
    return run


def _fit_log_lines(series: dict[str, list[float]]) -> tuple[dict[str, float], float]:
    """Least squares of log(series[w][d]) = a[w] + b * (d + 0.5): one intercept per warehouse,
    one growth rate for all (they share it, and pooling makes it precise)."""
    xs = [d + 0.5 for d in range(len(next(iter(series.values()))))]
    mx = sum(xs) / len(xs)
    means = {w: sum(math.log(y) for y in ys) / len(ys) for w, ys in series.items()}
    b = sum(
        (x - mx) * (math.log(y) - means[w])
        for w, ys in series.items()
        for x, y in zip(xs, ys, strict=True)
    ) / (len(series) * sum((x - mx) ** 2 for x in xs))
    return {w: means[w] - b * mx for w in series}, b


def test_jd2008_is_consistent_and_modest(jd2008_run: Jd2008Run) -> None:
    assert jd2008_run.consistency == []
    assert 150_000 < jd2008_run.total < 400_000
    assert duration_ms(jd2008_run.scenario) == 60 * DAY_MS


def test_jd2008_orders_grow_thirty_percent_a_month(jd2008_run: Jd2008Run) -> None:
    placed = Counter[int]()
    for days in jd2008_run.placed_by_day.values():
        placed.update(days)
    week1 = sum(placed[d] for d in range(0, 7))
    week5 = sum(placed[d] for d in range(28, 35))
    assert week5 / week1 == pytest.approx(1.3 ** (28 / 30), rel=0.05)


def test_jd2008_demand_crosses_capacity_on_the_stated_day(jd2008_run: Jd2008Run) -> None:
    s = jd2008_run.scenario
    assert JD2008_CROSSING_DAY == {"BJ-01": 30, "SH-02": 30, "GZ-03": 30, "CD-04": 24, "WH-05": 40}
    daily = {w: [float(jd2008_run.placed_by_day[w][d]) for d in range(60)] for w in s.warehouses}
    intercepts, growth_per_day = _fit_log_lines(daily)
    assert math.exp(30 * growth_per_day) == pytest.approx(1.3, abs=0.03)
    for site in s.sites:
        stated = JD2008_CROSSING_DAY[site.warehouse]
        assert crossing_day(site) == pytest.approx(stated)
        measured = (math.log(site.capacity_per_day()) - intercepts[site.warehouse]) / growth_per_day
        assert measured == pytest.approx(stated, abs=3), site.warehouse


def test_jd2008_every_queue_of_every_warehouse_has_traffic(jd2008_run: Jd2008Run) -> None:
    for w in jd2008_run.scenario.warehouses:
        for flow in FLOWS:
            assert jd2008_run.flows[w, flow] > 10, (w, flow)


def test_jd2008_backlog_clears_daily_before_the_crossing_and_grows_after(
    jd2008_run: Jd2008Run,
) -> None:
    for site in jd2008_run.scenario.sites:
        w, day = site.warehouse, round(JD2008_CROSSING_DAY[site.warehouse])
        cap = per_hour(site)
        mins = jd2008_run.min_backlog[w]
        # every day it comes back under 1.5 hours of work (the teams' capacity is a Poisson
        # draw around their pace: some nights end with a few parcels left)
        assert all(mins[d] <= 1.5 * cap for d in range(day - 14, day - 7)), w
        assert mins[day - 3] + 20 < mins[day + 13] < mins[day + 18], w
        assert mins[day + 18] > 6 * cap, w  # never below a quarter of a day's work


def test_jd2008_cascades_into_service_and_refunds(jd2008_run: Jd2008Run) -> None:
    for site in jd2008_run.scenario.sites:
        w, day = site.warehouse, round(JD2008_CROSSING_DAY[site.warehouse])
        service, refund = jd2008_run.service_backlog[w], jd2008_run.refund_backlog[w]
        assert service[day] < 10 and refund[day] < 10, w  # both keep up until the crossing
        assert service[day + 5] < 50, w  # and service for days after it
        if day <= 30:  # WH-05 crosses on day 40: its cascade has only begun on day 59
            assert service[59] > 1000 and refund[59] > 50 + 5 * refund[day], w
        else:
            assert service[59] > 20 + 10 * service[day], w


def test_scale_changes_volume_but_not_the_crossing_day() -> None:
    full, half = build("jd2008", days=3), build("jd2008", days=3, scale=0.5)
    n_full = sum(1 for m in events(full) if isinstance(m, Event) and m.status == "placed")
    n_half = sum(1 for m in events(half) if isinstance(m, Event) and m.status == "placed")
    assert n_half / n_full == pytest.approx(0.5, rel=0.1)
    for a, b in zip(full.sites, half.sites, strict=True):
        stated = pytest.approx(JD2008_CROSSING_DAY[a.warehouse])
        assert crossing_day(a) == stated and crossing_day(b) == stated


# -- benign scenarios: the dispatch backlog stays bounded and returns near zero every day


def _dispatch_backlogs(
    messages: Iterable[Event | Malformed],
) -> dict[str, list[tuple[int, int]]]:
    """Per warehouse, (time, backlog) after every dispatch-queue event."""
    backlog: Counter[str] = Counter()
    series: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for m in messages:
        if isinstance(m, Malformed):
            continue
        if m.flow == "orders_placed":
            backlog[m.warehouse] += 1
        elif m.flow in ("orders_cancelled", "dispatches_dispatched"):
            backlog[m.warehouse] -= 1
        else:
            continue
        series[m.warehouse].append((m.occurred_at_ms, backlog[m.warehouse]))
    return series


def _bounded_problems(
    s: Scenario, max_hours: float, messages: Iterable[Event | Malformed] | None = None
) -> list[str]:
    """Warehouses whose backlog passes `max_hours` of capacity, or does not come back below 10%
    of an hour's capacity on some day."""
    problems = []
    backlogs = _dispatch_backlogs(events(s) if messages is None else messages)
    for site in s.sites:
        cap = per_hour(site)
        series = backlogs[site.warehouse]
        top = max(b for _, b in series)
        if top > max_hours * cap:
            problems.append(f"{site.warehouse} backlog reached {top} ({top / cap:.2f} h)")
        for day in range(duration_ms(s) // DAY_MS):
            lo, hi = s.start_ms + day * DAY_MS, s.start_ms + (day + 1) * DAY_MS
            low = min(b for t, b in series if lo <= t < hi)
            if low > max(2, 0.1 * cap):
                problems.append(f"{site.warehouse} backlog stayed above {low} on day {day}")
    return problems


@pytest.mark.parametrize(
    ("name", "days", "max_hours"),
    [
        ("steady", None, 1.0),
        ("flash_sale", None, 1.0),
        ("night_lull", None, 1.0),
        ("weekend_dip", 4, 1.0),
        ("noisy_steady", None, 2.0),
    ],
)
def test_benign_backlog_stays_bounded(name: str, days: float | None, max_hours: float) -> None:
    assert _bounded_problems(build(name, days=days), max_hours) == []


@pytest.fixture(scope="module")
def stall_run() -> tuple[Scenario, list[Event | Malformed]]:
    s = build("stall")
    return s, events(s)


def test_the_bounded_check_catches_a_stall(
    stall_run: tuple[Scenario, list[Event | Malformed]],
) -> None:
    s, messages = stall_run
    problems = _bounded_problems(s, 1.0, messages)
    assert problems and all(p.startswith("SH-02") for p in problems)


def test_steady_runs_at_sixty_percent_of_capacity() -> None:
    s = build("steady")
    placed = Counter(
        m.warehouse for m in events(s) if isinstance(m, Event) and m.status == "placed"
    )
    for site in s.sites:
        capacity = per_hour(site) * duration_ms(s) / HOUR_MS
        assert placed[site.warehouse] / capacity == pytest.approx(0.6, abs=0.05)


def _top(points: list[tuple[int, int]], lo: int, hi: int) -> int:
    return max(b for t, b in points if lo <= t < hi)


def test_flash_sale_triples_orders_briefly_and_dispatch_clears_it_within_the_hour() -> None:
    s = build("flash_sale")
    ((start, end, factor),) = s.sites[0].demand_windows
    assert 20 * MINUTE_MS <= end - start <= 40 * MINUTE_MS and factor == 3
    span = end - start
    messages = events(s)
    series = _dispatch_backlogs(messages)
    placed = [
        m.occurred_at_ms for m in messages if isinstance(m, Event) and m.flow == "orders_placed"
    ]
    during = sum(start <= t < end for t in placed)
    before = sum(start - span <= t < start for t in placed)
    assert during > 2.2 * before
    for site in s.sites:
        points = series[site.warehouse]
        # the burst shows, and an hour after it the backlog is as it was at that hour the day
        # before (mostly orders within their ten minutes before packing)
        burst = _top(points, start, end)
        assert burst > _top(points, start - HOUR_MS, start) + 0.05 * per_hour(site)
        after = _top(points, end + HOUR_MS, end + 2 * HOUR_MS)
        day_before = _top(points, end + HOUR_MS - DAY_MS, end + 2 * HOUR_MS - DAY_MS)
        assert after <= day_before + 0.15 * per_hour(site), site.warehouse


def test_night_lull_nights_are_near_zero() -> None:
    placed = [
        m.occurred_at_ms
        for m in events(build("night_lull"))
        if isinstance(m, Event) and m.flow == "orders_placed"
    ]
    night = sum(1 <= ((t + LOCAL_MS) // HOUR_MS) % 24 < 5 for t in placed)
    assert 0 < night < 0.005 * len(placed)


def test_weekend_orders_are_forty_percent_of_weekdays() -> None:
    s = build("weekend_dip", days=3)  # Saturday 08:00 to Tuesday 08:00, local time
    per_day = Counter(
        (m.occurred_at_ms + LOCAL_MS) // DAY_MS
        for m in events(s)
        if isinstance(m, Event) and m.flow == "orders_placed"
    )
    sunday = (s.start_ms + LOCAL_MS) // DAY_MS + 1
    assert per_day[sunday] / per_day[sunday + 1] == pytest.approx(0.4, abs=0.06)


def _roughness(s: Scenario) -> float:
    """Mean squared step between consecutive 15-minute order counts over twice their mean:
    about 1 for a Poisson stream with a slowly moving rate, more for a noisy one."""
    counts: Counter[tuple[str, int]] = Counter(
        (m.warehouse, (m.occurred_at_ms - s.start_ms) // (15 * MINUTE_MS))
        for m in events(s)
        if isinstance(m, Event) and m.flow == "orders_placed"
    )
    blocks = duration_ms(s) // (15 * MINUTE_MS)
    steps = [
        (counts[w, i + 1] - counts[w, i]) ** 2 for w in s.warehouses for i in range(blocks - 1)
    ]
    mean = sum(counts.values()) / (len(s.warehouses) * blocks)
    return sum(steps) / len(steps) / (2 * mean)


def test_noisy_steady_is_much_noisier_than_steady_at_eighty_percent() -> None:
    noisy, steady = build("noisy_steady", days=1), build("steady", days=1)
    assert _roughness(noisy) > 2.5
    assert _roughness(steady) < 1.3
    placed = sum(1 for m in events(noisy) if isinstance(m, Event) and m.status == "placed")
    capacity = sum(per_hour(site) for site in noisy.sites) * 24
    assert placed / capacity == pytest.approx(0.8, abs=0.08)


# -- fault scenarios


def test_stall_slows_one_warehouse_for_six_hours_then_it_recovers(
    stall_run: tuple[Scenario, list[Event | Malformed]],
) -> None:
    s, messages = stall_run
    (site,) = [site for site in s.sites if site.dispatch_windows]
    ((start, end, factor),) = site.dispatch_windows
    assert site.warehouse == "SH-02" and end - start == 6 * HOUR_MS and factor == 0.1
    dispatched = sum(
        1
        for m in messages
        if isinstance(m, Event)
        and m.warehouse == "SH-02"
        and m.flow == "dispatches_dispatched"
        and start <= m.occurred_at_ms < end
    )
    slow = 0.1 * per_hour(site) * 6  # a Poisson capacity around this: sd ~ 10
    assert dispatched == pytest.approx(slow, rel=0.3)
    series = _dispatch_backlogs(messages)["SH-02"]
    at_end = max(b for t, b in series if t < end)
    assert at_end > 2 * per_hour(site)
    night = [b for t, b in series if t >= s.end_ms - 8 * HOUR_MS]
    assert min(night) <= 0.05 * per_hour(site)  # drained by the next morning


def test_silent_warehouse_stops_sending_while_the_others_go_on() -> None:
    s = build("silent")
    (site,) = [site for site in s.sites if site.silent_from_ms is not None]
    assert site.silent_from_ms is not None
    last: dict[str, int] = {}
    for m in events(s):
        assert isinstance(m, Event)
        last[m.warehouse] = m.occurred_at_ms
    assert s.start_ms + DAY_MS - HOUR_MS < last[site.warehouse] < site.silent_from_ms
    for w in s.warehouses:
        if w != site.warehouse:
            assert last[w] > s.end_ms - 10 * MINUTE_MS
