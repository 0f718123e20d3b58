"""ORDERMON_STORE=rocksdict://: a worker restarted after SIGKILL recovers from its data dir,
reading only the changelog written since (here: nothing), not the whole changelog; a worker with
an empty data dir reads all of it. Counts are exact either way."""

from __future__ import annotations

import signal
from typing import Any

import pytest

from tests.integration.faults_lib import (
    assert_exact,
    changelog_minute_totals,
    create_topics,
    generate,
    publish,
    wait_counted,
)
from tests.integration.live import Deployment, Worker, get_json, wait_for

pytestmark = pytest.mark.integration
# The recovery consistency check stays on (the default): agents.worker.transport confirms each end
# offset by a fetch, so the embedded broker's lagging ListOffsets answer does not trip it.
ROCKSDICT = {"ORDERMON_STORE": "rocksdict://"}


def restored(worker: Worker) -> int:
    body: dict[str, Any] = get_json(worker.url + "/readyz")
    return sum(body["changelog_records_restored"].values())


def test_a_restart_with_rocksdict_reads_only_the_new_changelog(deployment: Deployment) -> None:
    events, truth = generate(4000, seed=5)
    create_topics(deployment.bootstrap, deployment.prefix)
    worker = deployment.worker(**ROCKSDICT)
    worker.wait_ready()
    publish(deployment.bootstrap, deployment.prefix, events[:3000])
    wait_counted(worker, 3000)
    worker.stop(signal.SIGKILL)

    worker.start()
    worker.wait_ready()
    after_restart = restored(worker)
    publish(deployment.bootstrap, deployment.prefix, events[3000:])
    assert_exact(wait_counted(worker, len(events)), truth)
    # The changelog alone comes to hold every minute (records are written once a second): what
    # the killed worker had stored locally but not yet sent was written again when its
    # uncommitted messages were replayed.
    app_id = deployment.env["ORDERMON_APP_ID"]
    wait_for(
        lambda: changelog_minute_totals(deployment.bootstrap, app_id) == truth,
        60,
        "the changelog to hold every minute",
        interval=1.0,
    )
    worker.stop()

    # The control: the same group, an empty data dir, so the whole changelog is read.
    fresh = deployment.worker(**ROCKSDICT)
    fresh.wait_ready()
    assert_exact(wait_counted(fresh, len(events)), truth)
    whole = restored(fresh)
    assert whole >= len({wh for wh, _flow in truth}), whole  # a head record per warehouse
    assert after_restart * 10 <= whole, (after_restart, whole)
