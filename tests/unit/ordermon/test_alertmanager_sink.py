"""ordermon.sinks.alertmanager against a fake Alertmanager (aiohttp test server on 127.0.0.1).

The wall clock is injected (a FakeClock), and so are the back-off waits (recorded, not slept), so
payload timestamps and retry delays are exact; conditions that need the background tasks to run
are polled with a generous timeout, never timed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ordermon.config import Settings
from ordermon.sinks.alertmanager import DEFAULT_RUNBOOK_URL, AlertmanagerSink, describe, render
from ordermon.sinks.base import AlertSink
from ordermon.streams.outputs import Alert
from ordermon.streams.timefmt import format_rfc3339_ms, parse_rfc3339_ms

NOW = 1_800_000_000.0  # the injected wall clock, epoch seconds
NOW_MS = int(NOW * 1000)
RESEND = 60.0
POLL_TIMEOUT = 20.0


# ---- the fake Alertmanager -----------------------------------------------------------------
@dataclass
class Reply:
    status: int = 200
    retry_after: str | None = None
    hang: bool = False


@dataclass
class FakeAlertmanager:
    url: str = ""
    script: list[Reply] = field(default_factory=list)  # answers to the next requests, in order
    default: Reply = field(default_factory=Reply)  # the answer once the script is used up
    requests: list[list[dict[str, Any]]] = field(default_factory=list)  # every body seen
    accepted: list[list[dict[str, Any]]] = field(default_factory=list)  # bodies answered 2xx
    hanging: int = 0
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        assert request.content_type == "application/json"
        body = await request.json()
        assert isinstance(body, list)
        self.requests.append(body)
        reply = self.script.pop(0) if self.script else self.default
        if reply.hang:
            self.hanging += 1
            await self.release.wait()
            return web.Response(status=200)
        headers = {"Retry-After": reply.retry_after} if reply.retry_after else {}
        if 200 <= reply.status < 300:
            self.accepted.append(body)
        return web.Response(status=reply.status, headers=headers, text="fake")

    def alerts(self) -> list[dict[str, Any]]:
        """Every alert object Alertmanager accepted, in order."""
        return [obj for body in self.accepted for obj in body]

    def of(self, warehouse: str, severity: str | None = None) -> list[dict[str, Any]]:
        return [
            a
            for a in self.alerts()
            if a["labels"]["warehouse"] == warehouse
            and (severity is None or a["labels"]["severity"] == severity)
        ]


@pytest.fixture
async def fake() -> AsyncIterator[FakeAlertmanager]:
    am = FakeAlertmanager()
    app = web.Application()
    app.router.add_post("/api/v2/alerts", am.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    am.url = f"http://127.0.0.1:{server.port}"
    yield am
    am.release.set()
    await server.close()


class FakeClock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class RecordedSleep:
    delays: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(0)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def slept() -> RecordedSleep:
    return RecordedSleep()


@pytest.fixture
async def make_sink(
    fake: FakeAlertmanager, clock: FakeClock, slept: RecordedSleep
) -> AsyncIterator[Callable[..., AlertmanagerSink]]:
    made: list[AlertmanagerSink] = []

    def make(**kwargs: Any) -> AlertmanagerSink:
        options: dict[str, Any] = {
            "clock": clock,
            "sleep": slept,
            "resend_interval": RESEND,  # no re-send during a test unless it asks for one
            "timeout": 2.0,
        }
        options.update(kwargs)
        sink = AlertmanagerSink(options.pop("base_url", fake.url), **options)
        sink.start()
        made.append(sink)
        return sink

    yield make
    fake.release.set()
    for sink in made:
        await sink.close()


async def until(predicate: Callable[[], object], what: str) -> None:
    """Let the loop run until `predicate()` holds; fail naming `what` after a generous timeout."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + POLL_TIMEOUT
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


