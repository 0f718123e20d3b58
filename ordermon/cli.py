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
from typing import TYPE_CHECKING, Any, NoReturn

import click
from aiokafka.errors import KafkaError

from ordermon.config import ConfigError, Settings, documented, in_effect
from ordermon.logging import log_config

if TYPE_CHECKING:
    from ordermon.agents.logic.policy import Policy


def fail(message: str) -> NoReturn:
    click.echo(f"ordermon: {message}", err=True)
    sys.exit(2)


def require_worker_extra(what: str) -> None:
    """One line, not an ImportError, when a monitor command runs on the base (publisher) install."""
    import importlib.util

    missing = [m for m in ("faust", "prometheus_client") if importlib.util.find_spec(m) is None]
    if missing:
        fail(
            f"{what} needs the monitor's packages ({', '.join(missing)} missing): "
            "pip install 'ordermon[worker]'"
        )


def load_settings() -> Settings:
    """The settings, or one line naming what is wrong."""
    try:
        return Settings.from_env(os.environ)
    except ConfigError as exc:
        fail(f"invalid setting {exc}")


def load_policy() -> Policy:
    """The detection policy (ORDERMON_POLICY_*), or one line naming what is wrong."""
    from ordermon.policy import load_policy as from_env

    try:
        return from_env(os.environ)
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


def _settings_epilog() -> str:
    """Every setting, for `worker --help` (\b keeps click from re-wrapping the lines)."""
    lines = ["\b", "Settings (environment variables; `ordermon settings` shows those in effect):"]
    lines += [f"  {name:<36} {default!s:<14} {doc}" for name, default, doc in documented()]
    return "\n".join(lines)


@main.command(epilog=_settings_epilog())
def worker() -> None:
    """Run one monitor worker (a Faust worker) until stopped.

    Configured by ORDERMON_ environment variables (below) and a policy file
    (ORDERMON_POLICY_FILE, ORDERMON_POLICY_*: see the README's policy section)."""
    require_worker_extra("ordermon worker")
    from ordermon.kafka import KafkaUnavailable, preflight
    from ordermon.startup import StartupError, check_local
    from ordermon.streams.errors import PartitionsMismatch

    settings = load_settings()
    policy = load_policy()
    logging.config.dictConfig(log_config(settings.log_level))
    try:
        check_local(settings)
        asyncio.run(preflight(settings))
    except (KafkaUnavailable, PartitionsMismatch, StartupError) as exc:
        fail(str(exc))
    import faust

    from ordermon.app import build

    app = build(settings, policy).app
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
        if scenario.policy is not None:
            click.echo(
                f"its sites declare a policy (their calendars); to replay it as they would, save "
                f"this as policy.json and run `ordermon backtest {out} --policy policy.json`:\n"
                f"{json.dumps(scenario.policy)}",
                err=True,
            )
        return
    settings = load_settings()
    from ordermon.devtools.simulate import run
    from ordermon.kafka import KafkaUnavailable, ensure_topics
    from ordermon.security import client_options
    from ordermon.streams.publisher import Publisher

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
    "--duration", default=600.0, show_default=True, help="stop after this many seconds at most"
)
@click.option("--days", type=float, default=None, help="simulated days of jd2008")
@click.option("--speed", type=float, default=None, help="event-time seconds per second")
def demo(duration: float, days: float | None, speed: float | None) -> None:
    """Broker, worker and the jd2008 scenario with a live view; ends by itself."""
    require_worker_extra("ordermon demo")
    from ordermon.demo import run_demo

    sys.exit(run_demo(duration=duration, days=days, speed=speed))


@main.command("settings")
@click.option("--defaults", is_flag=True, help="the defaults, not the values in effect")
def show_settings(defaults: bool) -> None:
    """Every ORDERMON_ variable with the value in effect here (secrets as ***) and its meaning;
    `*` marks a value set in the environment."""
    if defaults:
        for name, default, doc in documented():
            click.echo(f"{name:<36} {default!s:<18} {doc}")
        return
    try:
        rows = in_effect(os.environ)
    except ConfigError as exc:
        fail(f"invalid setting {exc}")
    for name, value, is_set, doc in rows:
        click.echo(f"{name:<36} {'*' if is_set else ' '} {value:<18} {doc}")


@main.group()
def deadletters() -> None:
    """Look at rejected messages (`list`), and send them again once fixed (`replay`)."""


def _selection_options(func: Any) -> Any:
    for option in reversed(
        [
            click.option("--reason", "reasons", multiple=True, help="only this reason (repeat)"),
            click.option(
                "--topic", "topics", multiple=True, help="only this source topic (repeat)"
            ),
            click.option("--since", help="received at or after (RFC 3339)"),
            click.option("--until", help="received before (RFC 3339)"),
        ]
    ):
        func = option(func)
    return func


