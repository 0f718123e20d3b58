"""The Faust topics of the worker, bound from streams.topics. Values stay raw bytes: the codec in
`streams` decodes them, so a bad message becomes a dead letter rather than a Faust decode error."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ordermon.streams.topics import TopicNames


@dataclass(frozen=True, slots=True)
class Topics:
    names: TopicNames
    inputs: Any  # one faust Topic over the four input topics
    alerts: Any
    deadletter: Any


def register_topics(app: Any, names: TopicNames) -> Topics:
    # Raw on both sides: with Faust's default (json) a value that is not JSON would fail inside
    # Faust, before the agent, and stall its partition.
    inputs = app.topic(
        *names.inputs,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )
    alerts = app.topic(names.alerts, key_type=bytes, value_type=bytes, internal=False)
    deadletter = app.topic(names.deadletter, key_type=bytes, value_type=bytes, internal=False)
    return Topics(names, inputs, alerts, deadletter)