def alert(
    warehouse: str = "wh-1",
    *,
    kind: str = "dispatch_backpressure",
    severity: str = "warning",
    state: str = "firing",
    alert_id: str = "ep-1",
    updated_at_ms: int = NOW_MS - 10_000,
    signals: dict[str, float | int | str | None] | None = None,
    live: bool | None = True,
) -> Alert:
    return Alert(
        alert_id=alert_id,
        kind=kind,
        warehouse=warehouse,
        severity=severity,  # type: ignore[arg-type]
        state=state,  # type: ignore[arg-type]
        started_at_ms=updated_at_ms - 1_800_000,
        updated_at_ms=updated_at_ms,
        summary=f"Orders outrun dispatch at {warehouse}.",
        signals=(
            {"order_rate": 12.5, "dispatch_rate": 8, "pressure": 1.5625, "backlog": 340}
            if signals is None
            else signals
        ),
        ended_at_ms=updated_at_ms if state == "resolved" else None,
        live=live,
    )


def ms(text: str) -> int:
    value = parse_rfc3339_ms(text)
    assert value is not None, text
    return value


# ---- payload ---------------------------------------------------------------------------------
async def test_a_firing_alert_is_posted_with_labels_annotations_and_wall_clock_times(
    fake: FakeAlertmanager, make_sink: Callable[..., AlertmanagerSink]
) -> None:
    sink = make_sink()
    sent = alert(signals={"order_rate": 12.5, "dispatch_rate": 8, "pressure": 1.5625, "x-y": None})
    await sink.send(sent)
    await until(lambda: fake.accepted, "the alert to reach Alertmanager")

    assert fake.accepted == [fake.accepted[0]] and len(fake.accepted[0]) == 1
    obj = fake.accepted[0][0]
    assert set(obj) == {"labels", "annotations", "startsAt", "endsAt"}
    assert obj["labels"] == {
        "alertname": "dispatch_backpressure",
        "warehouse": "wh-1",
        "severity": "warning",
        "service": "ordermon",
    }
    notes = obj["annotations"]
    assert notes["summary"] == "Orders outrun dispatch at wh-1."
    assert notes["alert_id"] == "ep-1"
    assert notes["runbook_url"] == (
        "https://github.com/ordermon/ordermon/blob/main/README.md#dispatch_backpressure"
    )
    for number in ("order_rate=12.5", "dispatch_rate=8", "pressure=1.562", "x-y=n/a"):
        assert number in notes["description"]
    assert notes["signal_order_rate"] == "12.5"
    assert notes["signal_dispatch_rate"] == "8"
    assert notes["signal_pressure"] == "1.562"
    assert notes["signal_x_y"] == "n/a"  # annotation names must be [A-Za-z0-9_]
    assert notes["event_updated_at"] == format_rfc3339_ms(sent.updated_at_ms)
    assert "dashboard_url" not in notes  # no Grafana configured
    # Wall clock, not event time: startsAt when the sink saw it, endsAt three re-sends ahead.
    assert ms(obj["startsAt"]) == NOW_MS
    assert ms(obj["endsAt"]) == NOW_MS + int(3 * RESEND * 1000)
    await until(lambda: sink.delivered == 1, "the sink to count the delivery")
    assert sink.delivered == 1 and sink.failed == 0 and sink.errors == 0


async def test_the_runbook_base_is_configurable_and_its_anchor_is_the_kind(
    fake: FakeAlertmanager, make_sink: Callable[..., AlertmanagerSink]
) -> None:
    sink = make_sink(runbook_url="https://wiki.example/ordermon/runbook#top")
    await sink.send(alert(kind="cascade", warehouse="*"))
    await until(lambda: fake.accepted, "the alert")
    obj = fake.alerts()[0]
    assert obj["annotations"]["runbook_url"] == "https://wiki.example/ordermon/runbook#cascade"
    assert obj["labels"]["warehouse"] == "*"
    assert DEFAULT_RUNBOOK_URL.endswith("README.md#runbook")


async def test_dashboard_url_links_the_warehouse_dashboard_or_the_overview(
    fake: FakeAlertmanager, make_sink: Callable[..., AlertmanagerSink]
) -> None:
    sink = make_sink(dashboard_url="https://grafana.example/sub/")
    await sink.send(alert(warehouse="BJ 1&2"))
    await sink.send(alert(kind="cascade", warehouse="*"))
    await until(lambda: len(fake.alerts()) == 2, "both alerts")
    links = {a["labels"]["warehouse"]: a["annotations"]["dashboard_url"] for a in fake.alerts()}
    assert links == {
        "BJ 1&2": "https://grafana.example/sub/d/ordermon-warehouse/ordermon-warehouse"
        "?var-warehouse=BJ+1%262",
        "*": "https://grafana.example/sub/d/ordermon-overview/ordermon-overview",
    }


