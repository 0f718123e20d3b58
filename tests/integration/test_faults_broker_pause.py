"""The broker frozen (SIGSTOP) for 30 seconds in the middle of a stream, then resumed: the worker
neither exits nor loses events, and catches up to exact counts."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.integration.faults_lib import (
    ChunkedPublisher,
    assert_exact,
    create_topics,
    generate,
    private_deployment,
    publish,
    wait_counted,
)
from tests.integration.live import get_json

pytestmark = pytest.mark.integration


def test_a_frozen_broker_is_waited_for_and_nothing_is_lost(tmp_path: Path) -> None:
    events, truth = generate(4000, seed=31)
    with private_deployment(tmp_path) as (broker, dep):
        create_topics(dep.bootstrap, dep.prefix)
        worker = dep.worker()
        worker.wait_ready()
        publish(dep.bootstrap, dep.prefix, events[:2000])
        wait_counted(worker, 2000)
        # The rest is being published when the broker freezes: those sends wait, then go on.
        publisher = ChunkedPublisher(dep.bootstrap, dep.prefix, events[2000:], 250, 0.2)
        publisher.start()
        broker.pause()
        try:
            time.sleep(30)
            assert worker.process is not None and worker.process.poll() is None
            assert get_json(worker.url + "/healthz")["status"] == "ok"
        finally:
            broker.resume()
        publisher.join(120)
        assert_exact(wait_counted(worker, len(events), timeout=180), truth)
        assert worker.process.poll() is None
