"""The detector as the pipeline sees it: agents.logic.detector behind the Evaluator protocol.

The per-warehouse detector state travels in the warehouse's head record (one changelog record,
so it can never disagree with the minutes it has evaluated). The network state (`*` cascade,
silent warehouses) covers the warehouses of this worker and lives in memory."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agents.logic.detector import (
    DetectorState,
    NetworkState,
    evaluate_minute,
    evaluate_network,
    firing,
)
from agents.logic.flow import FlowConfig, WarehouseState
from agents.logic.policy import Policy
from streams.outputs import Alert


class Detection:
    def __init__(self, flow_config: FlowConfig, policy: Policy) -> None:
        self.flow_config = flow_config
        self.policy = policy
        self.net = NetworkState()

    def load(self, raw: dict[str, Any] | None) -> DetectorState:
        return DetectorState.from_json(raw) if raw else DetectorState()

    def dump(self, detector: Any) -> dict[str, Any] | None:
        return detector.to_json() if isinstance(detector, DetectorState) else None

    def minute(self, detector: Any, state: WarehouseState, at_ms: int) -> list[Alert]:
        return evaluate_minute(detector, state, self.flow_config, at_ms, self.policy)

    def firing(self, detector: Any) -> list[Alert]:
        return firing(detector) if isinstance(detector, DetectorState) else []

    def network(self, members: Mapping[str, tuple[Any, int | None]], at_ms: int) -> list[Alert]:
        return evaluate_network(self.net, members, at_ms, self.policy)

    def network_firing(self) -> list[Alert]:
        return firing(self.net)
