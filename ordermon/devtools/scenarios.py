"""The short fixed-pace scenarios (`steady`, `jd2008`, `flash_sale`, ...) as configurations of the
one traffic model, `ordermon.devtools.operations`.

A fixed-pace warehouse is the model's special case of teams on duty around the clock: the dispatch
team packs at a fixed capacity per hour (`dispatch_per_day`), the service desk resolves complaints
at 10% of it and finance pays refunds at 4% of it (`desk_per_day`, `finance_per_day`), carriers
deliver 1-3 days later at any hour, and customers whose parcel waited more than 4 hours for
dispatch complain more (+1.2% per hour, `late_complaints`), so a dispatch backlog cascades into the
desk and finance. Orders follow a daily cycle in the warehouses' local time (UTC+8), as Poisson
arrivals without day-to-day noise unless a scenario adds it. Everything else (FIFO at capacity,
cancellations, arrival order with topics up to a minute apart, contract wire JSON) is the model's.

The network of the short scenarios is five warehouses (`NETWORK`) from Saturday 2008-03-01, 00:00
UTC (08:00 in Beijing). Every factory takes ``seed``, ``days`` (None: the scenario's length) and
``scale`` (orders and capacities x scale) and returns an `operations.Scenario` whose `truths` say
which alert should fire where (none for the benign ones).

Run ``python -m ordermon.devtools.scenarios`` to print each scenario's message counts.
"""

from __future__ import annotations

import math
import random
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from typing import Final

from ordermon.devtools.operations import (
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    Calendar,
    Scenario,
    Site,
    Truth,
    Window,
    week,
)
from ordermon.devtools.operations import hours as span_hours

MONTH_DAYS: Final = 30  # growth "per month" compounds over 30 days
START_MS: Final = 1_204_329_600_000  # 2008-03-01T00:00:00Z, a Saturday (08:00 in Beijing)
CHINA_OFFSET_MS: Final = 8 * HOUR_MS  # daily cycles and weekends follow UTC+8
SERVICE_SHARE: Final = 0.10  # the desk's pace as a share of dispatch capacity
FINANCE_SHARE: Final = 0.04  # finance's pace as a share of dispatch capacity
LATE_PER_HOUR: Final = 0.012  # complaint probability per hour of dispatch wait beyond 4 hours
ALWAYS: Final = Calendar(week(span_hours((0, 24))))  # a team on duty around the clock

# Hourly order weights in local time (hour 0 = 00:00-01:00); the model normalises them.
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
# the alerts that are true pages once a jd2008 site is past its crossing
JD2008_ALSO: Final = (
    "dispatch_backpressure",
    "service_backpressure",
    "refund_backpressure",
    "cascade",
)


def fixed_pace(
    warehouse: str,
    orders_per_hour: float,
    capacity_per_hour: float,
    *,
    growth_per_month: float = 0.0,
    cycle: tuple[float, ...] = DAY_CYCLE,
    weekend_factor: float = 1.0,
    noise_shape: float = 0.0,
    bursts: tuple[Window, ...] = (),
) -> Site:
    """A warehouse whose teams work around the clock at fixed paces: dispatch `capacity_per_hour`,
    the desk and finance sized from it (see the module docstring). `orders_per_hour` is the mean
    over the daily cycle at the start; `noise_shape` > 0 multiplies orders by a Gamma(k, 1/k)
    draw every 15 minutes; `bursts` multiply orders within their windows."""
    per_day = capacity_per_hour * 24
    return Site(
        warehouse,
        orders_per_hour * 24,
        dispatch=ALWAYS,
        desk=ALWAYS,
        finance=ALWAYS,
        dispatch_per_day=per_day,
        desk_per_day=SERVICE_SHARE * per_day,
        finance_per_day=FINANCE_SHARE * per_day,
        growth_per_day=(1 + growth_per_month) ** (1 / MONTH_DAYS) - 1,
        curve=cycle,
        weekend_factor=weekend_factor,
        day_noise=0.0,
        block_noise=noise_shape,
        demand_windows=bursts,
        late_complaints=LATE_PER_HOUR,
        delivery_hours=(0, 24),
        utc_offset_ms=CHINA_OFFSET_MS,
    )


def crossing_day(site: Site) -> float | None:
    """Days after the start when the mean order rate reaches dispatch capacity; None if never
    (no growth and demand below capacity)."""
    capacity = site.capacity_per_day()
    demand = site.weekly_orders() / 7
    if demand >= capacity:
        return 0.0
    if site.growth_per_day <= 0:
        return None
    return math.log(capacity / demand) / math.log1p(site.growth_per_day)


