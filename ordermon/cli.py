"""`ordermon` commands: broker, worker, simulate, demo, settings. Sets up logging, nothing else.

A user mistake (bad setting, unreachable Kafka, unknown scenario) ends with one clear line and
exit code 2, never a traceback."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging.config
import os
import signal
import sys
import time
from collections.abc import Iterable, Iterator
from typing import NoReturn

import click

from ordermon.config import ConfigError, Settings, documented
from ordermon.logging import log_config


def fail(message: str) -> NoReturn:
    click.echo(f"ordermon: {message}", err=True)
    sys.exit(2)


def load_settings(with_policy: bool = False) -> Settings:
    """The settings (and, for a worker, the detection policy), or one line naming what is wrong."""
    try:
        settings = Settings.from_env(os.environ)
        if with_policy:
            from ordermon.policy import load_policy

            load_policy(os.environ)
        return settings
    except ConfigError as exc:
        fail(f"invalid setting {exc}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ordermon")
def main() -> None:
    """ordermon: warns when orders outrun dispatch, delivery, customer service and refunds."""


@main.command()
@click.option("--port", default=9092, show_default=True, help="port on 127.0.0.1")
@click.option(
    "--partitions", type=int, default=None, help="partitions per topic (ORDERMON_PARTITIONS)"
)
def broker(port: int, partitions: int | None) -> None:
    """Run the embedded Kafka-protocol broker on 127.0.0.1 until stopped, topics created."""
    from ordermon.devtools.broker import BrokerError, EmbeddedBroker
    from ordermon.kafka import KafkaUnavailable, ensure_topics

    settings = load_settings()
    settings = dataclasses.replace(
        settings, kafka=f"127.0.0.1:{port}", partitions=partitions or settings.partitions
    )
    logging.config.dictConfig(log_config(settings.log_level))
    embedded = EmbeddedBroker(port)
    try:
        embedded.start()
        counts = asyncio.run(ensure_topics(settings))
    except (BrokerError, KafkaUnavailable) as exc:
        embedded.stop()
        fail(str(exc))
    click.echo(
        f"broker ready on 127.0.0.1:{port} (in memory); topics: "
        + ", ".join(f"{t}[{n}]" for t, n in counts.items())
        + f"\nexport ORDERMON_KAFKA=127.0.0.1:{port}   # then: ordermon worker"
    )
    stop = {"now": False}

    def _stop(*_: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        while not stop["now"]:
            if embedded.process is None or embedded.process.poll() is not None:
                fail("the embedded broker exited")
            time.sleep(0.2)
    finally:
        embedded.stop()
        click.echo("broker stopped")


@main.command()
def worker() -> None:
    """Run one monitor worker (a Faust worker) until stopped."""
    from ordermon.kafka import KafkaUnavailable, preflight
    from streams.errors import PartitionsMismatch

    settings = load_settings(with_policy=True)
    logging.config.dictConfig(log_config(settings.log_level))
    try:
        asyncio.run(preflight(settings))
    except (KafkaUnavailable, PartitionsMismatch) as exc:
        fail(str(exc))
    import importlib

    import faust

    from ordermon.app import app

    # Faust's autodiscovery only logs a module that fails to import; a worker without its
    # agents or views must not start, so import them here first and let an error surface.
    for module in ("agents.ingest", "agents.views"):
        importlib.import_module(module)

    worker = faust.Worker(app, loglevel=settings.log_level, redirect_stdouts=False)
    # Faust's terminal spinner, kept at WARNING and above, sets the root logger to DEBUG so that
    # it can spin on every record: every debug call of every library then builds a record.
    worker.spinner = None
    worker.execute_from_commandline()


@main.command()
@click.option("--scenario", "name", default="steady", show_default=True, help="scenario name")
@click.option(
    "--speed",
    default=0.0,
    show_default=True,
    help="event-time seconds per second (0: as fast as possible)",
)
@click.option("--seed", default=0, show_default=True)
@click.option(
    "--days", type=float, default=None, help="length in simulated days (scenario default)"
)
@click.option("--scale", default=1.0, show_default=True, help="traffic multiplier")
@click.option("--list", "list_only", is_flag=True, help="list the scenarios and exit")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, allow_dash=True),
    default=None,
    help="write the events to this file (JSON lines, for `ordermon backtest`) instead of Kafka",
)
def simulate(
    name: str,
    speed: float,
    seed: int,
    days: float | None,
    scale: float,
    list_only: bool,
    out: str | None,
) -> None:
    """Publish a scenario's events to the input topics (or write them to a file with --out)."""
    from ordermon.devtools import catalogue

    if list_only:
        for key, description in catalogue.names():
            click.echo(f"{key:<18} {description}")
        return
    if speed < 0 or scale <= 0:
        fail("--speed must be >= 0 and --scale > 0")
    try:
        scenario = catalogue.source(name, seed=seed, days=days, scale=scale)
    except ValueError as exc:
        fail(str(exc))
    if out is not None:
        written = 0
        try:
            with click.open_file(out, "wb") as sink:
                for line in catalogue.lines(scenario):
                    sink.write(line + b"\n")
                    written += 1
        except OSError as exc:
            fail(f"cannot write {out}: {exc.strerror}")
        click.echo(f"wrote {written} messages of scenario {name} to {out}", err=True)
        return
    settings = load_settings()
    from ordermon.devtools.simulate import run
    from ordermon.kafka import KafkaUnavailable, ensure_topics
    from ordermon.security import client_options
    from streams.publisher import Publisher

    async def go() -> None:
        await ensure_topics(settings)
        async with Publisher(
            settings.kafka, prefix=settings.topic_prefix, **client_options(settings)
        ) as pub:
            stats = await run(scenario, pub, speed=speed)
        click.echo(f"sent {stats.total} messages of scenario {name} to {settings.kafka}")

    try:
        asyncio.run(go())
    except KafkaUnavailable as exc:
        fail(str(exc))


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--policy", "policy_file", default=None, help="policy file (JSON or TOML) to try")
@click.option("--json", "as_json", is_flag=True, help="print JSON (CONTRACT.md) instead")
def backtest(file: str, policy_file: str | None, as_json: bool) -> None:
    """Replay recorded events (JSON lines: topic, key, value) offline and list the episodes."""
    from ordermon.backtest import BadLine, Record, read_lines, render_json, render_table, summary
    from ordermon.backtest import replay as run_replay
    from ordermon.policy import FILE_VARIABLE, load_policy

    settings = load_settings()
    env = dict(os.environ)
    if policy_file is not None:
        env[FILE_VARIABLE] = policy_file
    try:
        policy = load_policy(env)
    except ConfigError as exc:
        fail(f"invalid policy {exc}")
    bad: list[BadLine] = []

    def records(lines: Iterable[bytes]) -> Iterator[Record]:
        for item in read_lines(lines):
            if isinstance(item, BadLine):
                bad.append(item)
                click.echo(f"{file}:{item.line}: skipped: {item.reason}", err=True)
            else:
                yield item

    try:
        stream = sys.stdin.buffer if file == "-" else open(file, "rb")  # noqa: SIM115
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}")
    with stream:
        result = run_replay(
            records(stream), policy, settings.flow, max_warehouses=settings.max_warehouses
        )
    for line, letter in result.deadletters:
        click.echo(f"{file}:{line}: dead letter ({letter.reason}): {letter.error}", err=True)
    if as_json:
        click.echo(json.dumps(render_json(result, bad), indent=2))
        return
    click.echo(render_table(result.episodes))
    numbers = summary(result, len(bad))
    click.echo(
        f"{numbers['messages']} messages, {numbers['events']} events counted, "
        f"{numbers['bad_lines']} bad lines, {numbers['deadletters']} dead letters, "
        f"{numbers['episodes']} episodes ({numbers['critical_episodes']} critical)",
        err=True,
    )


@main.command()
@click.option(
    "--duration", default=170.0, show_default=True, help="stop after this many seconds at most"
)
@click.option("--days", type=float, default=None, help="simulated days of jd2008")
@click.option("--speed", type=float, default=None, help="event-time seconds per second")
def demo(duration: float, days: float | None, speed: float | None) -> None:
    """Broker, worker and the jd2008 scenario with a live view; ends by itself."""
    from ordermon.demo import run_demo

    sys.exit(run_demo(duration=duration, days=days, speed=speed))


@main.command("settings")
def show_settings() -> None:
    """List every ORDERMON_ variable with its default and meaning."""
    for name, default, doc in documented():
        click.echo(f"{name:<34} {default!s:<18} {doc}")
