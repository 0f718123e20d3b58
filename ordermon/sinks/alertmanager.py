"""Alert transitions to Alertmanager's v2 API (``POST {url}/api/v2/alerts``).

The stream only ever calls `send()`, which records the alert and puts it on a bounded queue without
waiting for anything; background tasks do the HTTP work:

- the *deliverer* takes up to `batch_size` pending alerts, builds their Alertmanager objects from
  the sink's current state and POSTs them as one JSON list, with a timeout on every request, retries
  with capped exponential back-off (a `Retry-After` on 429/503 is honoured), and gives a batch up
  after `max_attempts` (counted in `failed`, reported through `on_failure`);
- the *ticker* re-queues every firing alert each `resend_interval` seconds (Alertmanager forgets an
  alert at its `endsAt`, set a few intervals ahead), and every resolved one for `resolve_repeat_for`
  seconds after it resolved, so that one lost POST neither leaves an alert firing nor drops it.

Alertmanager knows an alert by its labels: ``alertname`` (the alert kind), ``warehouse``,
``severity`` and ``service="ordermon"``. The episode's ``alert_id`` is an annotation, not a label,
so that episodes of one (kind, warehouse) group together. When the severity of an episode changes,
the label set changes: the old one is resolved and the new one fires.

Alertmanager works in wall-clock time, ordermon in event time: ``startsAt`` is when the sink first
saw the alert on the injected `clock`, ``endsAt`` is ``now + endsat_intervals x resend_interval``
while firing and the moment the sink saw the resolve afterwards. Only live alerts page: an alert
whose `live` is not true (history replayed or caught up with; the engine decides, see
agents.engine.is_live) is skipped (`skipped_replay`). A resolve of an alert this sink has paged is
always sent.

Counters are plain integers: `delivered` (alert objects Alertmanager accepted, repeats included),
`errors` (failed HTTP attempts), `failed` (alert messages given up after all attempts; each one also
calls ``on_failure(sink_name)``), `dropped` (pending alerts pushed out of the full queue, or state
evicted at `max_tracked`) and `skipped_replay`. A dropped or failed alert is not forgotten: the
ticker sends the current state of every tracked alert again at the next interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import math
import re
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp

from ordermon.streams.outputs import NETWORK_KEY, Alert
from ordermon.streams.timefmt import format_rfc3339_ms

if TYPE_CHECKING:
    from ordermon.config import Settings

log = logging.getLogger(__name__)

DEFAULT_RUNBOOK_URL = "https://github.com/ordermon/ordermon/blob/main/README.md#runbook"
"""Base of every alert's ``runbook_url``: the README's runbook. Its anchor is replaced by the
alert kind (``README.md#dispatch_backpressure``), so the runbook needs one heading per kind.
``ORDERMON_RUNBOOK_URL`` overrides it (dashboards/config.toml renders it into worker.env)."""

WAREHOUSE_DASHBOARD = "/d/ordermon-warehouse/ordermon-warehouse"
OVERVIEW_DASHBOARD = "/d/ordermon-overview/ordermon-overview"
"""Paths of the dashboards under Grafana's root (their uids are dashboards/build.py's): an alert
links its warehouse's dashboard, a network-wide one (warehouse ``*``) the overview."""

SERVICE = "ordermon"
API_PATH = "/api/v2/alerts"
SEVERITIES = ("warning", "critical")

_Key = tuple[str, str, str]  # (kind, warehouse, severity): one Alertmanager alert (its labels)
_INVALID_NAME = re.compile(r"[^A-Za-z0-9_]")


@dataclass(slots=True)
class _Tracked:
    """One Alertmanager alert (one label set) as this sink last told Alertmanager about it."""

    alert: Alert  # the latest transition for these labels: annotations come from it
    starts_at: float  # wall clock (seconds) when the sink first saw this episode fire
    ended_at: float | None = None  # wall clock when the sink saw it resolve; None while firing


class _Outcome:
    OK = "ok"
    RETRY = "retry"
    PERMANENT = "permanent"


