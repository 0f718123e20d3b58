"""Alert thresholds and intervals: one frozen `Policy`, built from a mapping (JSON or TOML).

Every default is configuration, not code: it is documented below with its unit and the reason
for the value. Durations are integer milliseconds of *event time*; in a mapping they may also be
written as text with a unit (``"30m"``, ``"24h"``, ``"14d"``, ``"90s"``, ``"500ms"``).

Shape of a mapping (every key optional; unknown keys are an error, so a typo is never ignored)::

    {
      "for_ms": "30m",
      "queues": {"dispatch": {"fire_pressure": 1.2, "sla_hours": 12}},
      "warehouses": {"BJ-01": {"dispatch_capacity_per_day": 14000, "queues": {...}}}
    }

A warehouse's entry overrides the base policy key by key (``queues`` queue by queue and field by
field); `Policy.for_warehouse` returns the merged policy.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Final

from ordermon.agents.logic.errors import PolicyError
from ordermon.agents.logic.schedule import Calendar, parse_calendar
from ordermon.streams.flows import QUEUE_NAMES

__all__ = ["Calendar", "Policy", "PolicyError", "QueuePolicy"]

MINUTE_MS: Final = 60_000
HOUR_MS: Final = 60 * MINUTE_MS
DAY_MS: Final = 24 * HOUR_MS


def _at_least(key: str, value: float, low: float) -> None:
    if value < low:
        raise PolicyError(key, value, f"must be at least {low}")


def _positive(key: str, value: float) -> None:
    if not value > 0:
        raise PolicyError(key, value, "must be above 0")


@dataclass(frozen=True, slots=True)
class QueuePolicy:
    """Thresholds of one queue's `<queue>_backpressure` alert."""

    fire_pressure: float = 1.10
    """Inflow/outflow ratio (no unit) over the stall window (30 min) above which an outflow far
    below normal is a stall (inflow goes on); 1.10, a few percent above the wobble of a healthy
    queue's rates."""

    clear_pressure: float = 1.00
    """Ratio at or below which a stall is over (hysteresis: below `fire_pressure`); 1.00: the
    backlog no longer grows."""

    min_backlog: int = 100
    """Items waiting (parcels, complaints, refunds) below which no alert fires, so that a
    pressure of 3 over a handful of events does not page anyone."""

    drained_backlog: int = 50
    """Items waiting at or below which the backpressure is over whatever the pressure (the queue
    is drained); at most `min_backlog`, half of it by default (hysteresis on the backlog too)."""

    sla_hours: float = 24.0
    """Service level in hours: the longest acceptable wait. An item's wait is about
    backlog / outflow (Little's law), shown as `hours_to_clear`."""

    critical_margin_hours: float = 6.0
    """Hours: severity becomes critical once the wait already exceeds `sla_hours`, or will
    within this margin at the current rates (`hours_to_sla_breach`). A quarter of the SLA by
    default: a shift's worth of time to add staff or reroute orders."""

    deescalate_ratio: float = 0.75
    """Critical goes back to warning only when the wait is below this fraction of `sla_hours`
    and the breach is more than `critical_margin_hours / deescalate_ratio` away (no flapping
    between severities around one mark)."""

    min_events: int = 40
    """Items the normal outflow of the stall window (30 min) must hold before a stall is judged
    at all: a ratio of two counts of 4 is noise (Poisson: +-50%), of 40 is +-16%. A queue that
    small is judged over whole days only (sustained growth)."""
    warmup_ms: int = 0
    """Milliseconds of event time after the queue's first inflow before it is judged or learned
    from at all (and never its first day, when it fills up from empty). A queue whose items
    legitimately take days (a parcel in transit) has no outflow yet when the stream begins: it
    is judged only once one full service time has passed. 0 for dispatch."""

    fire_growth: float = 0.08
    """Sustained backpressure: the backlog's growth over the last whole day beyond the growth
    normal for this hour of the week, and its excess over the normal backlog of this hour of
    the week, both as a fraction of a day's throughput, must pass this mark (0.08: the wait
    grows by about 2 h a day; a 10% overload passes it within a day), and the counting noise of
    the backlogs they come from (three Poisson deviations, `counting_noise` in
    agents.logic.backpressure: what a small site's randomness alone moves). A backlog that rises
    in the evening and is gone by noon is the site's rhythm; one higher each morning than the
    last is not."""

    stall_ratio: float = 0.6
    """Acute stall: outflow over the last 30 minutes below this fraction of what this site
    normally does at this hour of the week (its working hours only), while inflow outruns it
    (pressure above `fire_pressure`) and a quarter of an hour of normal work waits. 0.6: a team
    that keeps up works below its capacity, so a line at a fifth of its pace still shows 40-50%
    of the normal outflow. The outflow must also be one that Poisson chance gives less than once
    in 10,000 windows (agents.logic.backpressure.STALL_SIGNIFICANCE): with `min_events` (40) in
    the normal window that is 18 or fewer (0.45 of normal); from about 100 the ratio decides."""

    resume_ratio: float = 0.8
    """A stall is over once outflow is back above this fraction of the normal for the hour."""

    surge_ratio: float = 1.5
    """Surge of arrivals (the `service` and `refund` queues only: their inflow is a share of a
    stream the site does not control, complaints of deliveries, refund requests of resolutions;
    see agents.logic.surge): arrivals over the last 6 hours per upstream item at least this
    many times their share in the same hours of the previous days and weeks, beyond Poisson
    chance (less than once in 10,000 windows), and at that pace more a day than the team has
    shown it serves. 1.5: a desk 50% above its load keeps up below it; orders growing 2% a day
    leave the share as it is. It resolves once, in a window where at least 10 arrivals are
    normal (six hours, stretched up to a day where fewer; it fires on six hours only), the
    share is back below halfway to this mark (1.25) or chance explains it (p 0.05 or more),
    and the backlog is not growing: a night with a handful of deliveries tells nothing, and the
    alert holds through it."""

    def __post_init__(self) -> None:
        _positive("fire_pressure", self.fire_pressure)
        _positive("fire_growth", self.fire_growth)
        if not 0 < self.stall_ratio < self.resume_ratio <= 1:
            raise PolicyError(
                "stall_ratio",
                self.stall_ratio,
                f"must lie in (0, resume_ratio) and resume_ratio ({self.resume_ratio}) in (0, 1]",
            )
        _positive("clear_pressure", self.clear_pressure)
        if not self.surge_ratio > 1:
            raise PolicyError("surge_ratio", self.surge_ratio, "must be above 1")
        if self.fire_pressure <= self.clear_pressure:
            raise PolicyError(
                "fire_pressure",
                self.fire_pressure,
                f"must be above clear_pressure ({self.clear_pressure}), or alerts would flap",
            )
        _at_least("min_backlog", self.min_backlog, 0)
        _at_least("drained_backlog", self.drained_backlog, 0)
        if self.drained_backlog > self.min_backlog:
            raise PolicyError(
                "drained_backlog",
                self.drained_backlog,
                f"must not exceed min_backlog ({self.min_backlog})",
            )
        _at_least("min_events", self.min_events, 0)
        _positive("sla_hours", self.sla_hours)
        _at_least("critical_margin_hours", self.critical_margin_hours, 0)
        if not 0 < self.deescalate_ratio < 1:
            raise PolicyError(
                "deescalate_ratio", self.deescalate_ratio, "must lie strictly between 0 and 1"
            )


