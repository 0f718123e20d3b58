"""Checks a worker makes before it starts: the local resources it needs (web port, data dir).

Each problem is one sentence naming the setting to change; the CLI prints it and exits 2."""

from __future__ import annotations

import errno
import os
import socket
import tempfile

from ordermon.config import Settings


class StartupError(Exception):
    """A local resource the worker needs is not available; str() says what to change."""


def check_web_port(host: str, port: int) -> None:
    """The HTTP routes' address must be free (a second worker on this host needs its own)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise StartupError(
                    f"port {port} on {host} is already in use (another worker on this host?): "
                    "give this worker its own ORDERMON_WEB_PORT"
                ) from None
            raise StartupError(
                f"cannot listen on {host}:{port} ({exc.strerror or exc}): check ORDERMON_WEB_HOST "
                "and ORDERMON_WEB_PORT"
            ) from None


def check_data_dir(path: str) -> None:
    """The data dir must exist (it is created) and take files."""
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise StartupError(
            f"the data directory {path!r} cannot be used ({exc.strerror or exc}): point "
            "ORDERMON_DATA_DIR at a directory this user can write"
        ) from None


def check_local(settings: Settings) -> None:
    check_data_dir(settings.data_dir)
    check_web_port(settings.web_host, settings.web_port)
