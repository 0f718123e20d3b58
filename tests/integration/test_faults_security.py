"""Security basics on real processes: the HTTP routes listen on 127.0.0.1 only unless configured,
the Kafka password never reaches the worker's output (debug logging included), and the SASL
settings reach the Kafka client (a SASL worker against the plaintext embedded broker is refused,
with one line naming ORDERMON_KAFKA and no password)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ordermon.devtools.broker import free_port
from tests.integration.faults_lib import listening_addresses
from tests.integration.live import ROOT, Deployment

pytestmark = pytest.mark.integration
SECRET = "Zx9-ordermon-test-password-0451"


def test_the_worker_listens_on_loopback_and_never_prints_the_password(
    deployment: Deployment,
) -> None:
    worker = deployment.worker(ORDERMON_KAFKA_PASSWORD=SECRET, ORDERMON_LOG_LEVEL="debug")
    worker.wait_ready()
    assert worker.process is not None
    listening = listening_addresses(worker.process.pid)
    assert ("127.0.0.1", worker.port) in listening
    assert {ip for ip, _port in listening} == {"127.0.0.1"}, listening
    worker.stop()
    log = worker.log_path.read_text(errors="replace")
    assert "Worker ready" in log or "Ready" in log
    assert SECRET not in log


def test_a_sasl_worker_reaches_kafka_with_sasl_and_keeps_the_password_secret(
    deployment: Deployment,
) -> None:
    env = {
        **deployment.env,
        "ORDERMON_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "ORDERMON_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
        "ORDERMON_KAFKA_USERNAME": "monitor",
        "ORDERMON_KAFKA_PASSWORD": SECRET,
        "ORDERMON_LOG_LEVEL": "debug",
        "ORDERMON_WEB_PORT": str(free_port()),
    }
    done = subprocess.run(
        [sys.executable, "-m", "ordermon", "worker"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "ORDERMON_KAFKA" in output
    assert "Sasl" in output or "SASL" in output, output  # the client did speak SASL
    assert SECRET not in output
