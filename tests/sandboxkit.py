"""Helpers for the sandbox tests: the bwrap gate, small limits, and host-side servers.

Tests that need bubblewrap call ``require_bwrap()``: it skips where ``bwrap`` is missing,
unless ``AAR_REQUIRE_BWRAP`` is set (CI), where it fails instead.
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from aar.sandbox import Limits

# Small enough that every bomb is contained in well under a second.
SMALL = Limits(
    wall_seconds=10.0,
    cpu_seconds=60,
    memory_bytes=256 * 2**20,
    processes=32,
    file_bytes=2 * 2**20,
    workspace_bytes=8 * 2**20,
    output_bytes=4096,
)


def require_bwrap() -> None:
    problem = _bwrap_problem()
    if problem is not None:
        if os.environ.get("AAR_REQUIRE_BWRAP"):
            pytest.fail(f"AAR_REQUIRE_BWRAP is set but {problem}")
        pytest.skip(problem)


@functools.cache
def _bwrap_problem() -> str | None:
    """Why bwrap cannot run here (missing, or no namespaces allowed), or None."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap (bwrap) is not installed: apt-get install bubblewrap"
    probe = [bwrap, "--unshare-all", "--ro-bind", "/", "/", "--", "/bin/true"]
    done = subprocess.run(probe, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return f"bwrap cannot create namespaces here: {done.stderr.strip()}"
    return None


def workspace(tmp_path: Path) -> Path:
    folder = tmp_path / "workspace"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def host_processes() -> set[int]:
    return {int(name) for name in os.listdir("/proc") if name.isdigit()}


def processes_running(marker: str) -> list[int]:
    """Host processes whose command line contains ``marker``."""
    found = []
    for pid in host_processes():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as file:
                if marker.encode() in file.read():
                    found.append(pid)
        except OSError:
            continue
    return found


@contextmanager
def unix_echo_server(path: Path) -> Iterator[Path]:
    """A server on a Unix socket that answers each connection with what it received."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen()
    thread = threading.Thread(target=_echo_forever, args=(server,), daemon=True)
    thread.start()
    try:
        yield path
    finally:
        server.close()


def _echo_forever(server: socket.socket) -> None:
    while True:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        with conn:
            conn.sendall(b"echo:" + conn.recv(1024))


@contextmanager
def tcp_listener() -> Iterator[int]:
    """A listening TCP socket on the host's 127.0.0.1; yields its port."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield int(server.getsockname()[1])


@contextmanager
def abstract_listener(name: str) -> Iterator[str]:
    """A listening Unix socket in the abstract namespace (no file: only a network
    namespace separates it)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind("\0" + name)
        server.listen()
        yield name
