"""A worker that cannot have its web port or data dir says so in one line and exits 2."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ordermon.devtools.broker import free_port
from ordermon.devtools.worker import ROOT
from ordermon.startup import StartupError, check_data_dir, check_web_port


def test_a_port_in_use_is_named() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(StartupError, match=f"port {port} on 127.0.0.1 is already in use"):
            check_web_port("127.0.0.1", port)
    check_web_port("127.0.0.1", port)  # free again


def test_a_data_dir_that_cannot_be_a_directory_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(StartupError, match="ORDERMON_DATA_DIR"):
        check_data_dir(str(blocker / "data"))
    check_data_dir(str(tmp_path / "new" / "data"))
    assert (tmp_path / "new" / "data").is_dir()


def run_worker(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ordermon", "worker"],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def test_the_cli_says_one_line_and_exits_2_when_the_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        answer = run_worker(
            {
                "ORDERMON_WEB_PORT": str(port),
                "ORDERMON_DATA_DIR": str(tmp_path / "d"),
                "ORDERMON_KAFKA": f"127.0.0.1:{free_port()}",
            }
        )
    assert answer.returncode == 2, answer.stderr
    lines = answer.stderr.strip().splitlines()
    assert len(lines) == 1 and "ORDERMON_WEB_PORT" in lines[0], answer.stderr


def test_the_cli_says_one_line_and_exits_2_when_the_data_dir_is_unusable(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    answer = run_worker(
        {
            "ORDERMON_WEB_PORT": str(free_port()),
            "ORDERMON_DATA_DIR": str(blocker / "data"),
            "ORDERMON_KAFKA": f"127.0.0.1:{free_port()}",
        }
    )
    assert answer.returncode == 2, answer.stderr
    lines = answer.stderr.strip().splitlines()
    assert len(lines) == 1 and "ORDERMON_DATA_DIR" in lines[0], answer.stderr
