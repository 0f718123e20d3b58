"""Settings: one frozen object built from the environment (prefix ``ORDERMON_``).

Every field names its variable; `from_env` checks every value and raises ConfigError naming the
variable and what it should be, so a bad setting stops the process at start, not later."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

from ordermon.agents.logic.flow import FlowConfig

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
    web_header_timeout_seconds: float = _setting(
        "WEB_HEADER_TIMEOUT_SECONDS",
        10.0,
        "an HTTP connection that has not sent a whole request within this time (slowloris), or "
        "idles that long between requests, is closed",
    )
    web_cache_seconds: float = _setting(
        "WEB_CACHE_SECONDS",
        1.0,
        "GET /warehouses answers from a copy at most this old while events are being counted "
        "(computed once for all clients); fresh once counting is quiet",
    )
    alertmanager_url: str | None = _setting(
        "ALERTMANAGER_URL", None, "Alertmanager base URL; unset means no Alertmanager sink"
    )
    runbook_url: str = _setting(
        "RUNBOOK_URL",
        "https://github.com/ordermon/ordermon/blob/main/README.md",
        "runbook base URL: each Alertmanager alert's runbook_url is it plus #<kind> "
        "(dashboards/config.toml renders the same for the rules)",
    )
    dashboard_url: str | None = _setting(
        "DASHBOARD_URL",
        None,
        "Grafana root URL: each Alertmanager alert gets a dashboard_url to its warehouse's "
        "dashboard under it; unset means no dashboard_url",
    )
    app_id: str = _setting(
        "APP_ID", "ordermon", "Faust app id: the consumer group and table prefix"
    )
    data_dir: str = _setting("DATA_DIR", ".ordermon-data", "directory for the worker's local state")
    store: str = _setting(
        "STORE",
        "memory://",
        "table store: memory://, or rocksdict:// (= rocksdb://) on disk in DATA_DIR: "
        "a restart then reads only the changelog written since",
    )
    recovery_consistency_check: bool = _setting(
        "RECOVERY_CONSISTENCY_CHECK",
        True,
        "with an on-disk store, refuse to start when it holds changelog offsets beyond the "
        "topic's end (the topic was recreated)",
    )
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
        "LATENESS_SECONDS",
        120,
        "allowed lateness: watermark = what every partition was read past, minus this",
    )
    horizon_minutes: int = _setting(
        "HORIZON_MINUTES", 15, "evaluation horizon: rates are averaged over this many minutes"
    )
    idle_after_seconds: int = _setting(
        "IDLE_AFTER_SECONDS",
        60,
        "seconds (processing time) after which an input topic-partition read to its end stops "
        "holding its warehouses' watermark",
    )
    dedup_minutes: int = _setting(
        "DEDUP_MINUTES", 10, "a repeated event_id is ignored within this many minutes of event time"
    )
    max_warehouses: int = _setting(
        "MAX_WAREHOUSES", 1000, "warehouses tracked at most; events of more are dead-lettered"
    )
    warehouse_idle_minutes: int | None = _setting(
        "WAREHOUSE_IDLE_MINUTES",
        None,
        "a warehouse with no events for this many minutes of event time (behind the newest of "
        "the others) gives its slot to a new warehouse when every slot is taken: state, records "
        "and metric series removed, firing alerts resolved; unset: RETENTION_MINUTES",
    )
    live_max_age_seconds: int = _setting(
        "LIVE_MAX_AGE_SECONDS",
        3600,
        "an alert is live (pages: Alertmanager, the fallback rule) when the worker has read its "
        "partition to the end and its event time is at most this far behind the clock; older "
        "ones are history being replayed or caught up with (the topic and /alerts keep them)",
    )
    max_future_seconds: int = _setting(
        "MAX_FUTURE_SECONDS", 300, "allowed clock skew: events further ahead are dead-lettered"
    )
    session_timeout_seconds: float = _setting(
        "SESSION_TIMEOUT_SECONDS", 10.0, "Kafka consumer session timeout (a new group waits half)"
    )
    consumer_path: str = _setting(
        "CONSUMER_PATH",
        "batch",
        "batch: each fetched batch of the input topics goes to the pipeline at once (fast); "
        "stream: Faust's per-message agent stream (about 6x slower, kept as a fallback)",
    )
    flush_seconds: float = _setting(
        "FLUSH_SECONDS",
        1.0,
        "batch path: how often changed table records are written to the changelogs (and the "
        "offsets behind them committed); a record changed meanwhile is written once",
    )
    batch_size: int = _setting(
        "BATCH_SIZE", 2000, "stream path: events taken from the stream at once at most"
    )
    batch_seconds: float = _setting(
        "BATCH_SECONDS", 0.1, "stream path: longest wait to fill a batch, in seconds"
    )
    log_level: str = _setting("LOG_LEVEL", "info", "debug, info, warning or error")
    web_url: str | None = _setting(
        "WEB_URL",
        None,
        "URL at which the other workers reach this one's HTTP routes (for /warehouses fan-out); "
        "unset: http://WEB_HOST:WEB_PORT, 127.0.0.1 when WEB_HOST binds every address",
    )
    kafka_security_protocol: str = _setting(
        "KAFKA_SECURITY_PROTOCOL",
        "PLAINTEXT",
        "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL",
    )
    kafka_sasl_mechanism: str = _setting(
        "KAFKA_SASL_MECHANISM",
        "PLAIN",
        "SASL mechanism when the protocol is SASL_*: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512",
    )
    kafka_username: str | None = _setting(
        "KAFKA_USERNAME", None, "SASL user name (required with SASL_PLAINTEXT and SASL_SSL)"
    )
    kafka_password: str | None = _setting(
        "KAFKA_PASSWORD", None, "SASL password; never logged or printed", secret=True
    )
    kafka_ca_file: str | None = _setting(
        "KAFKA_CA_FILE",
        None,
        "PEM file of the CA that signed the brokers' certificates (SSL, SASL_SSL); "
        "unset: the system's CAs",
    )
    kafka_cert_file: str | None = _setting(
        "KAFKA_CERT_FILE", None, "PEM client certificate for mutual TLS (with KAFKA_KEY_FILE)"
    )
    kafka_key_file: str | None = _setting(
        "KAFKA_KEY_FILE", None, "PEM private key of KAFKA_CERT_FILE"
    )

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
        self._check_security()

    def _check_security(self) -> None:
        """Rules that involve more than one Kafka security setting."""
        protocol = self.kafka_security_protocol
        if protocol.startswith("SASL_") and not self.kafka_username:
            raise ConfigError(
                PREFIX + "KAFKA_USERNAME",
                f"is required with ORDERMON_KAFKA_SECURITY_PROTOCOL={protocol}",
            )
        if protocol.startswith("SASL_") and self.kafka_password is None:
            raise ConfigError(
                PREFIX + "KAFKA_PASSWORD",
                f"is required with ORDERMON_KAFKA_SECURITY_PROTOCOL={protocol}",
            )
        if (self.kafka_cert_file is None) != (self.kafka_key_file is None):
            missing = "KAFKA_KEY_FILE" if self.kafka_key_file is None else "KAFKA_CERT_FILE"
            raise ConfigError(
                PREFIX + missing, "KAFKA_CERT_FILE and KAFKA_KEY_FILE go together: set both"
            )

    @property
    def uses_tls(self) -> bool:
        return self.kafka_security_protocol in ("SSL", "SASL_SSL")

    @property
    def advertised_url(self) -> str:
        """Where the other workers reach this worker's HTTP routes (Faust's canonical_url)."""
        if self.web_url:
            return self.web_url.rstrip("/")
        host = self.web_host
        if host in ("", "0.0.0.0", "::", "[::]"):
            host = "127.0.0.1"
        elif ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.web_port}"

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
    def warehouse_idle_ms(self) -> int:
        minutes = self.warehouse_idle_minutes
        return (self.retention_minutes if minutes is None else minutes) * 60_000

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


def in_effect(env: Mapping[str, str]) -> list[tuple[str, str, bool, str]]:
    """(variable, value in effect, set in `env`?, meaning) of every setting, secrets as ***;
    ConfigError naming the first bad value."""
    settings = Settings.from_env(env)
    shown = settings.redacted()
    out = []
    for f in fields(Settings):
        name = PREFIX + f.metadata["env"]
        out.append((name, str(shown[f.name]), bool(env.get(name)), f.metadata["doc"]))
    return out


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


PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


def _protocol(value: str) -> str | None:
    return None if value in PROTOCOLS else f"must be one of {', '.join(PROTOCOLS)}, got {value!r}"


def _mechanism(value: str) -> str | None:
    ok = value in SASL_MECHANISMS
    return None if ok else f"must be one of {', '.join(SASL_MECHANISMS)}, got {value!r}"


def _readable_file(value: str | None) -> str | None:
    if value is None or (os.path.isfile(value) and os.access(value, os.R_OK)):
        return None
    return f"no readable file at {value!r}"


def _store(value: str) -> str | None:
    ok = value.startswith(("memory://", "rocksdb://", "rocksdict://"))
    return None if ok else f"must be memory://, rocksdb:// or rocksdict://, got {value!r}"


def _level(value: str) -> str | None:
    ok = value.lower() in ("debug", "info", "warning", "error")
    return None if ok else f"must be debug, info, warning or error, got {value!r}"


def _consumer_path(value: str) -> str | None:
    return None if value in ("batch", "stream") else f"must be batch or stream, got {value!r}"


def _prefix(value: str) -> str | None:
    ok = re.match(r"^[A-Za-z0-9._-]*$", value)
    return None if ok else f"may hold only A-Z a-z 0-9 . _ -, got {value!r}"


_PARSERS: dict[str, Callable[[str, str], Any]] = {
    "warehouse_idle_minutes": _parse_int,
    "kafka_security_protocol": lambda _name, raw: raw.upper(),
    "kafka_sasl_mechanism": lambda _name, raw: raw.upper(),
}
_RULES: dict[str, Callable[[Any], str | None]] = {
    "kafka": _servers,
    "topic_prefix": _prefix,
    "web_port": _port,
    "web_header_timeout_seconds": _positive,
    "web_cache_seconds": _non_negative,
    "alertmanager_url": _url,
    "runbook_url": _url,
    "dashboard_url": _url,
    "store": _store,
    "partitions": _positive,
    "replication_factor": _positive,
    "retention_minutes": _positive,
    "lateness_seconds": _non_negative,
    "horizon_minutes": _positive,
    "idle_after_seconds": _positive,
    "max_warehouses": _positive,
    "warehouse_idle_minutes": lambda v: None if v is None else _positive(v),
    "dedup_minutes": _non_negative,
    "max_future_seconds": _non_negative,
    "live_max_age_seconds": _non_negative,
    "session_timeout_seconds": _positive,
    "consumer_path": _consumer_path,
    "flush_seconds": _positive,
    "batch_size": _positive,
    "batch_seconds": _positive,
    "log_level": _level,
    "web_url": _url,
    "kafka_security_protocol": _protocol,
    "kafka_sasl_mechanism": _mechanism,
    "kafka_ca_file": _readable_file,
    "kafka_cert_file": _readable_file,
    "kafka_key_file": _readable_file,
}
