"""Replay events through flow counting and the detector, the way the worker calls them.

For each batch of events (one event at a time in `replay`): apply every event to its warehouse's
`WarehouseState`; for each warehouse touched, close the minutes its watermark passed
(`close_minutes` with no processing clock, so every topic seen holds the watermark) and evaluate
each one in order; then, if any minute closed, evaluate the network at the newest watermark of
all warehouses. No clock, no I/O: a replay of the same events gives the same alerts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from agents.logic.detector import DetectorState, NetworkState, evaluate_minute, evaluate_network
from agents.logic.flow import FlowConfig, WarehouseState, apply, close_minutes, watermark
from agents.logic.policy import Policy
from streams.events import Event
from streams.outputs import Alert


@dataclass(slots=True)
class Replayer:
    """Per-warehouse flow and detector states of one worker, fed batch by batch."""

    flow_config: FlowConfig
    policy: Policy
    flows: dict[str, WarehouseState] = field(default_factory=dict)
    detectors: dict[str, DetectorState] = field(default_factory=dict)
    network: NetworkState = field(default_factory=NetworkState)

    def feed(self, batch: Iterable[Event]) -> list[Alert]:
        """Apply one batch, then close and evaluate minutes; returns the transitions."""
        touched: list[str] = []
        for event in batch:
            warehouse = event.warehouse
            state = self.flows.get(warehouse)
            if state is None:
                state = self.flows[warehouse] = WarehouseState(warehouse)
                self.detectors.setdefault(warehouse, DetectorState())
            apply(state, event, self.flow_config)
            if warehouse not in touched:
                touched.append(warehouse)
        out: list[Alert] = []
        closed = False
        for warehouse in touched:
            state = self.flows[warehouse]
            det = self.detectors[warehouse]
            for end in close_minutes(state, self.flow_config):
                closed = True
                out += evaluate_minute(det, state, self.flow_config, end, self.policy)
        if closed:
            marks = [
                m for s in self.flows.values() if (m := watermark(s, self.flow_config)) is not None
            ]
            inputs = {w: (self.detectors[w], s.newest_ms) for w, s in self.flows.items()}
            out += evaluate_network(self.network, inputs, max(marks), self.policy)
        return out


def replay(events: Iterable[Event], flow_config: FlowConfig, policy: Policy) -> list[Alert]:
    """Every alert transition of `events`, applied in order one at a time."""
    replayer = Replayer(flow_config, policy)
    out: list[Alert] = []
    for event in events:
        out += replayer.feed((event,))
    return out
