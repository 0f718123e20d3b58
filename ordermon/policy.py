"""The detection policy of a worker: a file (ORDERMON_POLICY_FILE, JSON or TOML) with environment
overrides on top, checked at start.

Overrides: ``ORDERMON_POLICY_<FIELD>`` for a top-level field (``ORDERMON_POLICY_FOR_MS=45m``) and
``ORDERMON_POLICY_<QUEUE>_<FIELD>`` for a queue's field (``ORDERMON_POLICY_DISPATCH_SLA_HOURS=12``).
Numbers, booleans and durations are written as in the file (``30m``, ``24h``, ``14d``)."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

from ordermon.agents.logic.policy import Policy, PolicyError, QueuePolicy
from ordermon.config import PREFIX, ConfigError
from ordermon.streams.flows import QUEUE_NAMES

POLICY_PREFIX = PREFIX + "POLICY_"
FILE_VARIABLE = PREFIX + "POLICY_FILE"
_TOP = {f.name for f in fields(Policy) if f.name not in ("warehouses", "queues")}
_QUEUE = {f.name for f in fields(QueuePolicy)}


def _scalar(raw: str) -> Any:
    """A value from the environment: JSON when it parses (numbers, true/false), else text."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def env_overrides(env: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """(mapping to merge over the file, mapping key -> the variable that set it)."""
    mapping: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for name, raw in env.items():
        if not name.startswith(POLICY_PREFIX) or name == FILE_VARIABLE:
            continue
        rest = name[len(POLICY_PREFIX) :].lower()
        queue = next((q for q in QUEUE_NAMES if rest.startswith(q + "_")), None)
        if queue is not None and rest[len(queue) + 1 :] in _QUEUE:
            key = rest[len(queue) + 1 :]
            mapping.setdefault("queues", {}).setdefault(queue, {})[key] = _scalar(raw)
            origin[f"queues.{queue}.{key}"] = name
        elif rest in _TOP:
            mapping[rest] = _scalar(raw)
            origin[rest] = name
        else:
            raise ConfigError(
                name,
                "is not a policy setting; use ORDERMON_POLICY_<FIELD> or "
                "ORDERMON_POLICY_<QUEUE>_<FIELD> with a field of the README's policy table",
            )
    return mapping, origin


def _read(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(FILE_VARIABLE, f"cannot read {path}: {exc.strerror}") from None
    try:
        loaded = (
            json.loads(data) if path.suffix.lower() == ".json" else tomllib.loads(data.decode())
        )
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(FILE_VARIABLE, f"{path} is not valid JSON or TOML: {exc}") from None
    if not isinstance(loaded, dict):
        raise ConfigError(FILE_VARIABLE, f"{path} must hold a table / JSON object")
    return loaded


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def load_policy(env: Mapping[str, str]) -> Policy:
    """The policy, or ConfigError naming the variable (or the file and key) that is wrong."""
    file_name = env.get(FILE_VARIABLE)
    base = _read(Path(file_name)) if file_name else {}
    overrides, origin = env_overrides(env)
    try:
        return Policy.from_mapping(_merge(base, overrides))
    except PolicyError as exc:
        variable = origin.get(exc.key) or (f"{FILE_VARIABLE} ({file_name})" if file_name else "")
        raise ConfigError(variable or "policy", str(exc)) from None
