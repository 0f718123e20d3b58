"""The wire contract of ordermon (CONTRACT v1): events, validation, codec and topic names.

Imports nothing from agents/ordermon and nothing from faust or aiokafka."""

from ordermon.streams.codec import decode, dumps, encode_event, event_to_wire, loads
from ordermon.streams.errors import ContractError, PartitionsMismatch, RejectReason
from ordermon.streams.events import (
    EVENT_TYPES,
    ComplaintEvent,
    DispatchEvent,
    Event,
    OrderEvent,
    RefundEvent,
)
from ordermon.streams.flows import (
    FLOWS,
    INPUT_TOPICS,
    QUEUE_NAMES,
    QUEUES,
    STATUSES,
    Queue,
    flow_name,
)
from ordermon.streams.outputs import ALERT_KINDS, Alert, DeadLetter
from ordermon.streams.timefmt import format_rfc3339_ms, parse_rfc3339_ms
from ordermon.streams.topics import TopicNames, require_copartitioned
from ordermon.streams.validation import Rejection

__all__ = [
    "ALERT_KINDS",
    "EVENT_TYPES",
    "FLOWS",
    "INPUT_TOPICS",
    "QUEUES",
    "QUEUE_NAMES",
    "STATUSES",
    "Alert",
    "ComplaintEvent",
    "ContractError",
    "DeadLetter",
    "DispatchEvent",
    "Event",
    "OrderEvent",
    "PartitionsMismatch",
    "Queue",
    "RefundEvent",
    "RejectReason",
    "Rejection",
    "TopicNames",
    "decode",
    "dumps",
    "encode_event",
    "event_to_wire",
    "flow_name",
    "format_rfc3339_ms",
    "loads",
    "parse_rfc3339_ms",
    "require_copartitioned",
]
