"""Errors of the wire contract: a machine-readable field and a sentence for a person."""

from __future__ import annotations

import enum
from collections.abc import Mapping


class RejectReason(enum.StrEnum):
    """Why an input event was rejected. Bounded: it is the `reason` label of
    ``ordermon_deadletter_total``."""

    NOT_UTF8 = "not_utf8"
    NOT_JSON = "not_json"
    NOT_OBJECT = "not_object"
    TOO_LARGE = "too_large"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    INVALID_VALUE = "invalid_value"
    UNKNOWN_STATUS = "unknown_status"
    BAD_TIMESTAMP = "bad_timestamp"
    FUTURE_TIMESTAMP = "future_timestamp"
    KEY_MISMATCH = "key_mismatch"
    BAD_WAREHOUSE = "bad_warehouse"
    WAREHOUSE_LIMIT = "warehouse_limit"
    MISSING_KEY = "missing_key"
    UNSUPPORTED_VERSION = "unsupported_version"


class ContractError(Exception):
    """Root of the contract's errors."""


class PartitionsMismatch(ContractError):
    """The input topics do not all have the same partition count."""

    def __init__(self, counts: Mapping[str, int | None]) -> None:
        self.counts = dict(counts)
        listed = ", ".join(
            f"{topic}={'missing' if n is None else n}" for topic, n in sorted(self.counts.items())
        )
        super().__init__(
            "ordermon needs every input topic to exist with the same partition count, so that one "
            f"warehouse's events land in one partition of each; found {listed}. "
            "Recreate or extend the topics so that the counts agree."
        )