async def test_the_path_is_api_v2_alerts_under_the_base_url_with_a_prefix(
    fake: FakeAlertmanager, make_sink: Callable[..., AlertmanagerSink]
) -> None:
    sink = make_sink(base_url=fake.url + "/")
    assert sink.url == fake.url + "/api/v2/alerts"
    assert AlertmanagerSink("http://am:9093/prefix/").url == "http://am:9093/prefix/api/v2/alerts"
    with pytest.raises(ValueError, match="base_url"):
        AlertmanagerSink("am:9093")


def test_signals_are_rendered_for_a_person() -> None:
    assert render(None) == "n/a"
    assert render(3) == "3"
    assert render(3.0) == "3"
    assert render(0.125) == "0.125"
    assert render(2 / 3) == "0.667"
    assert render(float("inf")) == "inf"
    assert render("rising") == "rising"
    text = describe(alert(signals={"pressure": 1.5, "backlog": 340}))
    assert text.splitlines()[0] == "Orders outrun dispatch at wh-1."
    assert "pressure=1.5, backlog=340" in text
    assert "Episode ep-1" in text


# ---- re-send and resolve ---------------------------------------------------------------------
async def test_a_firing_alert_is_re_sent_with_endsat_moving_ahead(
    fake: FakeAlertmanager, make_sink: Callable[..., AlertmanagerSink], clock: FakeClock
) -> None:
    sink = make_sink(resend_interval=0.02)
    await sink.send(alert())
    await until(lambda: len(fake.of("wh-1")) >= 1, "the first POST")
    first = fake.of("wh-1")[0]
    clock.now += 100.0
    ends = NOW_MS + 100_000 + 60  # the new now plus three re-send intervals of 20 ms

    def resent() -> list[dict[str, Any]]:
        return [a for a in fake.of("wh-1") if ms(a["endsAt"]) == ends]

    await until(lambda: len(resent()) >= 2, "two re-sends after the clock moved")
    for later in resent():
        assert ms(later["startsAt"]) == NOW_MS  # the same alert to Alertmanager
        assert later["labels"] == first["labels"]
    assert ms(first["endsAt"]) == NOW_MS + 60
    assert sink.tracked == 1


async def test_a_repeat_from_the_stream_keeps_startsat_and_refreshes_the_numbers(
    fake: FakeAlertmanager, make_sink: Callable[..., AlertmanagerSink], clock: FakeClock
) -> None:
    sink = make_sink()
    await sink.send(alert(signals={"backlog": 100}))
    await until(lambda: len(fake.of("wh-1")) == 1, "the first POST")
    clock.now += 30.0
    await sink.send(alert(signals={"backlog": 900}))
    await until(lambda: len(fake.of("wh-1")) == 2, "the repeat")
    repeat = fake.of("wh-1")[1]
    assert ms(repeat["startsAt"]) == NOW_MS
    assert repeat["annotations"]["signal_backlog"] == "900"


async def test_a_resolve_ends_now_and_is_repeated_for_the_window_then_forgotten(
    fake: FakeAlertmanager, make_sink: Callable[..., AlertmanagerSink], clock: FakeClock
) -> None:
    sink = make_sink(resend_interval=0.02, resolve_repeat_for=300.0)
    await sink.send(alert())
    await until(lambda: fake.of("wh-1"), "the firing alert")
    clock.now += 50.0
    await sink.send(alert(state="resolved", updated_at_ms=NOW_MS + 40_000))
    resolved_at = NOW_MS + 50_000

    def resolves() -> list[dict[str, Any]]:
        return [a for a in fake.of("wh-1") if ms(a["endsAt"]) == resolved_at]

    await until(lambda: len(resolves()) >= 4, "the resolve and three repeats")
    assert all(ms(a["startsAt"]) == NOW_MS for a in resolves())
    first = fake.of("wh-1").index(resolves()[0])
    assert all(ms(a["endsAt"]) == resolved_at for a in fake.of("wh-1")[first:])  # never re-fired
    assert sink.tracked == 1
    clock.now += 301.0  # past the repeat window: the sink forgets it
    await until(lambda: sink.tracked == 0, "the resolved alert to be forgotten")
    await sink.send(alert("wh-2"))
    await until(lambda: fake.of("wh-2"), "a later alert")
    seen = len(fake.requests)  # one deliverer, in order: nothing built before wh-2 comes later
    await until(lambda: len(fake.of("wh-2")) >= 3, "re-sends of the later alert")
    assert all(a["labels"]["warehouse"] == "wh-2" for body in fake.requests[seen:] for a in body)


