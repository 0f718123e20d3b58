"""A worker killed with SIGKILL in the middle of a stream, then restarted (same group, same data
dir): after the stream ends every count and backlog equals the truth. Redelivered messages change
nothing (offsets applied per record), nothing is lost (offsets committed after processing)."""

from __future__ import annotations

import signal

import pytest

from tests.integration.faults_lib import (
    ChunkedPublisher,
    assert_exact,
    counted,
    create_topics,
    generate,
    wait_counted,
)
from tests.integration.live import Deployment, wait_for

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    "flush_seconds",
    [
        "1.0",  # the default: some batches written and committed before the kill, some not
        "600",  # nothing written before the kill: nothing may have been committed either
    ],
)
def test_sigkill_mid_stream_then_restart_gives_exact_counts(
    deployment: Deployment, flush_seconds: str
) -> None:
    events, truth = generate(6000, seed=11)
    create_topics(deployment.bootstrap, deployment.prefix)
    worker = deployment.worker(ORDERMON_FLUSH_SECONDS=flush_seconds)
    worker.wait_ready()
    publisher = ChunkedPublisher(deployment.bootstrap, deployment.prefix, events, 400, 0.2)
    publisher.start()
    wait_for(lambda: counted(worker.warehouses()) >= 1200, 120, "some events counted")
    worker.stop(signal.SIGKILL)
    assert publisher.is_alive(), "the stream ended before the kill: it was not mid-stream"
    worker.start()  # same env: same app id (group), same data dir, same port
    worker.wait_ready()
    publisher.join(120)
    assert_exact(wait_counted(worker, len(events)), truth)
