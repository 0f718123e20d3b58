"""Errors of the pure logic, each naming what was wrong for a person."""

from __future__ import annotations


class PolicyError(ValueError):
    """A policy value is invalid. `key` is its dotted path (``queues.dispatch.fire_pressure``,
    ``warehouses.BJ-01.for_ms``), `value` what was given; str() is a sentence for a person."""

    def __init__(self, key: str, value: object, reason: str) -> None:
        self.key = key
        self.value = value
        self.reason = reason
        super().__init__(f"policy key {key!r} = {value!r}: {reason}")

    def under(self, prefix: str) -> PolicyError:
        """The same error with `prefix` before its key."""
        return PolicyError(f"{prefix}{self.key}", self.value, self.reason)
