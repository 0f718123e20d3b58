"""`ordermon` commands: broker, worker, simulate, demo, settings. Sets up logging, nothing else.

A user mistake (bad setting, unreachable Kafka, unknown scenario) ends with one clear line and
exit code 2, never a traceback."""

from __future__ import annotations

import asyncio
import dataclasses
import logging.config
import os
import signal
import sys
import time
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
    from ordermon.startup import StartupError, check_local
    from streams.errors import PartitionsMismatch

    settings = load_settings(with_policy=True)
    logging.config.dictConfig(log_config(settings.log_level))
    try:
        check_local(settings)
        asyncio.run(preflight(settings))
    except (KafkaUnavailable, PartitionsMismatch, StartupError) as exc:
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
def simulate(
    name: str, speed: float, seed: int, days: float | None, scale: float, list_only: bool
) -> None:
    """Publish a scenario's events to the input topics."""
    from ordermon.devtools.scenarios import SCENARIOS, build

    if list_only:
        for key in SCENARIOS:
            click.echo(f"{key:<14} {build(key, days=0.01).description}")
        return
    settings = load_settings()
    if speed < 0 or scale <= 0:
        fail("--speed must be >= 0 and --scale > 0")
    try:
        scenario = build(name, seed=seed, days=days, scale=scale)
    except ValueError as exc:
        fail(str(exc))
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