async def test_a_severity_change_resolves_the_old_label_set_and_fires_the_new(
    fake: FakeAlertmanager, make_sink: Callable[..., AlertmanagerSink], clock: FakeClock
) -> None:
    sink = make_sink()
    await sink.send(alert(severity="warning"))
    await until(lambda: fake.of("wh-1"), "the warning")
    clock.now += 20.0
    await sink.send(alert(severity="critical"))
    await until(lambda: fake.of("wh-1", "critical"), "the critical")
    warning, critical = fake.of("wh-1", "warning")[-1], fake.of("wh-1", "critical")[-1]
    assert ms(warning["endsAt"]) == NOW_MS + 20_000  # resolved when it escalated
    assert ms(critical["startsAt"]) == NOW_MS + 20_000
    assert ms(critical["endsAt"]) > NOW_MS + 20_000
    clock.now += 20.0
    await sink.send(alert(severity="critical", state="resolved"))
    await until(
        lambda: ms(fake.of("wh-1", "critical")[-1]["endsAt"]) == NOW_MS + 40_000,
        "the critical to resolve",
    )
    assert ms(fake.of("wh-1", "warning")[-1]["endsAt"]) == NOW_MS + 20_000


async def test_a_resolve_the_sink_never_saw_fire_is_still_sent(
    fake: FakeAlertmanager, make_sink: Callable[..., AlertmanagerSink]
) -> None:
    sink = make_sink()
    await sink.send(alert(state="resolved"))
    await until(lambda: fake.of("wh-1"), "the resolve")
    obj = fake.of("wh-1")[0]
    assert ms(obj["startsAt"]) == ms(obj["endsAt"]) == NOW_MS


# ---- replays ---------------------------------------------------------------------------------
async def test_only_live_alerts_page(
    fake: FakeAlertmanager, make_sink: Callable[..., AlertmanagerSink]
) -> None:
    """The engine decides what is live (agents.engine.is_live); the sink only reads the flag:
    not live (a replay, a catch-up) or unknown (a message without the field) is not paged,
    however recent its event time."""
    sink = make_sink()
    await sink.send(alert("replayed", live=False))
    await sink.send(alert("replayed", state="resolved", live=False))
    await sink.send(alert("unknown", live=None))
    await sink.send(alert("live", updated_at_ms=NOW_MS - 86_400_000))  # the engine's call
    assert sink.skipped_replay == 3
    await until(lambda: fake.of("live"), "the live alert")
    assert fake.of("replayed") == fake.of("unknown") == [] and sink.tracked == 1
    assert sink.pending == 0


async def test_retain_forgets_moved_warehouses_without_resolving_them(
    fake: FakeAlertmanager, make_sink: Callable[..., AlertmanagerSink]
) -> None:
    sink = make_sink(resend_interval=0.02)
    await sink.send(alert("stays"))
    await sink.send(alert("moved"))
    await until(lambda: fake.of("stays") and fake.of("moved"), "both alerts")
    sink.retain(lambda warehouse: warehouse != "moved")
    assert sink.tracked == 1

    async def resends() -> None:
        seen = len(fake.of("stays"))
        await until(lambda: len(fake.of("stays")) >= seen + 3, "re-sends of the held alert")

    await resends()  # a batch in flight at retain() may still hold the moved one
    sent = len(fake.of("moved"))
    await resends()
    assert len(fake.of("moved")) == sent
    assert all(o["endsAt"] != o["startsAt"] for o in fake.of("moved"))  # never resolved here