def _selection(
    settings: Settings,
    reasons: tuple[str, ...],
    topics: tuple[str, ...],
    since: str | None,
    until: str | None,
) -> Any:
    from ordermon.deadletters import Selection
    from ordermon.streams.timefmt import parse_rfc3339_ms
    from ordermon.streams.topics import TopicNames

    bounds: list[int | None] = []
    for flag, text in (("--since", since), ("--until", until)):
        ms = parse_rfc3339_ms(text) if text is not None else None
        if text is not None and ms is None:
            fail(f"{flag} {text!r} is not an RFC 3339 time, e.g. 2026-11-22T08:15:00Z")
        bounds.append(ms)
    return Selection(
        reasons=frozenset(reasons),
        topics=frozenset(topics),
        since_ms=bounds[0],
        until_ms=bounds[1],
        names=TopicNames(settings.topic_prefix),
    )


def _read_letters(settings: Settings) -> Any:
    from ordermon.deadletters import read_letters
    from ordermon.kafka import KafkaUnavailable

    try:
        letters, bad = asyncio.run(read_letters(settings))
    except KafkaUnavailable as exc:
        fail(str(exc))
    except KafkaError as exc:
        fail(f"cannot read the dead-letter topic from {settings.kafka}: {exc!r}")
    for line in bad:
        click.echo(f"ordermon: {line}", err=True)
    return letters


@deadletters.command("list")
@_selection_options
@click.option("--json", "as_json", is_flag=True, help="one JSON object per line (replay --file)")
def deadletters_list(
    reasons: tuple[str, ...],
    topics: tuple[str, ...],
    since: str | None,
    until: str | None,
    as_json: bool,
) -> None:
    """List the dead letters: where each message came from, when, and why it was rejected."""
    import orjson

    settings = load_settings()
    selection = _selection(settings, reasons, topics, since, until)
    chosen = [x for x in _read_letters(settings) if selection.matches(x)]
    for letter in chosen:
        if as_json:
            click.echo(orjson.dumps(letter.to_json()).decode())
        else:
            wire = letter.to_json()
            click.echo(
                f"{wire['received_at'] or '-':<24} {letter.source_topic}[{letter.partition}]"
                f"@{letter.offset:<8} {letter.reason:<18} {letter.error}"
            )
    click.echo(f"{len(chosen)} dead letters", err=True)


@deadletters.command("replay")
@_selection_options
@click.option(
    "--file",
    "corrections",
    type=click.File("r", encoding="utf-8"),
    help="corrected messages: the JSON lines of `list --json`, edited (only these are sent)",
)
@click.option("--dry-run", is_flag=True, help="say what would be sent, send nothing")
def deadletters_replay(
    reasons: tuple[str, ...],
    topics: tuple[str, ...],
    since: str | None,
    until: str | None,
    corrections: Any,
    dry_run: bool,
) -> None:
    """Send the selected dead letters' messages again to their source topics.

    Idempotent: a letter already replayed (recorded on ordermon.deadletter.replayed) is skipped."""
    from ordermon.deadletters import LetterError, plan, read_corrections, read_replayed, send
    from ordermon.kafka import KafkaUnavailable

    settings = load_settings()
    selection = _selection(settings, reasons, topics, since, until)
    try:
        fixed = read_corrections(corrections) if corrections is not None else None
    except LetterError as exc:
        fail(f"{corrections.name}: {exc}")
    letters = _read_letters(settings)
    try:
        replayed = asyncio.run(read_replayed(settings))
        todo = plan(letters, selection, replayed, fixed)
        for (topic, partition, offset), why in todo.skipped:
            click.echo(f"skipped {topic}[{partition}]@{offset}: {why}", err=True)
        for replay in todo.send:
            topic, partition, offset = replay.source
            verb = "would send" if dry_run else "sending"
            click.echo(f"{verb} {topic}[{partition}]@{offset} to {replay.topic}")
        sent = 0 if dry_run else asyncio.run(send(settings, todo.send))
    except KafkaUnavailable as exc:
        fail(str(exc))
    except KafkaError as exc:
        fail(
            f"replay stopped, Kafka at {settings.kafka} failed: {exc!r}; run it again: "
            "what was sent is recorded and will be skipped"
        )
    what = f"{len(todo.send)} would be sent" if dry_run else f"{sent} sent"
    click.echo(f"{what}, {len(todo.skipped)} skipped", err=True)
