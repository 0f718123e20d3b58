"""An alert is on its topic, acknowledged, before any table record of its batch is sent.

The warehouse's head record says the transition happened: a worker killed after that record
reached its changelog but before the alert reached its topic would never send it (the messages
read again after the restart change nothing). Sent first and acknowledged, the alert is at worst
repeated (the batch is read again): at least once."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

from ordermon.agents.engine import HEADS, MINUTES, Engine, MemoryStore, Outcome, Write
from ordermon.agents.logic.flow import FlowConfig
from ordermon.agents.logic.policy import Policy
from ordermon.agents.worker.deps import Deps, WorkerConfig
from ordermon.agents.worker.ingest import Ingest
from ordermon.sinks.fanout import Fanout
from ordermon.sinks.kafka import KafkaSink
from ordermon.streams.outputs import Alert

ALERT = Alert(
    kind="dispatch_backpressure",
    warehouse="LYS-2",
    state="firing",
    severity="warning",
    alert_id="dispatch_backpressure:LYS-2:1773014460000",
    started_at_ms=1_773_014_460_000,
    updated_at_ms=1_773_014_460_000,
    summary="LYS-2: 300 parcels waiting",
)


class Topic:
    """A Faust topic's `send`: the record is queued at once; the broker acknowledges it a few
    loop turns later (the awaitable `send` returns)."""

    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.forced: list[bool] = []
        self.acks: list[asyncio.Future[None]] = []

    async def send(self, *, key: bytes, value: bytes, force: bool = False) -> Any:
        self.forced.append(force)
        self.log.append("alert queued")
        delivered: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def ack() -> None:
            for _ in range(3):
                await asyncio.sleep(0)
            self.log.append("alert acknowledged")
            delivered.set_result(None)

        self.acks.append(asyncio.ensure_future(ack()))
        return delivered


class Store:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    def write(self, write: Write) -> None:
        self.log.append(f"{write.table} written")


class Flushes:
    """The engine as `Ingest.confirm_soon` sees it: its flush count, and what it is told."""

    def __init__(self, flushes: int) -> None:
        self.flushes = flushes
        self.durable_calls: list[int] = []

    def deletes_waiting(self) -> bool:
        return True

    def durable(self, through: int) -> None:
        self.durable_calls.append(through)


def test_the_alert_is_acknowledged_before_any_record_of_its_batch_is_sent() -> None:
    log: list[str] = []
    topic = Topic(log)
    deps = Deps(
        engine=Engine(FlowConfig(), Policy(), MemoryStore()),
        config=WorkerConfig(),
        alerts=Fanout([KafkaSink(topic)], on_failure=lambda sink: None),
        observe=lambda outcome, seconds: log.append("observed"),
        metrics_page=lambda: (b"", "text/plain"),
    )
    app = SimpleNamespace(producer=SimpleNamespace(buffer=SimpleNamespace(size=0)))
    ingest = Ingest(app, deps, SimpleNamespace(deadletter=None), Store(log))  # type: ignore[arg-type]
    outcome = Outcome()
    outcome.alerts = [ALERT]
    outcome.writes = [
        Write(HEADS, 1, b"LYS-2", b"{}"),
        Write(MINUTES, 1, b"LYS-2/1773014400000", b"{}"),
    ]
    asyncio.run(ingest.carry(outcome, 0.001))
    assert log == [
        "alert queued",
        "alert acknowledged",
        "heads written",
        "minutes written",
        "observed",
    ]
    # never attached to the event being processed (Faust would hold it until that is acked)
    assert topic.forced == [True]


def test_the_alerts_of_several_warehouses_wait_for_one_round_trip_not_one_each() -> None:
    """A minute that closes for three warehouses at once: their alerts are all handed over before
    the first acknowledgement, and the table records still follow the last one. One warehouse's
    two transitions (a firing and its resolve in one batch) keep their order: the second is sent
    only once the first is acknowledged."""
    log: list[str] = []
    topic = Topic(log)
    fanout = Fanout([KafkaSink(topic)], on_failure=lambda sink: None)
    sent: list[tuple[str, str]] = []
    send = topic.send

    async def send_logged(*, key: bytes, value: bytes, force: bool = False) -> Any:
        sent.append((key.decode(), value.decode()))
        return await send(key=key, value=value, force=force)

    topic.send = send_logged  # type: ignore[method-assign]
    deps = Deps(
        engine=Engine(FlowConfig(), Policy(), MemoryStore()),
        config=WorkerConfig(),
        alerts=fanout,
        observe=lambda outcome, seconds: log.append("observed"),
        metrics_page=lambda: (b"", "text/plain"),
    )
    app = SimpleNamespace(producer=SimpleNamespace(buffer=SimpleNamespace(size=0)))
    ingest = Ingest(app, deps, SimpleNamespace(deadletter=None), Store(log))  # type: ignore[arg-type]
    resolved = replace(ALERT, state="resolved", updated_at_ms=ALERT.updated_at_ms + 60_000)
    others = [replace(ALERT, warehouse=wh, alert_id=f"x:{wh}") for wh in ("FRA-1", "MIL-3")]
    outcome = Outcome()
    outcome.alerts = [ALERT, *others, resolved]
    outcome.writes = [Write(HEADS, 1, b"LYS-2", b"{}")]
    asyncio.run(ingest.carry(outcome, 0.001))
    assert log[:3] == ["alert queued"] * 3  # the three warehouses side by side
    assert log[-2:] == ["heads written", "observed"]
    assert log.count("alert acknowledged") == 4
    lys = [value for key, value in sent if key == "LYS-2"]
    assert '"firing"' in lys[0]
    assert '"resolved"' in lys[1]
    # LYS-2's resolve was handed over only after its firing was acknowledged
    queued = [i for i, entry in enumerate(log) if entry == "alert queued"]
    assert log.index("alert acknowledged") < queued[3]


def test_the_tick_confirms_only_the_flushes_the_producer_acknowledged() -> None:
    """Ingest.confirm_soon: the flushes made before the producer's flush began are durable once
    it returns, not before and not the ones made meanwhile; the tick is not held by it."""

    async def scenario() -> list[int]:
        acked: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def flush() -> None:
            await acked

        engine = Flushes(3)
        deps = SimpleNamespace(engine=engine)
        app = SimpleNamespace(producer=SimpleNamespace(sent_so_far=flush))
        ingest = Ingest(app, deps, SimpleNamespace(), Store([]))  # type: ignore[arg-type]
        ingest.confirm_soon()
        engine.flushes = 5  # two more flushes while the producer's flush runs
        ingest.confirm_soon()  # one at a time
        for _ in range(3):
            await asyncio.sleep(0)
        assert engine.durable_calls == []
        acked.set_result(None)
        for _ in range(3):
            await asyncio.sleep(0)
        return engine.durable_calls

    assert asyncio.run(scenario()) == [3]


def test_a_flush_whose_records_wait_behind_their_alert_is_not_confirmed() -> None:
    """A batch's flush (number 5) waits for its alert's acknowledgement before its records go
    to the tables: a confirmation started meanwhile covers the flushes before it only, or the
    deletions flush 5 made unneeded could reach the changelog before its heads."""

    async def scenario() -> tuple[list[int], list[str]]:
        log: list[str] = []
        engine = Flushes(5)

        async def flush() -> None:
            log.append("producer flushed")

        deps = SimpleNamespace(
            engine=engine,
            alerts=Fanout([KafkaSink(Topic(log))], on_failure=lambda sink: None),
            observe=lambda outcome, seconds: None,
        )
        app = SimpleNamespace(
            producer=SimpleNamespace(sent_so_far=flush, buffer=SimpleNamespace(size=0))
        )
        ingest = Ingest(app, deps, SimpleNamespace(deadletter=None), Store(log))  # type: ignore[arg-type]
        outcome = Outcome()
        outcome.alerts = [ALERT]
        outcome.writes = [Write(HEADS, 1, b"LYS-2", b"{}")]
        outcome.flushed = 5
        carrying = asyncio.ensure_future(ingest.carry(outcome, 0.001))
        await asyncio.sleep(0)  # the carry waits for its alert's acknowledgement
        ingest.confirm_soon()
        await carrying
        for _ in range(3):
            await asyncio.sleep(0)
        ingest.confirm_soon()  # once written, flush 5 is confirmed too
        for _ in range(3):
            await asyncio.sleep(0)
        return engine.durable_calls, log

    calls, log = asyncio.run(scenario())
    assert calls == [4, 5]
    assert log.index("producer flushed") < log.index("heads written")


def test_sent_so_far_waits_for_what_was_handed_over_before_and_nothing_after() -> None:
    """Producer.sent_so_far: the records in Faust's buffer at the call (their futures) and
    aiokafka's flush of the moment; a record put into the buffer afterwards is not waited for
    (Faust's own flush waited for those too, for as long as the stream went on)."""
    from ordermon.agents.worker.transport import Producer

    async def scenario() -> list[str]:
        loop = asyncio.get_running_loop()
        log: list[str] = []
        pending: asyncio.Queue[asyncio.Future[None]] = asyncio.Queue()
        early, late = loop.create_future(), loop.create_future()
        pending.put_nowait(early)
        client_done = loop.create_future()

        class Client:
            async def flush(self) -> None:
                await client_done

        fake = SimpleNamespace(buffer=SimpleNamespace(pending=pending), _producer=Client())
        waiting = asyncio.ensure_future(Producer.sent_so_far(fake))  # type: ignore[arg-type]
        await asyncio.sleep(0)
        pending.put_nowait(late)  # handed over after the call
        early.set_result(None)
        await asyncio.sleep(0)
        log.append(f"after the buffered record: done={waiting.done()}")
        client_done.set_result(None)
        await waiting
        log.append(f"late record still pending: {not late.done()}")
        return log

    assert asyncio.run(scenario()) == [
        "after the buffered record: done=False",
        "late record still pending: True",
    ]


def test_ebb_waits_until_the_buffer_is_back_under_the_limit() -> None:
    """Ingest.ebb holds the stream while Faust's buffer holds more than MAX_UNSENT_RECORDS, and
    lets it go as soon as the buffer's own task has sent enough, without Faust's flush_atmost
    (one wake-up per record sent)."""
    from ordermon.agents.worker.ingest import MAX_UNSENT_RECORDS

    async def scenario() -> list[int]:
        buffer = SimpleNamespace(size=MAX_UNSENT_RECORDS + 300)
        seen: list[int] = []

        async def sender() -> None:  # the buffer's own task, 100 records a turn
            while buffer.size > 0:
                await asyncio.sleep(0.001)
                buffer.size -= 100

        app = SimpleNamespace(producer=SimpleNamespace(buffer=buffer))
        ingest = Ingest(app, SimpleNamespace(engine=None), SimpleNamespace(), Store([]))  # type: ignore[arg-type]
        task = asyncio.ensure_future(sender())
        await ingest.ebb()
        seen.append(buffer.size)
        task.cancel()
        return seen

    (size,) = asyncio.run(scenario())
    assert 0 < size <= MAX_UNSENT_RECORDS  # let go under the limit, before the buffer emptied
