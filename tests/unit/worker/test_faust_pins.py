"""The Faust and aiokafka internals the Faust layer (agents/worker) overrides or reads, pinned:
each test fails if the installed Faust (0.15.3) or aiokafka (0.14.0) changes under them, so an
upgrade shows what to re-check instead of misbehaving at run time."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiokafka
import faust
import mode
import pytest
from aiokafka.consumer.consumer import AIOKafkaConsumer
from faust.sensors.prometheus import PrometheusMonitor
from faust.stores.rocksdb import Store
from faust.transport import consumer as faust_consumer
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.transport.producer import ProducerBuffer

from ordermon.agents.worker.app import App
from ordermon.agents.worker.monitor import LeanPrometheusMonitor
from ordermon.agents.worker.store import RocksDictStore
from ordermon.agents.worker.transport import Consumer, ConsumerThread

ROOT = Path(__file__).resolve().parents[3]


def params(fun: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(fun).parameters)


def test_the_versions_pinned_in_constraints_are_installed() -> None:
    """The signatures below were read on these versions (constraints.txt pins them for make test
    and the image); another version must pass this file before the pin moves."""
    pins = dict(
        line.split("==", 1)
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    assert pins["faust-streaming"].strip() == faust.__version__ == "0.15.3"
    assert pins["aiokafka"].strip() == aiokafka.__version__ == "0.14.0"


# (our class, Faust's class, method, its parameters, whether it is a coroutine function)
OVERRIDES = [
    (App, faust.App, "_new_transport", ["self"], False),
    (
        ConsumerThread,
        faust_aiokafka.AIOKafkaConsumerThread,
        "_create_worker_consumer",
        ["self", "transport"],
        False,
    ),
    (
        ConsumerThread,
        faust_aiokafka.AIOKafkaConsumerThread,
        "_highwaters",
        ["self", "partitions"],
        True,
    ),
    (Consumer, faust_aiokafka.Consumer, "_new_consumer_thread", ["self"], False),
    (Consumer, faust_aiokafka.Consumer, "_drain_messages", ["self", "fetcher"], True),
    (Consumer, faust_aiokafka.Consumer, "perform_seek", ["self"], True),
    (RocksDictStore, Store, "_set", ["self", "key", "value"], False),
    (RocksDictStore, Store, "_get", ["self", "key"], False),
    (
        RocksDictStore,
        Store,
        "apply_changelog_batch",
        ["self", "batch", "to_key", "to_value"],
        False,
    ),
    (
        LeanPrometheusMonitor,
        PrometheusMonitor,
        "_clear_partition_related_metrics",
        ["self"],
        False,
    ),
]


@pytest.mark.parametrize(
    ("ours", "theirs", "name", "expected", "coroutine"),
    OVERRIDES,
    ids=[f"{o[1].__name__}.{o[2]}" for o in OVERRIDES],
)
def test_each_override_still_overrides_the_same_method(
    ours: type, theirs: type, name: str, expected: list[str], coroutine: bool
) -> None:
    original = getattr(theirs, name)  # AttributeError: Faust renamed or dropped it
    assert params(original) == expected
    assert inspect.iscoroutinefunction(original) is coroutine
    assert params(getattr(ours, name)) == expected
    assert getattr(ours, name) is not original  # ours is the one that runs


# private methods the layer calls (not overrides): (class, method, parameters, coroutine)
CALLED = [
    (faust_aiokafka.Consumer, "_wait_next_records", ["self", "timeout"], True),
    (faust_aiokafka.Consumer, "_add_gap", ["self", "tp", "offset_from", "offset_to"], True),
    (faust_aiokafka.Consumer, "_to_message", ["self", "tp", "record"], False),
    # aligned reading: the set Faust fetches from, mutated in place (see the test below)
    (faust_aiokafka.Consumer, "_get_active_partitions", ["self"], False),
    (Store, "_db_for_partition", ["self", "partition"], False),
    (Store, "_get_bucket_for_key", ["self", "key"], False),
    (PrometheusMonitor, "_stream_label", ["self", "stream"], False),
    # replaced on the instance by agents.worker.transport.guard_buffer
    (ProducerBuffer, "_send_pending", ["self", "fut"], True),
]


@pytest.mark.parametrize(
    ("cls", "name", "expected", "coroutine"),
    CALLED,
    ids=[f"{c[0].__name__}.{c[1]}" for c in CALLED],
)
def test_each_private_method_called_is_still_there(
    cls: type, name: str, expected: list[str], coroutine: bool
) -> None:
    method = getattr(cls, name)
    assert params(method) == expected
    assert inspect.iscoroutinefunction(method) is coroutine


# private attributes the layer reads or sets: (where Faust/aiokafka assigns it, the attribute)
ATTRIBUTES = [
    (faust_consumer.Consumer.__init__, "_commit_every"),
    (faust_consumer.Consumer.__init__, "_acked"),
    (faust_consumer.Consumer.__init__, "_acked_index"),
    (faust_consumer.Consumer.__init__, "_read_offset"),
    (faust_consumer.Consumer.__init__, "_committed_offset"),
    (faust_consumer.Consumer.__init__, "_buffered_partitions"),
    (faust_consumer.Consumer._reset_state, "_paused_partitions"),
    (mode.Service.__init__, "_stopped"),
    (Store.__init__, "_key_index"),
    (PrometheusMonitor.__init__, "_metrics"),
    (AIOKafkaConsumer.__init__, "_fetch_max_wait_ms"),
    (AIOKafkaConsumer.__init__, "_fetch_min_bytes"),
    (faust_aiokafka.Producer.on_start, "_producer"),  # Producer.sent_so_far
]


@pytest.mark.parametrize(
    ("init", "attribute"), ATTRIBUTES, ids=[f"{i.__qualname__}:{a}" for i, a in ATTRIBUTES]
)
def test_each_private_attribute_is_still_assigned(init: Callable[..., Any], attribute: str) -> None:
    assert f"self.{attribute} =" in inspect.getsource(init)


def test_the_ack_counter_is_a_class_attribute_the_commit_reads() -> None:
    assert faust_consumer.Consumer._n_acked == 0
    assert "self._n_acked >= commit_every" in inspect.getsource(faust_consumer.Consumer)


def test_aiokafka_reads_the_fetch_wait_and_size_at_start() -> None:
    """The layer sets `_fetch_max_wait_ms` and `_fetch_min_bytes` after the consumer is made;
    aiokafka must read them when it starts its fetcher, not earlier."""
    start = inspect.getsource(AIOKafkaConsumer.start)
    assert "fetch_max_wait_ms=self._fetch_max_wait_ms" in start
    assert "fetch_min_bytes=self._fetch_min_bytes" in start


def test_faust_fetches_from_the_active_set_it_mutates_in_place() -> None:
    """Aligned reading (agents.worker.transport `_fetch_aligned`) takes partitions out of the set
    `_get_active_partitions` returns for one fetch and puts them back: Faust must fetch from
    that very set, and pause/resume must change it in place (not replace it)."""
    wait = inspect.getsource(faust_consumer.Consumer._wait_next_records)
    assert "active_partitions = self._get_active_partitions()" in wait
    assert "active_partitions=active_partitions" in wait
    assert "self._get_active_partitions().difference_update(tpset)" in inspect.getsource(
        faust_consumer.Consumer.pause_partitions
    )
    assert "self._active_partitions.clear()" in inspect.getsource(
        faust_consumer.Consumer._set_active_tps
    )


def test_the_producer_buffer_is_a_queue_of_futures_in_order() -> None:
    """Producer.sent_so_far reads the records Faust's buffer has not handed to aiokafka yet from
    its queue's deque, in order; each is a future set when the broker acknowledges it."""
    import asyncio
    from collections import deque

    assert "self.pending = asyncio.Queue()" in inspect.getsource(ProducerBuffer.__post_init__)
    assert isinstance(asyncio.Queue()._queue, deque)
    assert "self.pending.put_nowait(fut)" in inspect.getsource(ProducerBuffer.put)
    assert issubclass(faust.types.tuples.FutureMessage, asyncio.Future)
