"""Settings: one frozen object built from the environment (prefix ``ORDERMON_``).

Every field names its variable; `from_env` checks every value and raises ConfigError naming the
variable and what it should be, so a bad setting stops the process at start, not later."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

from agents.logic.flow import FlowConfig

PREFIX = "ORDERMON_"
T = TypeVar("T")


class ConfigError(Exception):
    """A setting is invalid. `variable` is the environment variable; str() is for a person."""

    def __init__(self, variable: str, message: str) -> None:
        self.variable = variable
        super().__init__(f"{variable}: {message}")


def _setting(env: str, default: Any, doc: str, *, secret: bool = False) -> Any:
    return field(default=default, metadata={"env": env, "doc": doc, "secret": secret})


@dataclass(frozen=True, slots=True)
class Settings:
    kafka: str = _setting("KAFKA", "127.0.0.1:9092", "bootstrap servers, host:port[,host:port]")
    topic_prefix: str = _setting("TOPIC_PREFIX", "", "prefix before every topic name")
    web_host: str = _setting("WEB_HOST", "127.0.0.1", "address the HTTP routes bind to")
    web_port: int = _setting("WEB_PORT", 6066, "port of the HTTP routes")
    alertmanager_url: str | None = _setting(
        "ALERTMANAGER_URL", None, "Alertmanager base URL; unset means no Alertmanager sink"
    )
    app_id: str = _setting(
        "APP_ID", "ordermon", "Faust app id: the consumer group and table prefix"
    )
    data_dir: str = _setting("DATA_DIR", ".ordermon-data", "directory for the worker's local state")
    store: str = _setting("STORE", "memory://", "table store: memory:// or rocksdb://")
    partitions: int = _setting(
        "PARTITIONS", 4, "partitions of every topic that ordermon creates (all inputs alike)"
    )
    replication_factor: int = _setting(
        "REPLICATION_FACTOR", 1, "replication factor of the topics ordermon creates"
    )
    retention_minutes: int = _setting(
        "RETENTION_MINUTES", 1440, "how long per-minute counts are kept, in minutes of event time"
    )
    lateness_seconds: int = _setting(
        "LATENESS_SECONDS", 120, "allowed lateness: watermark = newest event time minus this"
    )
    horizon_minutes: int = _setting(
        "HORIZON_MINUTES", 15, "evaluation horizon: rates are averaged over this many minutes"
    )
    idle_after_seconds: int = _setting(
        "IDLE_AFTER_SECONDS",
        60,
        "seconds (processing time) after which a quiet topic stops holding a warehouse's watermark",
    )
    dedup_minutes: int = _setting(
        "DEDUP_MINUTES", 10, "a repeated event_id is ignored within this many minutes of event time"
    )
    max_warehouses: int = _setting(
        "MAX_WAREHOUSES", 1000, "warehouses tracked at most; events of more are dead-lettered"
    )
    max_future_seconds: int = _setting(
        "MAX_FUTURE_SECONDS", 300, "allowed clock skew: events further ahead are dead-lettered"
    )
    session_timeout_seconds: float = _setting(
        "SESSION_TIMEOUT_SECONDS", 10.0, "Kafka consumer session timeout (a new group waits half)"
    )
    batch_size: int = _setting("BATCH_SIZE", 2000, "events taken from the stream at once at most")
    batch_seconds: float = _setting(
        "BATCH_SECONDS", 0.1, "longest wait to fill a batch, in seconds (bounds alert latency)"
    )
    log_level: str = _setting("LOG_LEVEL", "info", "debug, info, warning or error")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = PREFIX + f.metadata["env"]
            raw = env.get(name)
            if raw is None or raw == "":
                continue
            values[f.name] = _PARSERS.get(f.name, _parse_for(f.default))(name, raw.strip())
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        for f in fields(self):
            rule = _RULES.get(f.name)
            if rule is not None:
                problem = rule(getattr(self, f.name))
                if problem:
                    raise ConfigError(PREFIX + f.metadata["env"], problem)

    @property
    def flow(self) -> FlowConfig:
        return FlowConfig(
            retention_ms=self.retention_minutes * 60_000,
            lateness_ms=self.lateness_seconds * 1000,
            horizon_ms=self.horizon_minutes * 60_000,
            idle_after_ms=self.idle_after_seconds * 1000,
            dedup_ms=self.dedup_minutes * 60_000,
        )

    @property
    def broker_url(self) -> str:
        return ";".join(f"kafka://{s}" for s in self.kafka.split(","))

    def redacted(self) -> dict[str, Any]:
        """The settings for a log line: secrets shown as ***."""
        return {
            f.name: (
                "***" if f.metadata["secret"] and getattr(self, f.name) else getattr(self, f.name)
            )
            for f in fields(self)
        }


def documented() -> list[tuple[str, Any, str]]:
    """(variable, default, meaning) of every setting, for the README and `ordermon settings`."""
    return [(PREFIX + f.metadata["env"], f.default, f.metadata["doc"]) for f in fields(Settings)]


def _parse_for(default: Any) -> Callable[[str, str], Any]:
    if isinstance(default, bool):
        return _parse_bool
    if isinstance(default, int):
        return _parse_int
    if isinstance(default, float):
        return _parse_float
    return lambda _name, raw: raw


def _parse_int(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(name, f"must be a whole number, got {raw!r}") from None


def _parse_float(name: str, raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(name, f"must be a number, got {raw!r}") from None


def _parse_bool(name: str, raw: str) -> bool:
    low = raw.lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise ConfigError(name, f"must be true or false, got {raw!r}")


_HOSTPORT = re.compile(r"^[A-Za-z0-9_.\-\[\]:]+:\d{1,5}$")


def _servers(value: str) -> str | None:
    bad = [s for s in value.split(",") if not _HOSTPORT.match(s.strip())]
    return f"expected host:port[,host:port], got {value!r}" if bad or not value else None


def _positive(value: float) -> str | None:
    return None if value > 0 else f"must be greater than 0, got {value}"


def _non_negative(value: float) -> str | None:
    return None if value >= 0 else f"must be 0 or more, got {value}"


def _port(value: int) -> str | None:
    return None if 0 < value < 65536 else f"must be a port number 1-65535, got {value}"


def _url(value: str | None) -> str | None:
    if value is None or re.match(r"^https?://[^\s/]+", value):
        return None
    return f"must be an http:// or https:// URL, got {value!r}"


def _store(value: str) -> str | None:
    ok = value.startswith(("memory://", "rocksdb://", "rocksdict://"))
    return None if ok else f"must be memory://, rocksdb:// or rocksdict://, got {value!r}"


def _level(value: str) -> str | None:
    ok = value.lower() in ("debug", "info", "warning", "error")
    return None if ok else f"must be debug, info, warning or error, got {value!r}"


def _prefix(value: str) -> str | None:
    ok = re.match(r"^[A-Za-z0-9._-]*$", value)
    return None if ok else f"may hold only A-Z a-z 0-9 . _ -, got {value!r}"


_PARSERS: dict[str, Callable[[str, str], Any]] = {}
_RULES: dict[str, Callable[[Any], str | None]] = {
    "kafka": _servers,
    "topic_prefix": _prefix,
    "web_port": _port,
    "alertmanager_url": _url,
    "store": _store,
    "partitions": _positive,
    "replication_factor": _positive,
    "retention_minutes": _positive,
    "lateness_seconds": _non_negative,
    "horizon_minutes": _positive,
    "idle_after_seconds": _positive,
    "max_warehouses": _positive,
    "dedup_minutes": _non_negative,
    "max_future_seconds": _non_negative,
    "session_timeout_seconds": _positive,
    "batch_size": _positive,
    "batch_seconds": _positive,
    "log_level": _level,
}