def blend(cycle: tuple[float, ...], depth: float) -> tuple[float, ...]:
    """`cycle` with its swings scaled by `depth` (0: flat, 1: unchanged)."""
    mean = sum(cycle) / len(cycle)
    return tuple(1 + depth * (w / mean - 1) for w in cycle)


def _days(days: float | None, default: float) -> float:
    d = default if days is None else days
    if not (math.isfinite(d) and d > 0):
        raise ValueError(f"days must be a positive number, got {days}")
    return d


def _check_scale(scale: float) -> None:
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive number, got {scale}")


def _network(
    *,
    scale: float,
    utilisation: float,
    rate_factor: float = 1.0,
    cycle: tuple[float, ...] = DAY_CYCLE,
    weekend_factor: float = 1.0,
    noise_shape: float = 0.0,
    bursts: tuple[Window, ...] = (),
) -> tuple[Site, ...]:
    """The five warehouses of NETWORK, each with capacity = mean demand / utilisation."""
    _check_scale(scale)
    return tuple(
        fixed_pace(
            wh,
            rate * rate_factor * scale,
            rate * rate_factor * scale / utilisation,
            cycle=cycle,
            weekend_factor=weekend_factor,
            noise_shape=noise_shape,
            bursts=bursts,
        )
        for wh, rate in NETWORK
    )


def _midpoint(days: float) -> int:
    at = START_MS + round(days * DAY_MS) // 2
    return at - at % MINUTE_MS


def _scenario(
    name: str,
    description: str,
    days: float,
    sites: tuple[Site, ...],
    seed: int,
    *,
    truths: tuple[Truth, ...] = (),
    malformed_share: float = 0.0,
) -> Scenario:
    return Scenario(
        name,
        description,
        sites,
        days,
        seed,
        start_ms=START_MS,
        truths=truths,
        malformed_share=malformed_share,
    )


