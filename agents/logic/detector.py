"""Signals → conditions → alert transitions, per warehouse (`evaluate_minute`) and for the network
(`evaluate_network`). Pure: state in, state mutated, alert records out; time is an argument.

Per warehouse, once per closed minute (event time `at_ms`, the minute's end):
- `<queue>_backpressure` for each of the four queues, one mechanism with the queue's thresholds:
  fires when pressure > fire_pressure and backlog ≥ min_backlog for `for_ms`; clears when
  pressure ≤ clear_pressure or the backlog is drained, for `clear_hold_ms`; critical when the wait
  (hours_to_clear) passes the SLA or will within the margin (hours_to_sla_breach).
- `cascade`: `cascade_min_queues` or more of the warehouse's backpressure alerts firing at once.
- `forecast_overload`: the log-linear trend of daily orders crosses dispatch capacity within the
  look-ahead (see `ordermon.agents.logic.trend`).
Across the warehouses of one worker, after a batch (`evaluate_network`):
- `cascade` with warehouse ``*``: backpressure in a large share of the warehouses with traffic.
- `warehouse_silent`: a warehouse that had traffic lags the newest watermark by more than
  `silent_after_ms` while other warehouses keep sending.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from statistics import median
from typing import Any, Final, NamedTuple

from ordermon.agents.logic.alerts import FIRING, Episode, Observation, Timing, step
from ordermon.agents.logic.backpressure import (
    STALL_WINDOW_MS,
    Flows,
    Judgement,
    fires,
    holiday_flags,
    judge,
    observation,
)
from ordermon.agents.logic.flow import (
    FLOW_INDEX,
    FlowConfig,
    QueueStatus,
    Snapshot,
    WarehouseState,
    queue_status,
)
from ordermon.agents.logic.policy import Policy, QueuePolicy
from ordermon.agents.logic.rhythm import HOURS_PER_WEEK, QUEUE_INDEX, Rhythm, hour_of
from ordermon.agents.logic.sliding import Sliding, counts_of, window_sums
from ordermon.agents.logic.surge import WINDOW_HOURS as SURGE_WINDOW_HOURS
from ordermon.agents.logic.surge import Surge
from ordermon.agents.logic.trend import (
    DAY_MS,
    DailyTotals,
    backlog_grows,
    forecast,
    observed_capacity,
    summary_numbers,
)
from ordermon.agents.logic.windows import MINUTE_MS
from ordermon.streams.flows import FLOWS, QUEUE_NAMES, QUEUES
from ordermon.streams.outputs import ALERT_KINDS, NETWORK_KEY, Alert
from ordermon.streams.timefmt import format_rfc3339_ms

BACKPRESSURE_KINDS: Final = {queue: f"{queue}_backpressure" for queue in QUEUE_NAMES}
CASCADE: Final = "cascade"
FORECAST: Final = "forecast_overload"
SILENT: Final = "warehouse_silent"
_KIND_ORDER: Final = {kind: i for i, kind in enumerate(ALERT_KINDS)}
STATE_VERSION: Final = 2
# per queue, the FLOWS columns of its inflow and of its outflow
_QUEUE_COLUMNS: Final = {
    q.name: (tuple(FLOW_INDEX[f] for f in q.inflow), tuple(FLOW_INDEX[f] for f in q.outflow))
    for q in QUEUES
}
_ORDERS: Final = FLOW_INDEX["orders_placed"]
_WINDOWS: dict[int, tuple[int, ...]] = {}  # horizon -> the windows the detector reads
_ZEROS: Final = (0,) * len(FLOWS)
# `_capacity`'s ((hour, days kept, first day), policy, (capacity, source))
_CapacityCache = tuple[tuple[int, int, int | None], Policy, tuple[float | None, str]]

# How each queue is described to a person: inflow, outflow, what waits.
_WORDS: Final = {
    "dispatch": ("orders", "dispatch", "parcels waiting"),
    "delivery": ("dispatched parcels", "deliveries", "parcels with carriers"),
    "service": ("new complaints", "resolutions", "complaints open"),
    "refund": ("refund requests", "refunds paid", "refunds waiting"),
}


# ---- state ------------------------------------------------------------------------------------


@dataclass(slots=True)
class DetectorState:
    """One warehouse's alert episodes and daily aggregates. Small and bounded: at most one
    episode per kind and `forecast_history_days` + 1 days. Round-trips exactly through
    `to_json` / `from_json` (plain JSON types)."""

    warehouse: str | None = None
    last_at_ms: int | None = None  # the last minute end evaluated
    episodes: dict[str, Episode] = field(default_factory=dict)  # kind -> pending/firing
    daily: DailyTotals = field(default_factory=DailyTotals)
    first_inflow_ms: dict[str, int] = field(default_factory=dict)  # queue -> first minute in
    rhythm: Rhythm = field(default_factory=Rhythm)  # hourly rollups: each queue's normal week
    # (key, policy, value) of `_capacity`, derived, not persisted
    capacity_cache: _CapacityCache | None = field(default=None, compare=False, repr=False)
    # ((last_at_ms, split), `to_json(split)` encoded) of the last head written
    # (agents.logic.persist), derived
    encoded: tuple[Any, Any] | None = field(default=None, compare=False, repr=False)

    def to_json(self, split: int | None = None) -> dict[str, Any]:
        """`split`: the rhythm's rows before that hour left out (`Rhythm.to_json`)."""
        return {
            "v": STATE_VERSION,
            "warehouse": self.warehouse,
            "last_at": self.last_at_ms,
            "episodes": [e.to_json() for e in _ordered(self.episodes.values())],
            "days": self.daily.to_json(),
            "first_in": dict(sorted(self.first_inflow_ms.items())),
            "rhythm": self.rhythm.to_json(split),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DetectorState:
        _check_version(data)
        episodes = [Episode.from_json(e) for e in data["episodes"]]
        return cls(
            warehouse=data["warehouse"],
            last_at_ms=data["last_at"],
            episodes={e.kind: e for e in episodes},
            daily=DailyTotals.from_json(data["days"]),
            first_inflow_ms={str(k): int(v) for k, v in data.get("first_in", {}).items()},
            rhythm=Rhythm.from_json(data.get("rhythm")),
        )


@dataclass(slots=True)
class NetworkState:
    """The network-wide episodes of one worker: `cascade` of ``*`` and `warehouse_silent`."""

    last_at_ms: int | None = None
    episodes: dict[str, Episode] = field(default_factory=dict)  # "kind:warehouse" -> episode

    def to_json(self) -> dict[str, Any]:
        return {
            "v": STATE_VERSION,
            "last_at": self.last_at_ms,
            "episodes": [e.to_json() for e in _ordered(self.episodes.values())],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> NetworkState:
        _check_version(data)
        episodes = [Episode.from_json(e) for e in data["episodes"]]
        return cls(
            last_at_ms=data["last_at"],
            episodes={f"{e.kind}:{e.warehouse}": e for e in episodes},
        )


def _check_version(data: Mapping[str, Any]) -> None:
    if data.get("v") not in (1, STATE_VERSION):  # version 1: the same, without the rhythm
        raise ValueError(f"detector state version {data.get('v')!r}, expected {STATE_VERSION}")


def _ordered(episodes: Iterable[Episode]) -> list[Episode]:
    return sorted(episodes, key=lambda e: (_KIND_ORDER.get(e.kind, 99), e.kind, e.warehouse))


def firing(state: DetectorState | NetworkState) -> list[Alert]:
    """The firing alerts of a warehouse (or of the network), with their latest signals."""
    return [e.message(e.updated_ms) for e in _ordered(state.episodes.values()) if e.phase == FIRING]


def _advance(
    episodes: dict[str, Episode],
    key: str,
    kind: str,
    warehouse: str,
    obs: Observation,
    at_ms: int,
    timing: Timing,
) -> Alert | None:
    episode, message = step(episodes.get(key), kind, warehouse, obs, at_ms, timing)
    if episode is None:
        episodes.pop(key, None)
    else:
        episodes[key] = episode
    return message


# ---- one warehouse, one minute ----------------------------------------------------------------


def evaluate_minute(
    det: DetectorState,
    flow_state: WarehouseState,
    flow_config: FlowConfig,
    at_ms: int,
    policy: Policy,
) -> list[Alert]:
    """Evaluate the closed minute that ends at `at_ms` (ascending; a minute at or before the
    last one evaluated is skipped, so a replayed close changes nothing). `policy` may be the
    base policy or the warehouse's own: the warehouse's override is applied either way.

    A quiet minute is cheap: a kind with no episode open is only judged as far as whether it
    fires (a queue still in its warm-up not at all), and its summary and signals are worded
    only when there is an episode to carry them."""
    if det.last_at_ms is not None and at_ms <= det.last_at_ms:
        return []
    warehouse = flow_state.warehouse
    policy = policy.for_warehouse(warehouse)
    det.warehouse = warehouse
    sums = _window_sums(flow_state, flow_config, at_ms)
    minute = flow_state.minutes.get(at_ms - MINUTE_MS)
    counts = _ZEROS if minute is None else counts_of(minute)  # the closed minute's
    out: list[Alert] = []
    held: Timing | None = None  # made when an alert steps
    episodes = det.episodes
    first_inflow = det.first_inflow_ms
    since = det.rhythm.since
    queues = policy.queues
    rows: list[tuple[int, int, int]] = []  # per queue (inflow, outflow, backlog at its end)
    # per queue (inflow, outflow), flat: of everything before the minute's end, of the minute,
    # of the day and of the stall window
    before = _FLOW_SUMS(sums.before)
    minute_sums = _FLOW_SUMS(counts)
    day = _FLOW_SUMS(sums.sums[DAY_MS])
    stall = _FLOW_SUMS(sums.sums[STALL_WINDOW_MS])
    for qi, name, kind in _PLAN:
        i, o = 2 * qi, 2 * qi + 1
        qp = queues[name]
        backlog = max(0, before[i] - before[o])
        rows.append((minute_sums[i], minute_sums[o], backlog))
        first = first_inflow.get(name)
        if first is None and day[i] > 0:
            first = first_inflow[name] = at_ms
        if first is not None and since[qi] is None:
            # the first day fills an empty queue: learned from after it, and the warm-up
            since[qi] = hour_of(first + max(qp.warmup_ms, DAY_MS)) + 1
        warm = first is not None and at_ms - first >= qp.warmup_ms
        episode = episodes.get(kind) if episodes else None
        if episode is None and not warm:
            continue  # not judged yet (no evidence either way), and nothing open to go on
        flows = Flows(backlog, stall[i], stall[o], day[i], day[o])
        j = judge(det.rhythm, name, flows, at_ms, qp, policy)
        if episode is None and not fires(j, qp):
            continue  # nothing opens: the alert's step would change nothing
        status = queue_status(
            QUEUES[qi], sums.sums[flow_config.horizon_ms], sums.before, _horizon(flow_config)
        )
        obs = observation(j, qp, queue_summary(warehouse, status, j, qp))
        if not warm:
            obs = replace(obs, active=False)  # not judged yet: no evidence either way
        if held is None:
            held = Timing(policy.for_ms, policy.clear_hold_ms, policy.renotify_ms)
        out += _some(_advance(episodes, kind, kind, warehouse, obs, at_ms, held))

    det.daily.fold(
        at_ms,
        counts[_ORDERS],
        rows[_DISPATCH][1],
        rows[_DISPATCH][2],
        policy.forecast_history_days,
    )
    flagged = _unlearned(det, policy, at_ms)
    det.rhythm.fold(at_ms, rows, flagged, (policy.rhythm_weeks + 1) * HOURS_PER_WEEK)

    if CASCADE in episodes or (episodes and len(_paging_queues(det)) >= policy.cascade_min_queues):
        timing = Timing(policy.cascade_for_ms, policy.cascade_clear_hold_ms, policy.renotify_ms)
        snap = _snapshot(flow_state, flow_config, at_ms, sums)
        obs = cascade_observation(warehouse, det, snap, policy)
        out += _some(_advance(episodes, CASCADE, CASCADE, warehouse, obs, at_ms, timing))

    forecast_obs = _forecast_observation(warehouse, det, at_ms, policy, FORECAST in episodes)
    if forecast_obs is not None:
        if held is None:
            held = Timing(policy.for_ms, policy.clear_hold_ms, policy.renotify_ms)
        out += _some(_advance(episodes, FORECAST, FORECAST, warehouse, forecast_obs, at_ms, held))
    det.last_at_ms = at_ms
    return out


def _unlearned(det: DetectorState, policy: Policy, at_ms: int) -> int:
    """The rhythm's flags of the minute ending at `at_ms` (`Rhythm.fold`): the queues whose
    backpressure fires (its hours teach nothing about the normal), and a declared holiday's
    and its echo's (`holiday_flags`)."""
    flagged = 0
    episodes = det.episodes
    if episodes:
        for i, q in enumerate(QUEUE_NAMES):
            e = episodes.get(BACKPRESSURE_KINDS[q])
            if e is not None and e.phase == FIRING:
                flagged |= 1 << i
    if policy.calendar is not None and policy.calendar.holidays:
        for i in range(len(QUEUE_NAMES)):
            flagged |= holiday_flags(det.rhythm, i, policy, at_ms)
    return flagged


def _flat_sums() -> Callable[[Sequence[int]], tuple[int, ...]]:
    """Every queue's (inflow, outflow) sums of a row of counts, flat in QUEUE_NAMES order, in
    one call: the columns above written out as one expression, compiled once from these
    constants (a minute evaluated reads four rows: 32 sums otherwise, each a call)."""
    terms = ", ".join(
        "+".join(f"r[{c}]" for c in columns)
        for name in QUEUE_NAMES
        for columns in _QUEUE_COLUMNS[name]
    )
    function: Callable[[Sequence[int]], tuple[int, ...]] = eval(f"lambda r: ({terms},)")
    return function


_FLOW_SUMS: Final = _flat_sums()
# what `evaluate_minute` goes through for each queue, in QUEUE_NAMES order (the rhythm's rows):
# (index, name, alert kind)
_PLAN: Final = tuple((i, name, BACKPRESSURE_KINDS[name]) for i, name in enumerate(QUEUE_NAMES))
_DISPATCH: Final = QUEUE_NAMES.index("dispatch")


def _horizon(flow_config: FlowConfig) -> float:
    return flow_config.horizon_ms / MINUTE_MS


def _window_sums(flow_state: WarehouseState, flow_config: FlowConfig, at_ms: int) -> Sliding:
    """The window sums the detector reads at `at_ms`: the horizon's, the stall window's (30
    minutes) and the day's."""
    horizon = flow_config.horizon_ms
    windows = _WINDOWS.get(horizon)
    if windows is None:
        windows = _WINDOWS[horizon] = tuple(sorted({horizon, STALL_WINDOW_MS, DAY_MS}))
    return window_sums(flow_state, at_ms, windows)


def _snapshot(
    flow_state: WarehouseState, flow_config: FlowConfig, at_ms: int, sums: Sliding
) -> Snapshot:
    horizon_min = _horizon(flow_config)
    counts = sums.sums[flow_config.horizon_ms]
    return Snapshot(
        warehouse=flow_state.warehouse,
        at_ms=at_ms,
        rates={f: counts[i] / horizon_min for i, f in enumerate(FLOWS)},
        totals={f: flow_state.totals[i] for i, f in enumerate(FLOWS)},
        queues={q.name: queue_status(q, counts, sums.before, horizon_min) for q in QUEUES},
        late=flow_state.late,
    )


def signals_at(
    flow_state: WarehouseState, flow_config: FlowConfig, at_ms: int
) -> tuple[Snapshot, Sliding]:
    """The warehouse's signals at `at_ms` from what happened before it: rates over the horizon,
    and the window sums (30 minutes for stalls, 24 hours for whole days) the judgement uses."""
    sums = _window_sums(flow_state, flow_config, at_ms)
    return _snapshot(flow_state, flow_config, at_ms, sums), sums


def _some(message: Alert | None) -> list[Alert]:
    return [] if message is None else [message]


def queue_summary(warehouse: str, q: QueueStatus, j: Judgement, qp: QueuePolicy) -> str:
    """E.g. "BJ-01: orders 2,520/h, dispatch 2,100/h; 1,240 parcels waiting (normal at this hour
    of the week 300), 0.12 days of throughput more than a day ago; the newest waits 9.5 h"."""
    inflow, outflow, waiting = _WORDS.get(q.queue, (q.queue + " in", q.queue + " out", "waiting"))
    # per hour, as the view and the dashboards show rates (the status keeps per minute)
    flows = f"{inflow} {_rate(q.inflow_rate * 60)}/h, {outflow} {_rate(q.outflow_rate * 60)}/h"
    if j.stalled and j.outflow_share is not None:
        flows += f" ({j.outflow_share:.0%} of the normal {outflow} at this hour of the week)"
    surge = j.surge
    if surge is not None and surge.ratio >= qp.surge_ratio:
        flows = f"{_surge_text(q.queue, surge)}; {flows}"
    backlog = f"{j.backlog:,} {waiting}"
    if j.normal_backlog is not None:
        backlog += f" (normal at this hour of the week {j.normal_backlog:,.0f})"
    if j.growth is not None:
        backlog += f", {j.growth:+.2f} days of throughput against a day ago"
    if math.isinf(j.wait_hours):
        wait = "not served at the current pace"
    else:
        wait = f"the newest waits about {_hours(j.wait_hours)} given the working hours"
    if j.wait_hours >= qp.sla_hours:
        wait += f", past the {qp.sla_hours:g} h service level"
    return f"{warehouse}: {flows}; {backlog}; {wait}"


# How a surge is described: the upstream its arrivals are a share of, and the team serving them.
_SURGE_WORDS: Final = {"service": ("deliveries", "desk"), "refund": ("resolutions", "finance")}


def _surge_text(queue: str, s: Surge) -> str:
    """E.g. "new complaints arriving at 2.3× the normal for these hours (41 in the last 6 h;
    the deliveries make 18 normal), about 230 a day at this pace, more than the 143 a day the
    desk has shown it serves"."""
    inflow = _WORDS.get(queue, (queue + " in", "", ""))[0]
    upstream, team = _SURGE_WORDS.get(queue, ("upstream", "team"))
    if math.isinf(s.ratio):  # none normal in these hours
        return f"{inflow} arriving where none are normal ({s.arrivals:,} in {SURGE_WINDOW_HOURS} h)"
    text = (
        f"{inflow} arriving at {s.ratio:.1f}× the normal for these hours ({s.arrivals:,} in the"
        f" last {SURGE_WINDOW_HOURS} h; the {upstream} make {s.expected:,.0f} normal),"
        f" about {s.projected_per_day:,.0f} a day at this pace"
    )
    if s.capacity_per_day is not None:
        text += f", against the {s.capacity_per_day:,.0f} a day the {team} has shown it serves"
    return text


def cascade_observation(
    warehouse: str, det: DetectorState, snap: Snapshot, policy: Policy
) -> Observation:
    """Backpressure in `cascade_min_queues` or more queues at once, counting only alerts that
    page on their own (firing and critical): a cascade is never made of warnings."""
    firing_queues = _paging_queues(det)
    critical = bool(firing_queues)
    active = len(firing_queues) >= policy.cascade_min_queues
    signals: dict[str, float | int | str | None] = {
        "queues": ",".join(firing_queues),
        "queue_count": len(firing_queues),
    }
    parts = []
    for queue in firing_queues:
        q = snap.queues[queue]
        signals[f"{queue}_pressure"] = _finite(q.pressure)
        signals[f"{queue}_backlog"] = q.backlog
        pressure = (
            "no outflow" if q.pressure in (None, float("inf")) else f"pressure {q.pressure:.2f}"
        )
        parts.append(f"{queue} {pressure}, {q.backlog:,} waiting")
    if active:
        summary = (
            f"{warehouse}: backpressure in {len(firing_queues)} queues at once"
            f" ({'; '.join(parts)}), the 2008 cascade pattern"
        )
    else:
        count = len(firing_queues)
        summary = f"{warehouse}: backpressure in {count} queue{'' if count == 1 else 's'} now"
    return Observation(
        active=active,
        clear=not active,
        escalate=critical,
        deescalate=not critical,
        summary=summary,
        signals=signals,
    )


def forecast_observation(
    warehouse: str, det: DetectorState, at_ms: int, policy: Policy
) -> Observation:
    obs = _forecast_observation(warehouse, det, at_ms, policy, True)
    assert obs is not None  # always worded when asked to
    return obs


def _forecast_observation(
    warehouse: str, det: DetectorState, at_ms: int, policy: Policy, words: bool
) -> Observation | None:
    """The forecast's observation; None, without `words`, when it would not fire (with no
    episode open that is all there is to know)."""
    days = det.daily.days
    capacity, source = _capacity(det, at_ms, policy)
    fc = None
    if capacity is not None:
        fc = forecast(days, at_ms, capacity, policy.forecast_fit_days, policy.forecast_min_days)
    if not words and (fc is None or fc.days_to_cross is None):
        return None
    if fc is None or fc.days_to_cross is None:
        reason = "no dispatch capacity known" if capacity is None else "no crossing ahead"
        if capacity is not None and fc is None:
            reason = "too few complete days for a trend"
        return Observation(
            active=False,
            clear=True,
            summary=f"{warehouse}: {reason}",
            signals={} if fc is None else {**summary_numbers(fc), "capacity_source": source},
        )
    if (
        fc.days_to_cross == 0
        and source != "configured"
        and not backlog_grows(days, day_noise=fc.day_noise)
    ):
        # demand at what the site dispatched, but the backlog does not grow day over day and
        # week over week: the site keeps up, so that was demand (or its weekly rhythm), not a
        # shortfall
        return Observation(  # neither fires nor resolves: a forecast already made holds
            active=False,
            clear=False,
            summary=f"{warehouse}: orders at the dispatch pace, and the backlog is not growing",
            signals={**summary_numbers(fc), "capacity_source": source},
        )
    to_cross_ms = fc.days_to_cross * DAY_MS
    active = to_cross_ms <= policy.forecast_lookahead_ms
    if not words and not active:
        return None
    trend = (
        f"{fc.level_per_day:,.0f}/day, {fc.growth_per_day * 100:+.1f}%/day"
        f" (at least {fc.growth_low_per_day * 100:+.1f}%/day)"
    )
    capacity_text = f"the {source} dispatch capacity of {fc.capacity_per_day:,.0f}/day"
    crosses_at = None if fc.crosses_at_ms is None else format_rfc3339_ms(fc.crosses_at_ms)
    if fc.days_to_cross == 0:
        summary = f"{warehouse}: daily orders (trend {trend}) are at or above {capacity_text}"
    else:
        day = (crosses_at or "")[:10]
        summary = (
            f"{warehouse}: daily orders (trend {trend}) will pass {capacity_text}"
            f" in {fc.days_to_cross:.1f} days, around {day}"
        )
    return Observation(
        active=active,
        clear=not active and to_cross_ms > policy.forecast_clear_lookahead_ms,
        escalate=to_cross_ms <= policy.forecast_critical_ms,
        deescalate=to_cross_ms > 2 * policy.forecast_critical_ms,
        summary=summary,
        signals={**summary_numbers(fc), "capacity_source": source, "crosses_at": crosses_at},
    )


def _capacity(det: DetectorState, at_ms: int, policy: Policy) -> tuple[float | None, str]:
    """`_capacity_now`, once per hour: it reads complete days and complete hourly rows only,
    and a day completes at midnight, a row at the top of an hour (so the key below changes
    whenever they may have)."""
    days = det.daily.days
    key = (hour_of(at_ms), len(days), days[0].start_ms if days else None)
    cached = det.capacity_cache
    if cached is not None and cached[0] == key and cached[1] is policy:
        return cached[2]
    value = _capacity_now(det, at_ms, policy)
    det.capacity_cache = (key, policy, value)
    return value


def _capacity_now(det: DetectorState, at_ms: int, policy: Policy) -> tuple[float | None, str]:
    """Daily dispatch capacity: configured; or the higher of the busy-time pace (scaled to the
    site's working day) and the dispatch of days whose backlog grew (what a site did while it
    could not keep up is what it can)."""
    if policy.dispatch_capacity_per_day is not None:
        return policy.dispatch_capacity_per_day, "configured"
    days = det.daily.days
    min_backlog = policy.queues["dispatch"].min_backlog
    busy = det.rhythm.busy_pace(
        QUEUE_INDEX["dispatch"], hour_of(at_ms), HOURS_PER_WEEK, policy.capacity_busy_hours
    )
    busy_time = None
    if busy is not None and busy[0] * 60 >= policy.capacity_busy_minutes:
        busy_time = busy[1] * busy[2]
    candidates = {
        "busy-time": busy_time,
        "observed": observed_capacity(
            days,
            policy.capacity_sustain_days,
            min_backlog if policy.capacity_requires_backlog else None,
        ),
    }
    known = [(v, k) for k, v in candidates.items() if v is not None]
    if not known:
        return None, "none"
    value, source = max(known)
    return value, source


# ---- the network ------------------------------------------------------------------------------


def _paging_queues(det: DetectorState) -> list[str]:
    """The queues whose backpressure alert pages on its own (firing and critical)."""
    return [queue for queue in QUEUE_NAMES if _pages(det, BACKPRESSURE_KINDS[queue])]


def _pages(det: DetectorState, kind: str) -> bool:
    """Whether the warehouse's alert of `kind` pages on its own: firing and critical."""
    episode = det.episodes.get(kind)
    return episode is not None and episode.phase == FIRING and episode.severity == "critical"


class AsOf(NamedTuple):
    """A warehouse as the network reads it at a minute the engine evaluates it at: whether one of
    its backpressure alerts paged then (recorded as each minute was evaluated), and its learned
    rhythm (what `warehouse_silent` expects of the hours it was quiet). A tuple: one is made for
    every warehouse at every minute the network is evaluated."""

    pressed: bool
    rhythm: Rhythm


def in_backpressure(det: DetectorState | AsOf) -> bool:
    """Whether any of the warehouse's backpressure alerts pages (firing and critical)."""
    if isinstance(det, AsOf):
        return det.pressed
    return any(_pages(det, kind) for kind in BACKPRESSURE_KINDS.values())


def evaluate_network(
    net: NetworkState,
    warehouses: Mapping[str, tuple[DetectorState | AsOf, int | None]],
    at_ms: int,
    policy: Policy,
    *,
    cascade: bool = True,
) -> list[Alert]:
    """Network-wide alerts at `at_ms` (the newest watermark of the worker's warehouses), from
    each warehouse's detector state (or as the engine recorded it at that minute: `AsOf`) and
    newest event time. An `at_ms` older than the last one is skipped (time does not go back).
    Episodes of warehouses not passed in (a partition still being read) are left as they are:
    the caller drops those of warehouses that moved to another worker. `cascade` False: the
    network's cascade is another worker's (agents.engine)."""
    if net.last_at_ms is not None and at_ms < net.last_at_ms:
        return []
    net.last_at_ms = at_ms
    moving = {
        w
        for w, (_, newest) in warehouses.items()
        if newest is not None and at_ms - newest <= policy.for_warehouse(w).silent_after_ms
    }
    out: list[Alert] = []
    paces = _NetworkPaces(warehouses, moving, at_ms)
    if cascade and not _passed(net, f"{CASCADE}:{NETWORK_KEY}", at_ms):
        obs = network_cascade_observation(warehouses, moving, policy)
        timing = Timing(policy.cascade_for_ms, policy.cascade_clear_hold_ms, policy.renotify_ms)
        key = f"{CASCADE}:{NETWORK_KEY}"
        out += _some(_advance(net.episodes, key, CASCADE, NETWORK_KEY, obs, at_ms, timing))

    # only a lagging warehouse, or one with an episode open, may change (a thousand a minute)
    silent = {e.warehouse for e in net.episodes.values() if e.kind == SILENT}
    for warehouse in sorted(
        w
        for w, (_, newest) in warehouses.items()
        if w in silent or (newest is not None and w not in moving)
    ):
        det, newest = warehouses[warehouse]
        wp = policy.for_warehouse(warehouse)
        key = f"{SILENT}:{warehouse}"
        lagging = newest is not None and at_ms - newest > wp.silent_after_ms
        if (not lagging and key not in net.episodes) or _passed(net, key, at_ms):
            continue  # not silent and no episode, or an episode already past `at_ms`: no change
        expected = None
        if lagging:  # only then: O(1) else
            assert newest is not None
            scale = paces.change(newest)
            expected = det.rhythm.expected_events(newest, at_ms, wp.rhythm_weeks, scale)
        others = len(moving) - (warehouse in moving)
        obs = silent_observation(warehouse, newest, at_ms, others, wp, expected)
        timing = Timing(0, 0, wp.renotify_ms)  # silent_after_ms is the hold; one event clears
        out += _some(_advance(net.episodes, key, SILENT, warehouse, obs, at_ms, timing))
    return out


def _passed(net: NetworkState, key: str, at_ms: int) -> bool:
    """Whether the episode `key` was last evaluated after `at_ms`: after a restart the network
    may be evaluated again from a minute the episode (loaded from its record) had passed,
    when a warehouse whose records were lost is read again from its start; the episode must
    not be resolved, or fired anew, as of a time before what it already saw."""
    episode = net.episodes.get(key)
    return episode is not None and at_ms < episode.updated_ms


def network_pace_change(others: Iterable[tuple[Rhythm, float | None]], since_ms: int) -> float:
    """How the arrivals of the other sites changed from the hour `since_ms` falls in to now,
    from each one's rhythm and its pace now (`Rhythm.recent_pace` of the running hour): the
    median of their ratios, at most 1 (1 without any). A site that fell quiet before its first
    day is known is judged against its own last pace only as far as the others kept theirs:
    when the night falls on every site, a quiet one is not silent."""
    ratios = []
    then_hour = hour_of(since_ms) - 1  # the hours before it only
    for rhythm, now in others:
        if now is None:
            continue
        then = rhythm.recent_pace(then_hour)
        if then:
            ratios.append(now / then)
    return min(1.0, median(ratios)) if ratios else 1.0


class _NetworkPaces:
    """`network_pace_change` over the moving sites, for every lagging site of one network
    evaluation: a lagging site is never among the moving ones, so the sites compared are the
    same for all of them, and only the hour each fell quiet in differs. The paces now are read
    once, and the change once per such hour, not once per lagging site: with a thousand sites
    and a few quiet at any minute, the per-site loop read a thousand paces per quiet site and
    minute."""

    def __init__(
        self,
        warehouses: Mapping[str, tuple[DetectorState | AsOf, int | None]],
        moving: set[str],
        at_ms: int,
    ) -> None:
        self._warehouses, self._moving, self._at_ms = warehouses, moving, at_ms
        self._now: list[tuple[Rhythm, float | None]] | None = None
        self._by_hour: dict[int, float] = {}

    def change(self, since_ms: int) -> float:
        """The change for a lagging site whose newest event was at `since_ms`."""
        hour = hour_of(since_ms)
        if hour not in self._by_hour:
            if self._now is None:
                now_hour = hour_of(self._at_ms - 1)
                rhythms = [self._warehouses[w][0].rhythm for w in self._moving]
                self._now = [(r, r.recent_pace(now_hour)) for r in rhythms]
            self._by_hour[hour] = network_pace_change(self._now, since_ms)
        return self._by_hour[hour]


def network_cascade_observation(
    warehouses: Mapping[str, tuple[DetectorState | AsOf, int | None]],
    moving: set[str],
    policy: Policy,
) -> Observation:
    hit = sorted(w for w in moving if in_backpressure(warehouses[w][0]))
    share = len(hit) / len(moving) if moving else 0.0
    active = len(hit) >= policy.cascade_min_warehouses and share >= policy.cascade_network_share
    calm = (policy.cascade_network_share + policy.cascade_network_critical_share) / 2
    named = ", ".join(hit[:10]) + (f" and {len(hit) - 10} more" if len(hit) > 10 else "")
    summary = (
        f"network: backpressure at {len(hit)} of {len(moving)} warehouses with traffic"
        f" ({share:.0%})" + (f": {named}" if hit else "")
    )
    return Observation(
        active=active,
        clear=not active,
        escalate=share >= policy.cascade_network_critical_share,
        deescalate=share < calm,
        summary=summary,
        signals={
            "warehouses_in_backpressure": len(hit),
            "warehouses_with_traffic": len(moving),
            "share": round(share, 4),
            "warehouses": ",".join(hit[:50]),
        },
    )


def silent_observation(
    warehouse: str,
    newest_ms: int | None,
    at_ms: int,
    others_moving: int,
    policy: Policy,
    expected_events: float | None = None,
) -> Observation:
    """Silent: no event for `silent_after_ms` while others keep sending, and, where the site's
    rhythm is known (`expected_events`: what it normally sends in the silent span), that span
    normally holds `silent_min_events` or more: a night or a closed day is not an outage."""
    if newest_ms is None:
        return Observation(active=False, clear=True, summary=f"{warehouse}: no traffic yet")
    lag = at_ms - newest_ms
    quiet_normally = expected_events is not None and expected_events < policy.silent_min_events
    silent = lag > policy.silent_after_ms and not quiet_normally
    minutes = max(0, lag) // MINUTE_MS
    last = format_rfc3339_ms(newest_ms)
    summary = (
        f"{warehouse}: no events for {_duration_text(minutes)} of event time while"
        f" {others_moving} other warehouse{'' if others_moving == 1 else 's'} keep sending"
        f" (last event {last})"
    )
    if expected_events is not None:
        summary += f"; it normally sends about {expected_events:,.0f} in that time"
    return Observation(
        active=silent and others_moving > 0,
        clear=lag <= policy.silent_after_ms,
        escalate=lag > policy.silent_critical_after_ms,
        deescalate=False,
        summary=summary,
        signals={
            "last_event_at": last,
            "minutes_silent": minutes,
            "warehouses_moving": others_moving,
            "expected_events": None if expected_events is None else round(expected_events, 1),
        },
    )


# ---- formatting -------------------------------------------------------------------------------


def _finite(value: float | None) -> float | None:
    """JSON has no infinity: unbounded is null."""
    if value is None or value == float("inf"):
        return None
    return round(value, 4)


def _rate(per_hour: float) -> str:
    return f"{per_hour:,.0f}" if per_hour >= 10 else f"{per_hour:.1f}"


def _hours(hours: float) -> str:
    if hours < 1:
        return f"{round(hours * 60)} min"
    return f"{hours:,.0f} h" if hours >= 10 else f"{hours:.1f} h"


def _duration_text(minutes: int) -> str:
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes / 60:.1f} h"
