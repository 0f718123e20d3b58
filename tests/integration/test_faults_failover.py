"""Two workers in one group; one is SIGKILLed: the other takes its partitions, recovers their
state from the changelog, and the final counts are exact. Meanwhile `/warehouses` answers for the
whole group from either worker (fan-out), names a member that does not answer instead of failing,
forwards `/warehouses/{id}` to the owner, and every route refuses to change anything."""

from __future__ import annotations

import signal
import urllib.error
import urllib.request

import orjson
import pytest

from tests.integration.faults_lib import (
    WAREHOUSES,
    assert_exact,
    counted,
    create_topics,
    generate,
    local,
    publish,
    truth_of,
    wait_counted,
)
from tests.integration.live import Deployment, Worker, get_json, wait_for

pytestmark = pytest.mark.integration


def answer(url: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method=method, data=b"{}" if method != "GET" else None)
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def split_between(a: Worker, b: Worker) -> bool:
    """Both workers own warehouses, none twice, all of them together."""
    mine, theirs = {s["warehouse"] for s in local(a)}, {s["warehouse"] for s in local(b)}
    return bool(mine and theirs and not mine & theirs and mine | theirs == set(WAREHOUSES))


def test_a_killed_member_is_replaced_and_either_worker_answers_for_all(
    deployment: Deployment,
) -> None:
    events, truth = generate(6000, seed=23)
    first, second = events[:3000], events[3000:]
    create_topics(deployment.bootstrap, deployment.prefix)
    survivor, victim = deployment.worker(), deployment.worker()
    survivor.wait_ready()
    victim.wait_ready()
    publish(deployment.bootstrap, deployment.prefix, first)
    wait_for(
        lambda: split_between(survivor, victim) and counted(survivor.warehouses()) == 3000,
        120,
        "the group to share the warehouses and count the first half",
    )
    # Either worker answers for all of them, with the same numbers.
    assert_exact(survivor.warehouses(), truth_of(first))
    assert_exact(victim.warehouses(), truth_of(first))
    # /warehouses/{id} of a warehouse the other member owns is forwarded to it.
    elsewhere = local(victim)[0]["warehouse"]
    status = get_json(f"{survivor.url}/warehouses/{elsewhere}")
    assert status["warehouse"] == elsewhere and "series" in status
    assert answer(f"{survivor.url}/warehouses/{elsewhere}?scope=local")[0] == 404
    assert answer(f"{survivor.url}/warehouses/NO-SUCH-WH")[0] == 404
    # Read-only: every route refuses POST, PUT and DELETE.
    for path in ("/warehouses", f"/warehouses/{elsewhere}", "/alerts", "/readyz", "/metrics"):
        for method in ("POST", "PUT", "DELETE"):
            assert answer(survivor.url + path, method)[0] == 405, (method, path)

    # A member that does not answer is named, not a 500: the rest is still there.
    assert victim.process is not None
    victim.process.send_signal(signal.SIGSTOP)
    code, headers, body = answer(survivor.url + "/warehouses")
    assert code == 200
    assert headers.get("X-Ordermon-Unreachable") == victim.url
    assert {s["warehouse"] for s in orjson.loads(body)} == {s["warehouse"] for s in local(survivor)}
    victim.stop(signal.SIGKILL)

    publish(deployment.bootstrap, deployment.prefix, second)
    statuses = wait_counted(survivor, len(events), timeout=180)
    assert_exact(statuses, truth)
    assert {s["warehouse"] for s in local(survivor)} == set(WAREHOUSES)
    assert "X-Ordermon-Unreachable" not in answer(survivor.url + "/warehouses")[1]