class AlertmanagerSink:
    """An `AlertSink` for Alertmanager: `start()` it inside the running loop, `close()` at exit."""

    name = "alertmanager"

    def __init__(
        self,
        base_url: str,
        *,
        runbook_url: str = DEFAULT_RUNBOOK_URL,
        dashboard_url: str | None = None,
        resend_interval: float = 60.0,
        endsat_intervals: float = 3.0,
        resolve_repeat_for: float = 300.0,
        queue_size: int = 1000,
        max_tracked: int = 10_000,
        batch_size: int = 64,
        timeout: float = 5.0,
        backoff_min: float = 0.5,
        backoff_max: float = 30.0,
        retry_after_max: float = 300.0,
        max_attempts: int = 5,
        flush_timeout: float = 2.0,
        clock: Callable[[], float] = time.time,
        session_factory: Callable[[], aiohttp.ClientSession] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_failure: Callable[[str], None] | None = None,
    ) -> None:
        """`base_url` is Alertmanager's root (``http://host:9093``, a path prefix allowed).

        `runbook_url` is the runbook's base URL; any ``#anchor`` on it is replaced by ``#<kind>``.
        `dashboard_url` is Grafana's root URL: each alert then links its warehouse's dashboard in
        a ``dashboard_url`` annotation (none when None).
        Times are seconds. `clock` is the wall clock (epoch seconds) for ``startsAt``/``endsAt``,
        and the resolve repeat window; intervals are slept on the event loop.
        `session_factory` makes the aiohttp session (the sink closes it in `close()`); `sleep` is
        what back-off waits with (tests record the delays); `on_failure` is called with the sink
        name once per alert message given up, e.g. to count
        ``ordermon_alert_sink_failures_total{sink}``."""
        for label, value in (
            ("resend_interval", resend_interval),
            ("endsat_intervals", endsat_intervals),
            ("timeout", timeout),
            ("backoff_min", backoff_min),
            ("backoff_max", backoff_max),
        ):
            if not value > 0:
                raise ValueError(f"{label} must be greater than 0, got {value}")
        for label, count in (
            ("queue_size", queue_size),
            ("max_tracked", max_tracked),
            ("batch_size", batch_size),
            ("max_attempts", max_attempts),
        ):
            if count < 1:
                raise ValueError(f"{label} must be at least 1, got {count}")
        if not re.match(r"^https?://[^\s/]+", base_url):
            raise ValueError(f"base_url must be an http:// or https:// URL, got {base_url!r}")
        self.url = base_url.rstrip("/") + API_PATH
        self.runbook_url = runbook_url.split("#", 1)[0]
        self.dashboard_url = dashboard_url.rstrip("/") if dashboard_url else None
        self.resend_interval = resend_interval
        self.endsat_intervals = endsat_intervals
        self.resolve_repeat_for = resolve_repeat_for
        self.queue_size = queue_size
        self.max_tracked = max_tracked
        self.batch_size = batch_size
        self.timeout = timeout
        self.backoff_min = backoff_min
        self.backoff_max = max(backoff_max, backoff_min)
        self.retry_after_max = retry_after_max
        self.max_attempts = max_attempts
        self.flush_timeout = flush_timeout
        self.clock = clock
        self._session_factory = session_factory or self._default_session
        self._sleep = sleep
        self.on_failure = on_failure

        self.delivered = 0
        self.errors = 0
        self.failed = 0
        self.dropped = 0
        self.skipped_replay = 0

        self._tracked: OrderedDict[_Key, _Tracked] = OrderedDict()
        self._pending: OrderedDict[_Key, None] = OrderedDict()  # FIFO of distinct keys
        self._in_flight = 0
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._streak = 0  # consecutive failed attempts, for the back-off
        self._delay = 0.0  # wait before the next attempt, after a failure
        self._session: aiohttp.ClientSession | None = None
        self._deliverer: asyncio.Task[None] | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._closed = False

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> AlertmanagerSink | None:
        """The sink for ``ORDERMON_ALERTMANAGER_URL``, or None when it is unset."""
        if not settings.alertmanager_url:
            return None
        links = {"runbook_url": settings.runbook_url, "dashboard_url": settings.dashboard_url}
        return cls(settings.alertmanager_url, **(links | kwargs))

    # ---- what the stream sees --------------------------------------------------------------
    def offer(self, firing: Iterable[Alert]) -> None:
        """The alerts firing now: the live ones this sink has not paged are paged (one that
        fired while the worker was catching up, and is still firing now that it is live; or,
        after a restart or a rebalance, one Alertmanager must hear about again). Those it
        tracks already are left to the re-send ticker."""
        for alert in firing:
            entry = self._tracked.get((alert.kind, alert.warehouse, alert.severity))
            known = entry is not None and entry.ended_at is None
            if alert.state == "firing" and alert.live and not known:
                self._accept(alert)

    def retain(self, held: Callable[[str], bool]) -> None:
        """Forget, without resolving, the firing alerts of the warehouses `held` rejects: a
        rebalance moved them to another worker, whose sink sends them on under the same labels
        (re-sending them from here would keep them firing after their new owner resolves them)."""
        for key in [k for k, e in self._tracked.items() if e.ended_at is None and not held(k[1])]:
            del self._tracked[key]
            self._pending.pop(key, None)

    @property
    def pending(self) -> int:
        """Alerts waiting to be POSTed (at most `queue_size`)."""
        return len(self._pending)

    @property
    def tracked(self) -> int:
        """Label sets the sink keeps re-sending: firing ones, and resolved ones being repeated."""
        return len(self._tracked)

    def start(self) -> None:
        """Start the background tasks; call inside the running event loop. Idempotent."""
        if self._closed or self._deliverer is not None:
            return
        self._deliverer = asyncio.create_task(self._deliver_forever(), name="alertmanager-sink")
        self._ticker = asyncio.create_task(self._tick_forever(), name="alertmanager-resend")

    async def send(self, alert: Alert) -> None:
        """Record one transition and queue it. Never waits and never raises."""
        try:
            self._accept(alert)
        except Exception:  # the stream must go on whatever the alert holds
            log.exception("alertmanager sink: could not queue alert %s", alert.alert_id)

    async def close(self) -> None:
        """Deliver what is pending within `flush_timeout` seconds, then stop the tasks."""
        self._closed = True
        if self._ticker is not None:
            self._ticker.cancel()
        if self._deliverer is not None and not self._deliverer.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drained.wait(), self.flush_timeout)
        for task in (self._ticker, self._deliverer):
            if task is not None and not task.done():
                task.cancel()
                await asyncio.wait({task})
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._pending:
            log.warning("alertmanager sink closed with %d alerts undelivered", len(self._pending))

    # ---- state -----------------------------------------------------------------------------
    def _accept(self, alert: Alert) -> None:
        if self._closed:
            return
        now = self.clock()
        kind, warehouse = alert.kind, alert.warehouse
        firing_keys = [
            key
            for key in _keys(kind, warehouse, alert.severity)
            if (entry := self._tracked.get(key)) is not None and entry.ended_at is None
        ]
        if alert.live is not True and not (alert.state == "resolved" and firing_keys):
            self.skipped_replay += 1
            return
        key: _Key = (kind, warehouse, alert.severity)
        if alert.state == "resolved":
            for k in firing_keys:
                entry = self._tracked[k]
                entry.alert = alert  # the severity label stays the key's
                entry.ended_at = now
                self._enqueue(k)
            if not firing_keys:
                known = self._tracked.get(key)
                if known is not None:  # a repeated resolve: keep its endsAt
                    known.alert = alert
                    self._enqueue(key)
                else:
                    # Not paged by this sink (e.g. it fired before a restart): resolve it anyway;
                    # Alertmanager does not notify a resolve of an alert it never notified firing.
                    self._track(key, _Tracked(alert, starts_at=now, ended_at=now))
            return
        for k in firing_keys:  # an episode changing severity: retire the other label set
            if k != key:
                entry = self._tracked[k]
                entry.ended_at = now
                self._enqueue(k)
        current = self._tracked.get(key)
        if (
            current is not None
            and current.ended_at is None
            and current.alert.alert_id == alert.alert_id
        ):
            current.alert = alert
            self._enqueue(key)
        else:
            self._track(key, _Tracked(alert, starts_at=now))

    def _track(self, key: _Key, entry: _Tracked) -> None:
        if key in self._tracked:
            del self._tracked[key]
        elif len(self._tracked) >= self.max_tracked:
            victim = next(
                (k for k, e in self._tracked.items() if e.ended_at is not None),
                next(iter(self._tracked)),
            )
            del self._tracked[victim]
            self._pending.pop(victim, None)
            self.dropped += 1
            log.warning(
                "alertmanager sink: more than %d alerts tracked, dropped %s",
                self.max_tracked,
                victim,
            )
        self._tracked[key] = entry
        self._enqueue(key)

    def _enqueue(self, key: _Key) -> None:
        if key not in self._pending:
            if len(self._pending) >= self.queue_size:
                self._pending.popitem(last=False)
                self.dropped += 1
            self._pending[key] = None
        self._drained.clear()
        self._wake.set()

    def _resend_due(self) -> None:
        """Queue every firing alert, and every resolve still inside its repeat window."""
        now = self.clock()
        for key, entry in list(self._tracked.items()):
            if entry.ended_at is not None and now - entry.ended_at > self.resolve_repeat_for:
                del self._tracked[key]
                self._pending.pop(key, None)
            else:
                self._enqueue(key)

    # ---- payload ---------------------------------------------------------------------------
    def payload(self, keys: list[_Key]) -> list[dict[str, Any]]:
        """The Alertmanager objects of `keys` as of now (keys no longer tracked are left out)."""
        now = self.clock()
        out = []
        for key in keys:
            entry = self._tracked.get(key)
            if entry is not None:
                out.append(self._object(key, entry, now))
        return out

    def _object(self, key: _Key, entry: _Tracked, now: float) -> dict[str, Any]:
        kind, warehouse, severity = key
        alert = entry.alert
        if entry.ended_at is None:
            ends_at = now + self.endsat_intervals * self.resend_interval
        else:
            ends_at = entry.ended_at
        annotations = {
            "summary": alert.summary,
            "description": describe(alert),
            "runbook_url": f"{self.runbook_url}#{kind}",
            "alert_id": alert.alert_id,
            "event_started_at": format_rfc3339_ms(alert.started_at_ms),
            "event_updated_at": format_rfc3339_ms(alert.updated_at_ms),
        }
        if self.dashboard_url is not None:
            annotations["dashboard_url"] = self.dashboard_link(warehouse)
        for name, value in alert.signals.items():
            annotations[f"signal_{_INVALID_NAME.sub('_', name)}"] = render(value)
        return {
            "labels": {
                "alertname": kind,
                "warehouse": warehouse,
                "severity": severity,
                "service": SERVICE,
            },
            "annotations": annotations,
            "startsAt": _rfc3339(entry.starts_at),
            "endsAt": _rfc3339(max(ends_at, entry.starts_at)),
        }

    def dashboard_link(self, warehouse: str) -> str:
        """The Grafana dashboard that shows `warehouse` (the overview for the network)."""
        if warehouse == NETWORK_KEY:
            return f"{self.dashboard_url}{OVERVIEW_DASHBOARD}"
        query = urllib.parse.urlencode({"var-warehouse": warehouse})
        return f"{self.dashboard_url}{WAREHOUSE_DASHBOARD}?{query}"

    # ---- background tasks --------------------------------------------------------------------
    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self.resend_interval)
            try:
                self._resend_due()
            except Exception:
                log.exception("alertmanager sink: re-send failed")

    async def _deliver_forever(self) -> None:
        while True:
            while not self._pending:
                self._drained.set()
                self._wake.clear()
                await self._wake.wait()
            keys: list[_Key] = []
            while self._pending and len(keys) < self.batch_size:
                keys.append(self._pending.popitem(last=False)[0])
            self._in_flight = len(keys)
            try:
                await self._deliver(keys)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("alertmanager sink: delivery failed unexpectedly")
            finally:
                self._in_flight = 0

    async def _deliver(self, keys: list[_Key]) -> None:
        attempts = 0
        while True:
            if self._delay > 0:
                delay, self._delay = self._delay, 0.0
                await self._sleep(delay)
            body = self.payload(keys)  # rebuilt each attempt: fresh endsAt, latest state
            if not body:
                return
            outcome, retry_after, detail = await self._post(body)
            if outcome == _Outcome.OK:
                if self._streak:
                    log.info("alertmanager sink: delivering again after %d errors", self._streak)
                self._streak = 0
                self.delivered += len(body)
                return
            self.errors += 1
            attempts += 1
            if outcome == _Outcome.RETRY:
                self._streak += 1
                self._delay = (
                    min(retry_after, self.retry_after_max)
                    if retry_after is not None
                    else self.backoff(self._streak)
                )
                if self._streak == 1:
                    log.warning("alertmanager sink: %s: %s; retrying", self.url, detail)
            if outcome == _Outcome.PERMANENT or attempts >= self.max_attempts:
                self._give_up(len(body), detail)
                return

    def backoff(self, failures: int) -> float:
        """Seconds to wait after `failures` consecutive failed attempts (1, 2, ...): doubling
        from `backoff_min`, capped at `backoff_max` however long the outage."""
        return min(self.backoff_max, self.backoff_min * 2.0 ** min(max(failures - 1, 0), 64))

    async def _post(self, body: list[dict[str, Any]]) -> tuple[str, float | None, str]:
        if self._session is None:
            self._session = self._session_factory()
        try:
            async with self._session.post(
                self.url, json=body, timeout=aiohttp.ClientTimeout(total=self.timeout)
            ) as response:
                status = response.status
                if 200 <= status < 300:
                    return _Outcome.OK, None, ""
                text = (await response.text(errors="replace"))[:200]
                detail = f"HTTP {status} {text.strip()}"
                if status in (408, 429) or status >= 500:
                    retry_after = None
                    if status in (429, 503):
                        retry_after = self._retry_after(response.headers.get("Retry-After"))
                    return _Outcome.RETRY, retry_after, detail
                return _Outcome.PERMANENT, None, detail
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return _Outcome.RETRY, None, f"{type(exc).__name__}: {exc}"

    def _retry_after(self, header: str | None) -> float | None:
        if not header:
            return None
        header = header.strip()
        try:
            seconds = float(header)
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(header)
            except (TypeError, ValueError, IndexError):
                return None
            seconds = when.timestamp() - self.clock()
        if math.isnan(seconds):
            return None
        return max(0.0, seconds)

    def _give_up(self, count: int, detail: str) -> None:
        self.failed += count
        log.warning(
            "alertmanager sink: gave up on %d alerts (%s); they are sent again at the next "
            "re-send if still tracked",
            count,
            detail,
        )
        if self.on_failure is not None:
            for _ in range(count):
                try:
                    self.on_failure(self.name)
                except Exception:
                    log.exception("alertmanager sink: on_failure hook failed")

    def _default_session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))


def render(value: float | int | str | None) -> str:
    """A signal as text for a person: integers plainly, fractions to 3 decimals, None as n/a."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.3f}".rstrip("0").rstrip(".")
    return str(value)


def describe(alert: Alert) -> str:
    """The ``description`` annotation: the summary, the numbers, the episode in event time."""
    numbers = ", ".join(f"{name}={render(value)}" for name, value in alert.signals.items())
    lines = [alert.summary]
    if numbers:
        lines.append(f"Signals: {numbers}.")
    lines.append(
        f"Episode {alert.alert_id}, event time: started {format_rfc3339_ms(alert.started_at_ms)}"
        f", updated {format_rfc3339_ms(alert.updated_at_ms)}"
        + (
            f", ended {format_rfc3339_ms(alert.ended_at_ms)}."
            if alert.ended_at_ms is not None
            else "."
        )
    )
    return "\n".join(lines)


def _keys(kind: str, warehouse: str, severity: str) -> list[_Key]:
    severities = list(SEVERITIES)
    if severity not in severities:
        severities.append(severity)
    return [(kind, warehouse, s) for s in severities]


def _rfc3339(seconds: float) -> str:
    return format_rfc3339_ms(round(seconds * 1000))