async def test_a_resolve_of_a_paged_alert_is_sent_even_when_not_live(
    fake: FakeAlertmanager, make_sink: Callable[..., AlertmanagerSink], clock: FakeClock
) -> None:
    sink = make_sink()
    await sink.send(alert())
    await until(lambda: fake.of("wh-1"), "the firing alert")
    clock.now += 7200.0  # the stream fell two hours behind: its resolve is not live
    await sink.send(alert(state="resolved", live=False))
    await until(lambda: ms(fake.of("wh-1")[-1]["endsAt"]) == NOW_MS + 7_200_000, "the resolve")
    assert sink.skipped_replay == 0


# ---- failures ----------------------------------------------------------------------------------
async def test_server_errors_are_retried_with_capped_exponential_backoff(
    fake: FakeAlertmanager, make_sink: Callable[..., AlertmanagerSink], slept: RecordedSleep
) -> None:
    fake.script = [Reply(500)] * 5
    sink = make_sink(backoff_min=0.5, backoff_max=4.0, max_attempts=10)
    await sink.send(alert())
    await until(lambda: fake.accepted, "delivery after five errors")
    assert len(fake.requests) == 6
    assert slept.delays == [0.5, 1.0, 2.0, 4.0, 4.0]
    await until(lambda: sink.delivered == 1, "the sink to count the delivery")
    assert sink.errors == 5 and sink.failed == 0 and sink.delivered == 1
    # Success resets the back-off: one more error waits the minimum again.
    fake.script = [Reply(502)]
    await sink.send(alert("wh-2"))
    await until(lambda: fake.of("wh-2"), "the second alert")
    assert slept.delays[5:] == [0.5]


def test_the_backoff_stays_capped_through_a_long_outage() -> None:
    sink = AlertmanagerSink("http://127.0.0.1:9093", backoff_min=0.5, backoff_max=30.0)
    assert [sink.backoff(n) for n in (1, 2, 3, 6, 7)] == [0.5, 1.0, 2.0, 16.0, 30.0]
    assert sink.backoff(100_000) == 30.0  # hours of failures: no overflow, still the cap


async def test_retry_after_is_honoured_on_503_and_429(
    fake: FakeAlertmanager, make_sink: Callable[..., AlertmanagerSink], slept: RecordedSleep
) -> None:
    fake.script = [Reply(503, retry_after="7"), Reply(429, retry_after="2.5"), Reply(503)]
    sink = make_sink(backoff_min=0.5)
    await sink.send(alert())
    await until(lambda: fake.accepted, "delivery after 503, 429, 503")
    assert slept.delays == [7.0, 2.5, 2.0]  # the third falls back to back-off (third error)
    await until(lambda: sink.delivered == 1, "the sink to count the delivery")
    assert sink.errors == 3 and sink.delivered == 1


async def test_retry_after_as_an_http_date_counts_from_the_injected_clock(
    fake: FakeAlertmanager, make_sink: Callable[..., AlertmanagerSink], slept: RecordedSleep
) -> None:
    # NOW is 2027-01-15T08:00:00Z; the server asks for 90 s.
    fake.script = [Reply(503, retry_after="Fri, 15 Jan 2027 08:01:30 GMT")]
    sink = make_sink()
    await sink.send(alert())
    await until(lambda: fake.accepted, "delivery")
    assert slept.delays == [90.0]


async def test_after_max_attempts_the_batch_is_counted_failed_and_reported(
    fake: FakeAlertmanager, make_sink: Callable[..., AlertmanagerSink], slept: RecordedSleep
) -> None:
    fake.default = Reply(500)
    reported: list[str] = []
    sink = make_sink(max_attempts=3, on_failure=reported.append)
    await sink.send(alert("wh-1"))
    await sink.send(alert("wh-2"))
    await until(lambda: sink.failed == 2, "both alerts to be given up")
    assert len(fake.requests) == 3 and all(len(body) == 2 for body in fake.requests)
    assert reported == ["alertmanager", "alertmanager"]
    assert sink.errors == 3 and sink.delivered == 0
    assert sink.tracked == 2  # not forgotten: re-sent at the next interval


