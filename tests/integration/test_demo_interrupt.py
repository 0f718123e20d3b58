"""Ctrl-C in `ordermon demo` ends it with "interrupted" and status 130, and leaves no worker or
broker behind (the terminal sends SIGINT to the demo's whole process group)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_ctrl_c_ends_the_demo_with_interrupted_and_130(tmp_path: Path) -> None:
    out = tmp_path / "demo.out"
    with out.open("wb") as sink:
        demo = subprocess.Popen(
            [sys.executable, "-m", "ordermon", "demo", "--duration", "150"],
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, as a terminal's foreground job
        )
    try:
        deadline = time.monotonic() + 120
        while b"counted" not in out.read_bytes():  # the first frame of the live view
            assert demo.poll() is None, out.read_text(errors="replace")
            assert time.monotonic() < deadline, out.read_text(errors="replace")
            time.sleep(0.5)
        text = out.read_text(errors="replace")
        worker_url = re.search(r"worker (http://127\.0\.0\.1:\d+)", text)
        assert worker_url, text
        os.killpg(demo.pid, signal.SIGINT)
        code = demo.wait(60)
    finally:
        if demo.poll() is None:
            demo.kill()
    text = out.read_text(errors="replace")
    assert code == 130, text
    assert text.rstrip().endswith("interrupted"), text
    assert "demo failed" not in text and "Traceback" not in text
    port = int(worker_url.group(1).rsplit(":", 1)[1])
    import socket

    with socket.socket() as s:
        s.settimeout(1)
        assert s.connect_ex(("127.0.0.1", port)) != 0, "the worker is still running"
