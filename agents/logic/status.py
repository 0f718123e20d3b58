"""The contract's per-warehouse status object (`GET /warehouses`), from a flow snapshot."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ordermon.agents.logic.flow import Snapshot
from ordermon.streams.timefmt import format_rfc3339_ms


def status_object(snap: Snapshot, alerts: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """Rates are events per minute of event time over the horizon that ends at `as_of`."""
    dispatch = snap.queues["dispatch"].to_json()
    service = snap.queues["service"].to_json()
    return {
        "warehouse": snap.warehouse,
        "order_rate": round(snap.rates["orders_placed"], 4),
        "dispatch_rate": round(snap.rates["dispatches_dispatched"], 4),
        "pressure": dispatch["pressure"],
        "backlog": dispatch["backlog"],
        "hours_to_clear": dispatch["hours_to_clear"],
        "complaint_rate": round(snap.rates["complaints_opened"], 4),
        "resolution_rate": round(snap.rates["complaints_resolved"], 4),
        "service_backlog": service["backlog"],
        "refund_rate": round(snap.rates["refunds_requested"], 4),
        "alerts": list(alerts),
        "as_of": None if snap.at_ms is None else format_rfc3339_ms(snap.at_ms),
        "queues": {name: q.to_json() for name, q in snap.queues.items()},
        "rates": {flow: round(rate, 4) for flow, rate in snap.rates.items()},
        "totals": dict(snap.totals),
        "late_events": snap.late,
    }