async def test_a_bad_request_is_not_retried(
    fake: FakeAlertmanager, make_sink: Callable[..., AlertmanagerSink], slept: RecordedSleep
) -> None:
    fake.script = [Reply(400)]
    reported: list[str] = []
    sink = make_sink(on_failure=reported.append)
    await sink.send(alert())
    await until(lambda: sink.failed == 1, "the alert to be given up")
    assert len(fake.requests) == 1 and slept.delays == [] and reported == ["alertmanager"]


async def test_a_given_up_alert_is_delivered_by_the_next_re_send(
    fake: FakeAlertmanager, make_sink: Callable[..., AlertmanagerSink]
) -> None:
    fake.script = [Reply(500), Reply(500)]
    sink = make_sink(max_attempts=2, resend_interval=0.02)
    await sink.send(alert())
    await until(lambda: fake.accepted, "the re-send to deliver it")
    await until(lambda: sink.delivered >= 1, "the sink to count the delivery")
    assert sink.failed == 1 and sink.delivered >= 1


async def test_send_never_waits_on_a_hanging_server_and_the_queue_stays_bounded(
    fake: FakeAlertmanager, make_sink: Callable[..., AlertmanagerSink]
) -> None:
    fake.default = Reply(hang=True)
    sink = make_sink(
        queue_size=1000, max_tracked=20_000, timeout=0.2, backoff_min=0.01, backoff_max=0.05
    )
    await sink.send(alert("first"))
    await until(lambda: fake.hanging == 1, "the first POST to hang")

    for i in range(10_000):
        step = sink.send(alert(f"w{i}", alert_id=f"ep-{i}"))
        # One step of the coroutine runs it to the end: send() never suspends, so it cannot wait.
        with pytest.raises(StopIteration):
            step.send(None)
        assert sink.pending <= 1000
    assert sink.pending == 1000
    assert sink.dropped == 9_000  # the oldest were pushed out
    assert sink.errors == 0

    await until(lambda: sink.errors >= 2, "time-outs to be retried")
    assert fake.hanging >= 2 and fake.accepted == []

    fake.default = Reply()  # Alertmanager is back
    await sink.send(alert("after", alert_id="ep-after"))
    await until(lambda: fake.of("after"), "the alert sent after the recovery")
    # The newest of the burst survived the drops and arrives too; the oldest were dropped.
    await until(lambda: fake.of("w9999"), "the newest alert of the burst")
    assert fake.of("w0") == []
    await until(lambda: sink.delivered >= 2, "the sink to count the deliveries")
    assert sink.delivered >= 2


async def test_close_flushes_what_is_pending(
    fake: FakeAlertmanager, make_sink: Callable[..., AlertmanagerSink]
) -> None:
    sink = make_sink(flush_timeout=30.0)
    for i in range(200):
        await sink.send(alert(f"w{i}"))
    await sink.close()
    assert {a["labels"]["warehouse"] for a in fake.alerts()} == {f"w{i}" for i in range(200)}
    assert all(len(body) <= 64 for body in fake.requests)
    await sink.send(alert("late"))  # after close: ignored, no error
    assert sink.pending == 0


async def test_close_returns_while_the_server_hangs(
    fake: FakeAlertmanager, make_sink: Callable[..., AlertmanagerSink]
) -> None:
    fake.default = Reply(hang=True)
    sink = make_sink(timeout=30.0, flush_timeout=0.1)
    await sink.send(alert())
    await until(lambda: fake.hanging == 1, "the POST to hang")
    await sink.close()  # bounded by flush_timeout, not by the 30 s request timeout
    assert fake.accepted == []
    tasks = [t for t in asyncio.all_tasks() if t.get_name().startswith("alertmanager-")]
    assert tasks == []


async def test_an_unreachable_alertmanager_counts_errors(
    make_sink: Callable[..., AlertmanagerSink],
) -> None:
    with socket_on_loopback() as port:
        reported: list[str] = []
        sink = make_sink(base_url=f"http://127.0.0.1:{port}", max_attempts=2)
        sink.on_failure = reported.append
        await sink.send(alert())
        await until(lambda: sink.failed == 1, "the alert to be given up")
    assert sink.errors == 2 and reported == ["alertmanager"]


