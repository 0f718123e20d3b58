"""The Faust topics of the worker, bound from streams.topics. Values stay raw bytes: the codec in
`streams` decodes them, so a bad message becomes a dead letter rather than a Faust decode error."""

from __future__ import annotations

from ordermon.app import app, settings
from streams.topics import TopicNames

names = TopicNames(settings.topic_prefix)

# Raw on both sides: with Faust's default (json) a value that is not JSON would fail inside Faust,
# before the agent, and stall its partition.
inputs = app.topic(
    *names.inputs, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
)
alerts = app.topic(names.alerts, key_type=bytes, value_type=bytes, internal=False)
deadletter = app.topic(names.deadletter, key_type=bytes, value_type=bytes, internal=False)
