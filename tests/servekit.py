"""A real ``aar serve`` process for tests that need the hub over TCP and a Unix socket."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


@dataclass(frozen=True)
class ServedHub:
    url: str
    socket: Path
    operator_token: str
    folder: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served_hub(folder: Path, *flags: str) -> Iterator[ServedHub]:
    """``aar serve --dir folder`` on a free port and ``folder/hub.sock``, stopped on exit."""
    port, sock = free_port(), folder / "hub.sock"
    command = [sys.executable, "-m", "aar", "serve", "--dir", str(folder), "--port", str(port)]
    command += ["--socket", str(sock), *flags]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_up(url, sock, server)
        token = (folder / "operator.token").read_text().strip()
        yield ServedHub(url, sock, token, folder)
    finally:
        server.terminate()
        server.wait(timeout=30)


def _wait_until_up(url: str, sock: Path, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"aar serve exited with {server.returncode}")
        try:
            if httpx.get(f"{url}/healthz").status_code == 200 and sock.exists():
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError("aar serve did not come up within 60 s")