async def test_the_tracked_state_is_bounded(
    fake: FakeAlertmanager, make_sink: Callable[..., AlertmanagerSink]
) -> None:
    sink = make_sink(max_tracked=3)
    await sink.send(alert("a"))
    await sink.send(alert("b", state="resolved"))
    await sink.send(alert("c"))
    await sink.send(alert("d"))  # evicts "b", the resolved one, before any firing one
    assert sink.tracked == 3 and sink.dropped == 1
    await sink.send(alert("e"))  # then the oldest
    assert sink.tracked == 3 and sink.dropped == 2
    await until(lambda: fake.of("e"), "the newest")
    assert fake.of("a") == [] and fake.of("b") == []


async def test_a_session_factory_is_used_and_closed(
    fake: FakeAlertmanager, make_sink: Callable[..., AlertmanagerSink]
) -> None:
    made: list[aiohttp.ClientSession] = []

    def factory() -> aiohttp.ClientSession:
        made.append(aiohttp.ClientSession(headers={"X-Test": "yes"}))
        return made[-1]

    sink = make_sink(session_factory=factory)
    await sink.send(alert())
    await until(lambda: fake.accepted, "delivery through the injected session")
    await sink.close()
    assert len(made) == 1 and made[0].closed


def test_it_is_an_alert_sink_and_built_from_settings() -> None:
    sink: AlertSink = AlertmanagerSink("http://127.0.0.1:9093")
    assert sink.name == "alertmanager"
    assert AlertmanagerSink.from_settings(Settings()) is None
    built = AlertmanagerSink.from_settings(
        Settings.from_env({"ORDERMON_ALERTMANAGER_URL": "http://127.0.0.1:9093"}), timeout=5.0
    )
    assert built is not None and built.url == "http://127.0.0.1:9093/api/v2/alerts"
    assert built.timeout == 5.0
    assert built.runbook_url == "https://github.com/ordermon/ordermon/blob/main/README.md"
    assert built.dashboard_url is None
    linked = AlertmanagerSink.from_settings(
        Settings.from_env(
            {
                "ORDERMON_ALERTMANAGER_URL": "http://127.0.0.1:9093",
                "ORDERMON_RUNBOOK_URL": "https://wiki.example/runbook",
                "ORDERMON_DASHBOARD_URL": "https://grafana.example",
            }
        )
    )
    assert linked is not None
    assert linked.runbook_url == "https://wiki.example/runbook"
    assert linked.dashboard_url == "https://grafana.example"
    with pytest.raises(ValueError, match="queue_size"):
        AlertmanagerSink("http://127.0.0.1:9093", queue_size=0)


# ---- helpers -------------------------------------------------------------------------------------
@contextlib.contextmanager
def socket_on_loopback() -> Iterator[int]:
    """A TCP port on 127.0.0.1 that is bound but not listening: connections are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


async def test_offer_pages_live_firing_alerts_not_paged_yet(
    fake: FakeAlertmanager, make_sink: Callable[..., AlertmanagerSink]
) -> None:
    """A stall that fired while the worker caught up (not live) pages once it is live: the
    worker offers what is firing now at every tick; what the sink tracks is left alone."""
    sink = make_sink()
    await sink.send(alert("caught-up", alert_id="ep-9", live=False))  # fired during a catch-up
    await sink.send(alert("paged", alert_id="ep-1"))
    await until(lambda: fake.of("paged"), "the live alert")
    assert fake.of("caught-up") == []
    sink.offer(
        [
            alert("caught-up", alert_id="ep-9"),  # firing now, and live as of now
            alert("paged", alert_id="ep-1"),  # already tracked: not queued again
            alert("history", live=False),  # still not live
            alert("gone", state="resolved"),  # only firing alerts are offered
        ]
    )
    await until(lambda: fake.of("caught-up"), "the alert that became live")
    assert len(fake.of("paged")) == 1 and fake.of("history") == fake.of("gone") == []


async def test_the_log_sink_warns_only_of_live_alerts_firing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from ordermon.sinks.log import LogSink

    sink = LogSink()
    with caplog.at_level(logging.INFO, logger="ordermon.alerts"):
        await sink.send(alert("now"))
        await sink.send(alert("then", live=False))
    (now, then) = caplog.records
    assert now.levelno == logging.WARNING and "(not live)" not in now.getMessage()
    assert then.levelno == logging.INFO and "then (not live)" in then.getMessage()