QUEUE_DEFAULTS: Final[Mapping[str, QueuePolicy]] = {
    # Parcels should leave the warehouse within a day: next-day delivery depends on it.
    "dispatch": QueuePolicy(
        min_backlog=100, drained_backlog=50, sla_hours=24.0, critical_margin_hours=6.0
    ),
    # Carriers deliver within three days; a carrier holds more parcels than a warehouse.
    "delivery": QueuePolicy(
        min_backlog=200,
        drained_backlog=100,
        sla_hours=72.0,
        critical_margin_hours=18.0,
        warmup_ms=4 * DAY_MS,  # the longest normal transit, and a day of window
        # Deliveries follow hand-overs by 1-3 days: parcels in transit swing with the weekday
        # mix of hand-overs (and carriers that do not deliver on Sundays) by a fifth of a day
        # from one week to the next; a carrier failure piles up whole days.
        fire_growth=0.25,
    ),
    # A complaint should get an answer within two days; dozens waiting is already a queue.
    "service": QueuePolicy(
        min_backlog=20,
        drained_backlog=10,
        sla_hours=48.0,
        fire_growth=0.1,
        critical_margin_hours=12.0,
        warmup_ms=3 * DAY_MS,  # complaints follow deliveries (1-3 days) by a day or more
    ),
    # Refunds should be paid within three days (consumer-protection rules allow more; customers
    # do not wait that long before they leave).
    "refund": QueuePolicy(
        min_backlog=20,
        drained_backlog=10,
        sla_hours=72.0,
        fire_growth=0.1,
        critical_margin_hours=18.0,
        warmup_ms=4 * DAY_MS,  # refunds follow complaints
    ),
}


