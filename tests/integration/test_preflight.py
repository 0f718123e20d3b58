"""The worker refuses to run when the input topics' partition counts differ, naming each."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.integration.live import ROOT, Deployment

pytestmark = pytest.mark.integration


def test_mismatched_partition_counts_stop_the_worker_with_a_clear_message(
    deployment: Deployment,
) -> None:
    async def create() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=deployment.bootstrap)
        await admin.start()
        try:
            await admin.create_topics(
                [
                    NewTopic(f"{deployment.prefix}orders", 4, 1),
                    NewTopic(f"{deployment.prefix}dispatches", 2, 1),
                    NewTopic(f"{deployment.prefix}complaints", 4, 1),
                    NewTopic(f"{deployment.prefix}refunds", 4, 1),
                ]
            )
        finally:
            await admin.close()

    asyncio.run(create())
    answer = subprocess.run(
        [sys.executable, "-m", "ordermon", "worker"],
        env=deployment.env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert answer.returncode == 2, answer.stderr
    p = deployment.prefix
    for topic, n in [("orders", 4), ("dispatches", 2), ("complaints", 4), ("refunds", 4)]:
        assert f"{p}{topic}={n}" in answer.stderr
    assert "Traceback" not in answer.stderr