def steady(
    seed: int = 0, days: float | None = None, scale: float = 1.0, *, utilisation: float = 0.6
) -> Scenario:
    """Five warehouses for 2 days, demand at 60% of dispatch capacity with the daily cycle
    (97% in the busiest hour). Nothing should alert."""
    return _scenario(
        "steady",
        "5 warehouses, 2 days, daily cycle, dispatch at ~60% of capacity: nothing should alert",
        _days(days, 2),
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
    About 3% of orders are cancelled, so the backlog grows for good a few days later; then waits
    grow, late parcels bring complaints that swamp the fixed customer-service desk (from about
    day 40), and refunds pile up behind the fixed finance pace after it. About 300k messages at
    scale 1 (`days` and `scale` change that in proportion; the crossing days depend on neither).
    Its truths: `forecast_overload` for each site before its crossing."""
    _check_scale(scale)
    sites = tuple(
        fixed_pace(
            wh,
            rate * scale,
            rate * scale * (1 + growth_per_month) ** (day / MONTH_DAYS),
            growth_per_month=growth_per_month,
        )
        for wh, rate, day in JD2008_SITES
    )
    truths = tuple(
        Truth(
            "forecast_overload",
            wh,
            fault_start_ms=START_MS + round(day * DAY_MS),  # detection time < 0: days ahead
            fire_from_ms=START_MS + round((day - 14) * DAY_MS),
            fire_by_ms=START_MS + round(day * DAY_MS),
            value=site.capacity_per_day(),
            also=JD2008_ALSO,
            label=f"demand passes capacity on day {day:g}",
        )
        for (wh, _, day), site in zip(JD2008_SITES, sites, strict=True)
    )
    return _scenario(
        "jd2008",
        "2008: orders +30%/month, hiring frozen; demand passes dispatch capacity ~day 30 "
        "and the backlog cascades into service and refunds",
        _days(days, 60),
        sites,
        seed,
        truths=truths,
    )


def flash_sale(
    seed: int = 0, days: float | None = None, scale: float = 1.0, *, factor: float = 3.0
) -> Scenario:
    """2 days at 45% of capacity with a mild daily cycle; at the midpoint a network-wide promotion
    multiplies orders by 3 for 20-40 minutes (drawn from the seed). Dispatch clears it within
    the hour: benign."""
    d = _days(days, 2)
    at = _midpoint(d)
    minutes = random.Random(f"flash_sale:{seed}").randint(20, 40)
    burst = (at, at + minutes * MINUTE_MS, factor)
    return _scenario(
        "flash_sale",
        "a 20-40 minute burst of 3x orders that dispatch absorbs within an hour: benign",
        d,
        _network(scale=scale, utilisation=0.45, cycle=blend(DAY_CYCLE, 0.5), bursts=(burst,)),
        seed,
    )


def night_lull(seed: int = 0, days: float | None = None, scale: float = 1.0) -> Scenario:
    """2 days with a strong daily cycle: nights (01:00-05:00 local) near zero, busy days at up
    to ~85% of capacity. A quiet night is not a silent warehouse: benign."""
    return _scenario(
        "night_lull",
        "strong daily cycle, nights near zero: benign",
        _days(days, 2),
        _network(scale=scale, utilisation=0.5, cycle=NIGHT_LULL_CYCLE),
        seed,
    )


def weekend_dip(seed: int = 0, days: float | None = None, scale: float = 1.0) -> Scenario:
    """10 days from Saturday 2008-03-01: weekend orders at 40% of weekdays, weekdays at 60% of
    capacity. A quiet weekend is not an outage: benign."""
    return _scenario(
        "weekend_dip",
        "10 days, weekends at 40% of weekdays: benign",
        _days(days, 10),
        _network(scale=scale, utilisation=0.6, rate_factor=0.5, weekend_factor=0.4),
        seed,
    )


def noisy_steady(seed: int = 0, days: float | None = None, scale: float = 1.0) -> Scenario:
    """2 days at 80% of capacity, a mild daily cycle, and heavy noise: every 15 minutes the
    order rate is multiplied by a Gamma(3, 1/3) draw (mean 1, CV 0.58). Benign."""
    return _scenario(
        "noisy_steady",
        "dispatch at ~80% of capacity with heavy noise around the mean: benign",
        _days(days, 2),
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
    d = _days(days, 2)
    at = (
        _midpoint(d)
        if from_day is None
        else START_MS + round(from_day * DAY_MS / MINUTE_MS) * MINUTE_MS
    )
    sites = _network(scale=scale, utilisation=0.6)
    _known(warehouse, sites)
    end = at + round(hours * HOUR_MS)
    truth = Truth(
        "dispatch_backpressure",
        warehouse,
        fault_start_ms=at,
        fire_from_ms=at,
        fire_by_ms=at + 2 * HOUR_MS,
        fault_end_ms=end,
        also=("cascade",),
        label=f"dispatch at {factor:.0%} for {hours:g} h",
    )
    return _scenario(
        "stall",
        f"steady, but {warehouse} dispatches at {factor:.0%} of capacity for {hours:g} h midway",
        d,
        tuple(
            replace(s, dispatch_windows=((at, end, factor),)) if s.warehouse == warehouse else s
            for s in sites
        ),
        seed,
        truths=(truth,),
    )


def silent(
    seed: int = 0, days: float | None = None, scale: float = 1.0, *, warehouse: str = "GZ-03"
) -> Scenario:
    """`steady`, but `warehouse` sends nothing at all from the midpoint on; the others go on."""
    d = _days(days, 2)
    at = _midpoint(d)
    sites = _network(scale=scale, utilisation=0.6)
    _known(warehouse, sites)
    truth = Truth(
        "warehouse_silent",
        warehouse,
        fault_start_ms=at,
        fire_from_ms=at,
        fire_by_ms=at + HOUR_MS,
        label="a warehouse goes silent",
    )
    return _scenario(
        "silent",
        f"steady, but {warehouse} stops sending anything midway while the others go on",
        d,
        tuple(replace(s, silent_from_ms=at) if s.warehouse == warehouse else s for s in sites),
        seed,
        truths=(truth,),
    )


def malformed(
    seed: int = 0, days: float | None = None, scale: float = 1.0, *, share: float = 0.05
) -> Scenario:
    """`steady` for 2 days, with about 5% extra messages that break the contract (one rule each,
    named in `Message.why`); the valid messages alone are exactly a consistent stream."""
    return _scenario(
        "malformed",
        "steady traffic plus ~5% malformed messages, each breaking one contract rule",
        _days(days, 2),
        _network(scale=scale, utilisation=0.6),
        seed,
        malformed_share=share,
    )


def _known(warehouse: str, sites: tuple[Site, ...]) -> None:
    names = [s.warehouse for s in sites]
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


def _main(names: list[str]) -> None:
    for name in names or list(SCENARIOS):
        scenario = build(name)
        counts = Counter("malformed" if m.why else f"{m.topic}" for m in scenario.run().messages())
        print(f"{name}: {sum(counts.values())} messages over {scenario.days:g} days")
        for topic, n in sorted(counts.items()):
            print(f"  {topic:24} {n:8d}")


if __name__ == "__main__":
    _main(sys.argv[1:])
