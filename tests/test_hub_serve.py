"""``aar serve`` as a user starts it: TCP and a Unix socket at once, the token file, the client."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from aar.hub.client import HubClient


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_listens_on_tcp_and_unix_socket(tmp_path: Path) -> None:
    port, sock = _free_port(), tmp_path / "run" / "hub.sock"
    command = [
        sys.executable,
        "-m",
        "aar",
        "serve",
        "--dir",
        str(tmp_path),
        "--port",
        str(port),
        "--socket",
        str(sock),
        "--set",
        "forum_posts_per_minute=1",  # any setting passes through --set
    ]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if (
                    httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
                    and sock.exists()
                ):
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        token = (tmp_path / "operator.token").read_text().strip()
        assert oct((tmp_path / "operator.token").stat().st_mode & 0o777) == "0o600"
        over_tcp = HubClient(f"http://127.0.0.1:{port}", token)
        created = over_tcp.create_researcher("alice")
        over_socket = HubClient.unix(str(sock), created.token)
        assert over_socket.me().name == "alice"
        over_socket.post("result", "first", "fine")
        second = over_socket.http.post(
            "/forum/posts", json={"kind": "result", "title": "second", "body": "too soon"}
        )
        assert second.status_code == 429
        assert "1 forum posts and replies a minute" in second.json()["detail"]
        assert (tmp_path / "hub.db").exists()
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert server.returncode in (0, -15), output
    assert "operator token in" in output
    assert not os.path.exists(sock) or sock.is_socket()


def test_serve_refuses_an_unknown_setting(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "aar", "serve", "--dir", str(tmp_path), "--set", "nope=1"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode != 0
    assert "--set nope: Extra inputs are not permitted" in done.stdout + done.stderr
