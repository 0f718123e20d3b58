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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

from ordermon.agents.logic.alerts import FIRING, Episode, Observation, Timing, step
from ordermon.agents.logic.flow import (
    FLOW_INDEX,
    FlowConfig,
    QueueStatus,
    Snapshot,
    WarehouseState,
    queue_status,
)
from ordermon.agents.logic.policy import Policy, QueuePolicy
from ordermon.agents.logic.sliding import WINDOWS_MS, window_sums
from ordermon.agents.logic.trend import (
    DAY_MS,
    DailyTotals,
    busy_capacity,
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
STATE_VERSION: Final = 1

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

    def to_json(self) -> dict[str, Any]:
        return {
            "v": STATE_VERSION,
            "warehouse": self.warehouse,
            "last_at": self.last_at_ms,
            "episodes": [e.to_json() for e in _ordered(self.episodes.values())],
            "days": self.daily.to_json(),
            "first_in": dict(sorted(self.first_inflow_ms.items())),
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
    if data.get("v") != STATE_VERSION:
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
    base policy or the warehouse's own: the warehouse's override is applied either way."""
    if det.last_at_ms is not None and at_ms <= det.last_at_ms:
        return []
    warehouse = flow_state.warehouse
    policy = policy.for_warehouse(warehouse)
    det.warehouse = warehouse
    snap, spans = signals_at(flow_state, flow_config, at_ms, policy)
    bucket = flow_state.minutes.get(at_ms - MINUTE_MS)
    orders = bucket.counts[FLOW_INDEX["orders_placed"]] if bucket else 0
    dispatched = bucket.counts[FLOW_INDEX["dispatches_dispatched"]] if bucket else 0
    dq = snap.queues["dispatch"]
    busy = (
        dq.hours_to_clear is not None
        and dq.outflow_rate > 0
        and dq.hours_to_clear >= policy.capacity_busy_hours
    )
    det.daily.fold(at_ms, orders, dispatched, dq.backlog, policy.forecast_history_days, busy)

    out: list[Alert] = []
    held = Timing(policy.for_ms, policy.clear_hold_ms, policy.renotify_ms)
    for queue in QUEUE_NAMES:
        kind = BACKPRESSURE_KINDS[queue]
        q = snap.queues[queue]
        qp = policy.queues[queue]
        if q.inflow_rate > 0 and queue not in det.first_inflow_ms:
            det.first_inflow_ms[queue] = at_ms
        first = det.first_inflow_ms.get(queue)
        warm = first is not None and at_ms - first >= qp.warmup_ms
        window_ms, enough, settled = spans[queue]
        obs = queue_observation(warehouse, q, qp, snap, window_ms / MINUTE_MS, settled)
        obs = replace(obs, signals={**obs.signals, "window_minutes": window_ms // MINUTE_MS})
        if not (warm and enough):
            obs = replace(obs, active=False)  # not judged yet: no evidence either way
        out += _some(_advance(det.episodes, kind, kind, warehouse, obs, at_ms, held))

    cascade_timing = Timing(policy.cascade_for_ms, policy.cascade_clear_hold_ms, policy.renotify_ms)
    obs = cascade_observation(warehouse, det, snap, policy)
    out += _some(_advance(det.episodes, CASCADE, CASCADE, warehouse, obs, at_ms, cascade_timing))

    obs = forecast_observation(warehouse, det, at_ms, policy)
    out += _some(_advance(det.episodes, FORECAST, FORECAST, warehouse, obs, at_ms, held))
    det.last_at_ms = at_ms
    return out


def signals_at(
    flow_state: WarehouseState, flow_config: FlowConfig, at_ms: int, policy: Policy
) -> tuple[Snapshot, dict[str, tuple[int, bool, float | None]]]:
    """The warehouse's signals at `at_ms` from what happened before it: flow rates over the
    horizon, and each queue over the shortest window (horizon, 1 h, 2 h, ... up to the queue's
    `max_window_ms`) that holds `min_events`. Also, per queue, (window used, enough events,
    pressure over the clear window)."""
    horizon = flow_config.horizon_ms
    windows = tuple(sorted({horizon, *WINDOWS_MS}))
    sums = window_sums(flow_state, at_ms, windows)
    queues: dict[str, QueueStatus] = {}
    spans: dict[str, tuple[int, bool, float | None]] = {}
    for queue in QUEUES:
        qp = policy.queues[queue.name]
        flows = [FLOW_INDEX[f] for f in (*queue.inflow, *queue.outflow)]
        enough = False
        shortest = max(horizon, qp.min_window_ms)
        chosen = shortest if shortest in sums.sums else horizon
        for w in windows:
            if w < shortest or w > max(qp.max_window_ms, shortest):
                continue
            chosen = w
            if sum(sums.sums[w][i] for i in flows) >= qp.min_events:
                enough = True
                break
        queues[queue.name] = queue_status(queue, sums.sums[chosen], sums.before, chosen / MINUTE_MS)
        long = qp.clear_window_ms
        settled = None
        if long in sums.sums:
            settled = queue_status(queue, sums.sums[long], sums.before, long / MINUTE_MS).pressure
        spans[queue.name] = (chosen, enough, settled)
    horizon_min = horizon / MINUTE_MS
    counts = sums.sums[horizon]
    snap = Snapshot(
        warehouse=flow_state.warehouse,
        at_ms=at_ms,
        rates={f: counts[i] / horizon_min for i, f in enumerate(FLOWS)},
        totals={f: flow_state.totals[i] for i, f in enumerate(FLOWS)},
        queues=queues,
        late=flow_state.late,
    )
    return snap, spans


def _some(message: Alert | None) -> list[Alert]:
    return [] if message is None else [message]


def hours_to_sla_breach(q: QueueStatus, sla_hours: float) -> float | None:
    """While inflow outruns outflow, hours until the wait (backlog / outflow) passes the SLA:
    (SLA × outflow − backlog) / (inflow − outflow), 0 when it already has; else None."""
    if q.inflow_rate <= q.outflow_rate:
        return None
    inflow_h, outflow_h = q.inflow_rate * 60, q.outflow_rate * 60
    return max(0.0, (sla_hours * outflow_h - q.backlog) / (inflow_h - outflow_h))


def queue_observation(
    warehouse: str,
    q: QueueStatus,
    qp: QueuePolicy,
    snap: Snapshot,
    horizon_min: float,
    settled: float | None = None,
) -> Observation:
    """`settled`: the queue's pressure over its clear window (a day by default); the backpressure
    is over when the queue is drained, or when the pressure is at or below the clear mark both
    now and over that window (a quiet night does not end a backlog that grows day after day)
    and the wait is back under the service level."""
    pressure = q.pressure
    breach = hours_to_sla_breach(q, qp.sla_hours)
    active = pressure is not None and pressure > qp.fire_pressure and q.backlog >= qp.min_backlog
    calm_now = pressure is not None and pressure <= qp.clear_pressure
    calm_long = settled is None or settled <= qp.clear_pressure
    # a backlog that stopped growing but still waits past the service level is not over (in
    # 2008 customers cancelled what waited too long: the queue stops growing, the wait does not)
    within_sla = q.hours_to_clear is not None and q.hours_to_clear < qp.sla_hours
    clear = not active and (
        q.backlog <= qp.drained_backlog or (calm_now and calm_long and within_sla)
    )
    wait = q.hours_to_clear if q.hours_to_clear is not None else float("inf")  # None: stalled
    escalate = q.backlog > 0 and (
        wait >= qp.sla_hours or (breach is not None and breach <= qp.critical_margin_hours)
    )
    deescalate = wait < qp.sla_hours * qp.deescalate_ratio and (
        breach is None or breach > qp.critical_margin_hours / qp.deescalate_ratio
    )
    signals: dict[str, float | int | str | None] = {"queue": q.queue}
    if q.queue == "dispatch":
        signals["order_rate"] = round(snap.rates["orders_placed"], 4)
        signals["dispatch_rate"] = round(snap.rates["dispatches_dispatched"], 4)
    signals.update(
        inflow_rate=round(q.inflow_rate, 4),
        outflow_rate=round(q.outflow_rate, 4),
        pressure=_finite(pressure),
        backlog=q.backlog,
        hours_to_clear=_finite(q.hours_to_clear),
        hours_to_sla_breach=_finite(breach),
        sla_hours=qp.sla_hours,
    )
    return Observation(
        active=active,
        clear=clear,
        escalate=escalate,
        deescalate=deescalate,
        summary=queue_summary(warehouse, q, qp, breach, horizon_min),
        signals=signals,
    )


def queue_summary(
    warehouse: str, q: QueueStatus, qp: QueuePolicy, breach: float | None, horizon_min: float
) -> str:
    """E.g. "BJ-01: orders 42/min outrun dispatch 35/min (pressure 1.20); 1,240 parcels waiting,
    35 h to clear at the current pace"."""
    inflow, outflow, waiting = _WORDS.get(q.queue, (q.queue + " in", q.queue + " out", "waiting"))
    if q.outflow_rate == 0 and q.inflow_rate == 0:
        flows = f"no {inflow} and no {outflow} in the last {horizon_min:g} min"
    elif q.outflow_rate == 0:
        flows = (
            f"{inflow} {_rate(q.inflow_rate)}/min and no {outflow} in the last {horizon_min:g} min"
        )
    elif q.pressure is not None and q.pressure > 1:
        flows = (
            f"{inflow} {_rate(q.inflow_rate)}/min outrun {outflow} {_rate(q.outflow_rate)}/min"
            f" (pressure {q.pressure:.2f})"
        )
    else:
        flows = (
            f"{inflow} {_rate(q.inflow_rate)}/min, {outflow} {_rate(q.outflow_rate)}/min"
            f" (pressure {q.pressure or 0:.2f})"
        )
    if q.backlog == 0:
        backlog = f"no {waiting.split()[0]} waiting"
    elif q.hours_to_clear is None:
        backlog = f"{q.backlog:,} {waiting}, not clearing at the current pace"
    else:
        backlog = (
            f"{q.backlog:,} {waiting}, {_hours(q.hours_to_clear)} to clear at the current pace"
        )
    sla = f"{qp.sla_hours:g} h service level"
    if q.backlog > 0 and (q.hours_to_clear is None or q.hours_to_clear >= qp.sla_hours):
        backlog += f", past the {sla}"
    elif breach is not None:
        backlog += f", past the {sla} in {_hours(breach)}"
    return f"{warehouse}: {flows}; {backlog}"


def cascade_observation(
    warehouse: str, det: DetectorState, snap: Snapshot, policy: Policy
) -> Observation:
    firing_queues = [
        queue
        for queue in QUEUE_NAMES
        if (e := det.episodes.get(BACKPRESSURE_KINDS[queue])) is not None and e.phase == FIRING
    ]
    critical = any(
        det.episodes[BACKPRESSURE_KINDS[q]].severity == "critical" for q in firing_queues
    )
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
    days = det.daily.days
    capacity = policy.dispatch_capacity_per_day
    source = "configured"
    if capacity is None:
        capacity = busy_capacity(days, 7, policy.capacity_busy_minutes)
        source = "busy-time"
    if capacity is None:
        min_backlog = policy.queues["dispatch"].min_backlog
        capacity = observed_capacity(
            days,
            policy.capacity_sustain_days,
            min_backlog if policy.capacity_requires_backlog else None,
        )
        source = "observed"
    fc = None
    if capacity is not None:
        fc = forecast(days, at_ms, capacity, policy.forecast_fit_days, policy.forecast_min_days)
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
    to_cross_ms = fc.days_to_cross * DAY_MS
    active = to_cross_ms <= policy.forecast_lookahead_ms
    trend = f"{fc.level_per_day:,.0f}/day, {fc.growth_per_day * 100:+.1f}%/day"
    capacity_text = f"the {source} dispatch capacity of {fc.capacity_per_day:,.0f}/day"
    crosses_at = None if fc.crosses_at_ms is None else format_rfc3339_ms(fc.crosses_at_ms)
    if fc.days_to_cross == 0:
        summary = f"{warehouse}: daily orders (trend {trend}) are already above {capacity_text}"
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


# ---- the network ------------------------------------------------------------------------------


def in_backpressure(det: DetectorState) -> bool:
    """Whether any of the warehouse's backpressure alerts is firing."""
    kinds = BACKPRESSURE_KINDS.values()
    return any(e.phase == FIRING and e.kind in kinds for e in det.episodes.values())


def evaluate_network(
    net: NetworkState,
    warehouses: Mapping[str, tuple[DetectorState, int | None]],
    at_ms: int,
    policy: Policy,
) -> list[Alert]:
    """Network-wide alerts at `at_ms` (the newest watermark of the worker's warehouses), from
    each warehouse's detector state and newest event time. An `at_ms` older than the last one
    is skipped (time does not go back). Silent episodes of warehouses no longer passed in (moved
    to another worker) are dropped without a message."""
    if net.last_at_ms is not None and at_ms < net.last_at_ms:
        return []
    net.last_at_ms = at_ms
    for key, episode in list(net.episodes.items()):
        if episode.warehouse != NETWORK_KEY and episode.warehouse not in warehouses:
            del net.episodes[key]

    moving = {
        w
        for w, (_, newest) in warehouses.items()
        if newest is not None and at_ms - newest <= policy.for_warehouse(w).silent_after_ms
    }
    out: list[Alert] = []
    obs = network_cascade_observation(warehouses, moving, policy)
    timing = Timing(policy.cascade_for_ms, policy.cascade_clear_hold_ms, policy.renotify_ms)
    key = f"{CASCADE}:{NETWORK_KEY}"
    out += _some(_advance(net.episodes, key, CASCADE, NETWORK_KEY, obs, at_ms, timing))

    for warehouse in sorted(warehouses):
        _, newest = warehouses[warehouse]
        wp = policy.for_warehouse(warehouse)
        obs = silent_observation(warehouse, newest, at_ms, len(moving - {warehouse}), wp)
        timing = Timing(0, 0, wp.renotify_ms)  # silent_after_ms is the hold; one event clears
        key = f"{SILENT}:{warehouse}"
        out += _some(_advance(net.episodes, key, SILENT, warehouse, obs, at_ms, timing))
    return out


def network_cascade_observation(
    warehouses: Mapping[str, tuple[DetectorState, int | None]], moving: set[str], policy: Policy
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
    warehouse: str, newest_ms: int | None, at_ms: int, others_moving: int, policy: Policy
) -> Observation:
    if newest_ms is None:
        return Observation(active=False, clear=True, summary=f"{warehouse}: no traffic yet")
    lag = at_ms - newest_ms
    silent = lag > policy.silent_after_ms
    minutes = max(0, lag) // MINUTE_MS
    last = format_rfc3339_ms(newest_ms)
    summary = (
        f"{warehouse}: no events for {_duration_text(minutes)} of event time while"
        f" {others_moving} other warehouse{'' if others_moving == 1 else 's'} keep sending"
        f" (last event {last})"
    )
    return Observation(
        active=silent and others_moving > 0,
        clear=not silent,
        escalate=lag > policy.silent_critical_after_ms,
        deescalate=False,
        summary=summary,
        signals={
            "last_event_at": last,
            "minutes_silent": minutes,
            "warehouses_moving": others_moving,
        },
    )


# ---- formatting -------------------------------------------------------------------------------


def _finite(value: float | None) -> float | None:
    """JSON has no infinity: unbounded is null."""
    if value is None or value == float("inf"):
        return None
    return round(value, 4)


def _rate(per_min: float) -> str:
    return f"{per_min:,.0f}" if per_min >= 10 else f"{per_min:.1f}"


def _hours(hours: float) -> str:
    if hours < 1:
        return f"{round(hours * 60)} min"
    return f"{hours:,.0f} h" if hours >= 10 else f"{hours:.1f} h"


def _duration_text(minutes: int) -> str:
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes / 60:.1f} h"