def _default_queues() -> dict[str, QueuePolicy]:
    return dict(QUEUE_DEFAULTS)


@dataclass(frozen=True, slots=True)
class Policy:
    """Thresholds and intervals of every alert kind. Times are event time."""

    for_ms: int = 30 * MINUTE_MS
    """Milliseconds a backpressure or forecast condition must hold, pending, before it fires:
    30 min, two horizons of 15-minute rates, so that a burst (a flash sale's first minutes, a
    truck leaving late) does not page anyone."""

    clear_hold_ms: int = 15 * MINUTE_MS
    """Milliseconds the clear condition must hold before a firing alert resolves: 15 min, one
    horizon, so that one calm quarter of an hour is needed, not one calm minute."""

    renotify_ms: int = 60 * MINUTE_MS
    """Milliseconds between repeats of a firing alert on the alerts topic: 1 h, so that a
    consumer that joined late, or lost a message, learns of a firing alert within the hour
    (Alertmanager adds its own repeat interval)."""

    queues: Mapping[str, QueuePolicy] = field(default_factory=_default_queues)
    """Thresholds per queue (`dispatch`, `delivery`, `service`, `refund`); see `QueuePolicy`."""

    cascade_min_queues: int = 2
    """Queues of one warehouse firing backpressure at once that make a `cascade`: 2, the start
    of the 2008 pattern (parcels stuck, then complaints, then refunds)."""

    cascade_for_ms: int = 0
    """Milliseconds before a cascade fires: 0, because the backpressure alerts it is made of
    have already waited their own `for_ms`."""

    cascade_clear_hold_ms: int = 0
    """Milliseconds before a cascade resolves: 0, its parts have already held `clear_hold_ms`."""

    cascade_network_share: float = 0.5
    """Fraction (0-1] of the warehouses with traffic that must fire backpressure for the network
    `cascade` (warehouse ``*``): half, a problem of the network rather than of some sites."""

    cascade_network_critical_share: float = 0.75
    """Fraction of warehouses in backpressure at which the network cascade is critical; it
    returns to warning below the midpoint of this and `cascade_network_share`."""

    cascade_min_warehouses: int = 3
    """Warehouses in backpressure needed at least for the network cascade, so that one site of a
    two-site network is not called a network-wide cascade."""

    silent_after_ms: int = 30 * MINUTE_MS
    """Milliseconds of event time a warehouse that had traffic may lag behind the newest
    watermark of the network before `warehouse_silent` fires: 30 min, longer than the quiet
    spells of a small site, short enough to catch a broken publisher within a shift."""

    silent_critical_after_ms: int = 2 * HOUR_MS
    """Milliseconds of silence after which `warehouse_silent` is critical: 2 h."""

    silent_min_events: float = 10.0
    """Arrivals (orders, deliveries, complaints, refund requests: not the site's own work, which
    follows them) the warehouse has at the least in the silent span (each hour's quietest count
    over the previous days and weeks, see `Rhythm.normal_events`), needed before its silence
    counts: a site that is quiet then (a night, a closed Sunday, a small site between orders) is
    not silent. 10: a stream that sends ten arrivals in that span sends none by chance less than
    once in 20,000 times (Poisson: e^-10)."""

    forecast_lookahead_ms: int = 14 * DAY_MS
    """Milliseconds ahead within which the order trend crossing dispatch capacity fires
    `forecast_overload`: two weeks, the time it takes to hire and train a shift."""

    forecast_clear_lookahead_ms: int = 21 * DAY_MS
    """The forecast resolves once the crossing is further away than this (or the trend no longer
    crosses): three weeks, hysteresis against a fit that moves by a day from one day to the
    next."""

    forecast_critical_ms: int = 3 * DAY_MS
    """Milliseconds: the forecast is critical when the crossing is this close (or passed), and
    warning again once it is more than twice as far."""

    forecast_fit_days: int = 21
    """Complete days of order totals the trend is fitted to (at most; fewer while the site is
    new): three weeks, each weekday seen three times, so its level and the growth are told
    apart; recent enough to follow a change of growth."""

    forecast_min_days: int = 14
    """Complete days needed before any forecast: two weeks, each weekday seen twice (9 at the
    least: each weekday's level, the growth and one day to judge the noise by; with fewer than
    two weeks the noise is judged from a few days and a lucky week reads as growth)."""

    forecast_history_days: int = 28
    """Days of daily aggregates kept in the detector state (bounded): four weeks, enough for
    the fit and for the capacity estimate."""

    capacity_sustain_days: int = 3
    """Consecutive complete days whose mean dispatch count is a "sustained" daily dispatch rate;
    the highest of those is the observed capacity. 3 days: one good day is not a capacity."""

    capacity_requires_backlog: bool = True
    """Count only days that ended with a dispatch backlog of at least the dispatch queue's
    `min_backlog` toward the observed capacity. A warehouse that clears its queue dispatches what
    is ordered, not what it could: its dispatch count says nothing about capacity, and taking it
    as one would forecast an overload for every growing warehouse."""

    capacity_busy_hours: float = 0.25
    """An hour counts as *busy* for the capacity estimate when the dispatch backlog never fell
    below this many hours of what the hour served (a quarter of an hour of parcels always in
    front of the team: it was never idle, so what it served is what it can; see
    `Rhythm.busy_pace`)."""
    capacity_busy_minutes: int = 180
    """Busy time (in minutes: whole busy hours x 60) needed in the last 7 days before the
    busy-time capacity is trusted: 3 hours."""
    dispatch_capacity_per_day: float | None = None
    """Parcels a day the warehouse can dispatch, if known (set per warehouse); None means use
    the observed capacity."""

    rhythm_weeks: int = 3
    """Weeks of hourly history each queue's normal (by hour of the week) is learned from: the
    median of the same hour over the last 3 weeks, so one bad week is outvoted. Until a site has
    a week of history it is judged over whole days only (no stalls, no hour-of-week normal)."""

    idle_share: float = 0.1
    """An hour of the week whose normal outflow is below this share of the site's mean hourly
    outflow is an idle hour (off shift, closed desk, between pickups): never judged for a
    stall, and its slowness never makes a wait infinite."""

    calendar: Calendar | None = None
    """Declared working hours, pickups and holidays (see `ordermon.agents.logic.schedule`); None:
    the rhythm is learned. Usually set per warehouse (`[warehouses.<id>.calendar]`)."""

    warehouses: Mapping[str, Policy] = field(default_factory=dict, repr=False)
    """Per-warehouse policies, already merged with this one (see `for_warehouse`)."""

    def __post_init__(self) -> None:
        for name in ("for_ms", "clear_hold_ms", "cascade_for_ms", "cascade_clear_hold_ms"):
            _at_least(name, getattr(self, name), 0)
        for name in (
            "renotify_ms",
            "silent_after_ms",
            "forecast_lookahead_ms",
            "forecast_critical_ms",
        ):
            _at_least(name, getattr(self, name), 1)
        missing = [q for q in QUEUE_NAMES if q not in self.queues]
        if missing:
            raise PolicyError("queues", sorted(self.queues), f"lacks queue(s) {missing}")
        if not 2 <= self.cascade_min_queues <= len(QUEUE_NAMES):
            raise PolicyError(
                "cascade_min_queues",
                self.cascade_min_queues,
                f"must be between 2 and {len(QUEUE_NAMES)}",
            )
        if not 0 < self.cascade_network_share <= 1:
            raise PolicyError(
                "cascade_network_share", self.cascade_network_share, "must be in (0, 1]"
            )
        if not self.cascade_network_share <= self.cascade_network_critical_share <= 1:
            raise PolicyError(
                "cascade_network_critical_share",
                self.cascade_network_critical_share,
                f"must be between cascade_network_share ({self.cascade_network_share}) and 1",
            )
        _at_least("cascade_min_warehouses", self.cascade_min_warehouses, 1)
        if self.silent_critical_after_ms < self.silent_after_ms:
            raise PolicyError(
                "silent_critical_after_ms",
                self.silent_critical_after_ms,
                f"must be at least silent_after_ms ({self.silent_after_ms})",
            )
        if self.forecast_clear_lookahead_ms < self.forecast_lookahead_ms:
            raise PolicyError(
                "forecast_clear_lookahead_ms",
                self.forecast_clear_lookahead_ms,
                f"must be at least forecast_lookahead_ms ({self.forecast_lookahead_ms})",
            )
        _at_least("forecast_min_days", self.forecast_min_days, 9)
        if self.forecast_fit_days < self.forecast_min_days:
            raise PolicyError(
                "forecast_fit_days",
                self.forecast_fit_days,
                f"must be at least forecast_min_days ({self.forecast_min_days})",
            )
        if self.forecast_history_days < self.forecast_fit_days:
            raise PolicyError(
                "forecast_history_days",
                self.forecast_history_days,
                f"must be at least forecast_fit_days ({self.forecast_fit_days})",
            )
        _at_least("capacity_sustain_days", self.capacity_sustain_days, 1)
        if self.capacity_sustain_days > self.forecast_history_days:
            raise PolicyError(
                "capacity_sustain_days",
                self.capacity_sustain_days,
                f"must not exceed forecast_history_days ({self.forecast_history_days})",
            )
        _at_least("rhythm_weeks", self.rhythm_weeks, 1)
        _at_least("silent_min_events", self.silent_min_events, 0)
        if not 0 <= self.idle_share < 1:
            raise PolicyError("idle_share", self.idle_share, "must lie in [0, 1)")
        if self.dispatch_capacity_per_day is not None:
            _positive("dispatch_capacity_per_day", self.dispatch_capacity_per_day)

    def for_warehouse(self, warehouse: str) -> Policy:
        """The policy of one warehouse: its override merged over this one, or this one."""
        return self.warehouses.get(warehouse, self)

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> Policy:
        """Build and check a policy; raises PolicyError naming the bad key and value."""
        if not isinstance(mapping, Mapping):
            raise PolicyError("", mapping, "a policy must be a table / JSON object")
        base_raw = {k: v for k, v in mapping.items() if k != "warehouses"}
        base = _build(base_raw, "")
        overrides = mapping.get("warehouses", {})
        if not isinstance(overrides, Mapping):
            raise PolicyError("warehouses", overrides, "must map warehouse ids to tables")
        per_warehouse: dict[str, Policy] = {}
        for warehouse, override in overrides.items():
            prefix = f"warehouses.{warehouse}."
            if not isinstance(override, Mapping):
                raise PolicyError(prefix.rstrip("."), override, "must be a table / JSON object")
            if "warehouses" in override:
                raise PolicyError(f"{prefix}warehouses", override["warehouses"], "cannot nest")
            _check_keys(override, prefix)  # report the override's own key, not a merged one
            per_warehouse[str(warehouse)] = _build(_merge(base_raw, override), prefix)
        return replace(base, warehouses=per_warehouse)

    @classmethod
    def from_file(cls, path: str | Path) -> Policy:
        """Read a JSON (``.json``) or TOML (any other suffix) policy file."""
        path = Path(path)
        data = path.read_bytes()
        try:
            if path.suffix.lower() == ".json":
                mapping = json.loads(data)
            else:
                mapping = tomllib.loads(data.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise PolicyError(str(path), "<file>", f"not valid JSON or TOML: {exc}") from exc
        return cls.from_mapping(mapping)


# ---- building from a mapping ----------------------------------------------------------------

_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*\Z")
_UNIT_MS: Final = {"ms": 1, "s": 1000, "m": MINUTE_MS, "h": HOUR_MS, "d": DAY_MS}
_POLICY_FIELDS: Final = {f.name: f for f in fields(Policy) if f.name not in ("warehouses",)}
_TABLES: Final = ("queues", "calendar")
_QUEUE_FIELDS: Final = {f.name: f for f in fields(QueuePolicy)}


def _check_keys(raw: Mapping[str, Any], prefix: str) -> None:
    for key, value in raw.items():
        if key not in _POLICY_FIELDS:
            raise PolicyError(f"{prefix}{key}", value, _unknown(key, _POLICY_FIELDS))
        if key == "queues":
            if not isinstance(value, Mapping):
                raise PolicyError(f"{prefix}queues", value, "must map queue names to tables")
            for queue, table in value.items():
                if queue not in QUEUE_NAMES:
                    raise PolicyError(
                        f"{prefix}queues.{queue}", table, f"unknown queue; one of {QUEUE_NAMES}"
                    )
                if not isinstance(table, Mapping):
                    raise PolicyError(f"{prefix}queues.{queue}", table, "must be a table")
                for qkey, qvalue in table.items():
                    if qkey not in _QUEUE_FIELDS:
                        raise PolicyError(
                            f"{prefix}queues.{queue}.{qkey}", qvalue, _unknown(qkey, _QUEUE_FIELDS)
                        )


def _unknown(key: str, known: Mapping[str, Any]) -> str:
    return f"unknown key {key!r}; known keys: {', '.join(sorted(known))}"


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if key == "queues" and isinstance(value, Mapping):
            queues = {q: dict(t) for q, t in dict(base.get("queues", {})).items()}
            for queue, table in value.items():
                queues[queue] = {**queues.get(queue, {}), **dict(table)}
            merged["queues"] = queues
        else:
            merged[key] = value
    return merged


def _build(raw: Mapping[str, Any], prefix: str) -> Policy:
    _check_keys(raw, prefix)
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _TABLES:
            continue
        kwargs[key] = _convert(f"{prefix}{key}", _POLICY_FIELDS[key].type, value)
    if "calendar" in raw:
        kwargs["calendar"] = parse_calendar(raw["calendar"], f"{prefix}calendar")
    queues = dict(QUEUE_DEFAULTS)
    for queue, table in dict(raw.get("queues", {})).items():
        qprefix = f"{prefix}queues.{queue}."
        qkwargs = {
            qkey: _convert(f"{qprefix}{qkey}", _QUEUE_FIELDS[qkey].type, qvalue)
            for qkey, qvalue in table.items()
        }
        try:
            queues[queue] = replace(QUEUE_DEFAULTS[queue], **qkwargs)
        except PolicyError as exc:
            raise exc.under(qprefix) from None
    try:
        return Policy(queues=queues, **kwargs)
    except PolicyError as exc:
        raise exc.under(prefix) from None


def _convert(key: str, annotation: object, value: Any) -> Any:
    kind = str(annotation)
    if kind == "int" and key.endswith("_ms"):
        return _duration(key, value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise PolicyError(key, value, "must be true or false")
        return value
    if kind == "float | None" and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PolicyError(key, value, "must be a number")
    if not math.isfinite(value):
        raise PolicyError(key, value, "must be a finite number")
    if kind == "int":
        if isinstance(value, float) and not value.is_integer():
            raise PolicyError(key, value, "must be a whole number")
        return int(value)
    return float(value)


def _duration(key: str, value: Any) -> int:
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match is None:
            raise PolicyError(
                key, value, "must be milliseconds or a duration like '90s', '30m', '24h', '14d'"
            )
        return round(float(match.group(1)) * _UNIT_MS[match.group(2)])
    if isinstance(value, bool) or not isinstance(value, int):
        raise PolicyError(key, value, "must be whole milliseconds or a duration like '30m'")
    return value
