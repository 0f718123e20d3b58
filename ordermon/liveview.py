"""The demo's terminal view: one row per warehouse, from the worker's /warehouses answer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

HEADER = (
    f"{'warehouse':<10} {'event time':<17} {'orders/h':>9} {'dispatch/h':>10} "
    f"{'pressure':>8} {'backlog':>8} {'h to clear':>10} {'svc backlog':>11} "
    f"{'refunds wait':>12}  alerts"
)


def _num(value: Any, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def _per_hour(per_minute: float | None, width: int) -> str:
    """The contract's rates are per minute; people read a warehouse's flow per hour."""
    return _num(None if per_minute is None else per_minute * 60, f"{width}.0f")


def _draining(status: dict[str, Any], kind: str) -> str:
    """ ", draining" for a firing backpressure alert whose queue now clears faster than it fills:
    the alert holds until the backlog is back to normal, and the view says it is getting there."""
    queue = kind.removesuffix("_backpressure")
    if queue == kind:
        return ""
    pressure = status.get("queues", {}).get(queue, {}).get("pressure")
    return ", draining" if isinstance(pressure, int | float) and pressure < 1 else ""


def render(statuses: Sequence[dict[str, Any]], title: str = "") -> str:
    lines = [title, HEADER, "-" * len(HEADER)] if title else [HEADER, "-" * len(HEADER)]
    for s in statuses:
        alerts = ", ".join(
            f"{a['kind']}({a['severity']}{_draining(s, a['kind'])})"
            for a in s.get("alerts", [])
            if a.get("state") == "firing"
        )
        as_of = (s.get("as_of") or "-").replace("T", " ")[:16]
        refund = s.get("queues", {}).get("refund", {}).get("backlog")
        lines.append(
            f"{s['warehouse']:<10} {as_of:<17} {_per_hour(s['order_rate'], 9)} "
            f"{_per_hour(s['dispatch_rate'], 10)} {_num(s['pressure'], '8.2f')} "
            f"{_num(s['backlog'], '8d')} {_num(s.get('hours_to_clear'), '10.1f')} "
            f"{_num(s['service_backlog'], '11d')} {_num(refund, '12d')}  {alerts}"
        )
    return "\n".join(lines)
