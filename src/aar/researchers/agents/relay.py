"""A Unix socket that leads to a hub served by URL: how an agent's sandbox reaches such a hub.

    with HubRelay("http://10.0.0.5:8000") as relay:
        spec = SandboxSpec(..., hub_socket=relay.path)   # bound into the sandbox as usual

The sandbox has no network: an agent inside reaches the hub (its gateway and aar's tools)
only by the Unix socket bound there. A researcher that reaches its hub by URL (a Ray worker,
a hub on another machine) has no such socket, so this process serves one in a private
folder and pipes each connection to the hub's host and port (in TLS for ``https``). Bytes
pass unchanged both ways: the hub sees the agent's requests, and its token, as sent.
"""

from __future__ import annotations

import socket
import ssl
import tempfile
import threading
from contextlib import suppress
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

from aar.core.errors import ConfigError

CHUNK = 65_536


class HubRelay:
    def __init__(self, url: str, connect_timeout_s: float = 10.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"the hub's URL must be http(s)://HOST[:PORT], not {url!r}")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self._tls = ssl.create_default_context() if parts.scheme == "https" else None
        self._timeout = connect_timeout_s
        self._folder = tempfile.TemporaryDirectory(prefix="aar-relay-")
        self.path = Path(self._folder.name) / "hub.sock"
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._closed = threading.Event()

    def __enter__(self) -> HubRelay:
        self._server.bind(str(self.path))
        self._server.listen(64)
        threading.Thread(target=self._accept, name="hub-relay", daemon=True).start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._closed.set()
        # shutdown wakes the accept() blocked in the relay's thread; close alone would not
        with suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)
        self._server.close()
        self._folder.cleanup()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                inside, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(inside,), daemon=True).start()

    def _serve(self, inside: socket.socket) -> None:
        try:
            outside = self._connect()
        except OSError:
            inside.close()  # the client sees the connection end, as with a hub that is down
            return
        back = threading.Thread(target=_pump, args=(outside, inside), daemon=True)
        back.start()
        _pump(inside, outside)
        back.join()
        inside.close()
        outside.close()

    def _connect(self) -> socket.socket:
        raw = socket.create_connection((self.host, self.port), timeout=self._timeout)
        raw.settimeout(None)
        if self._tls is None:
            return raw
        return self._tls.wrap_socket(raw, server_hostname=self.host)


def _pump(source: socket.socket, sink: socket.socket) -> None:
    """Copy ``source`` to ``sink`` until ``source`` ends, then end ``sink``'s writing side."""
    try:
        while data := source.recv(CHUNK):
            sink.sendall(data)
    except OSError:
        pass  # either side went away: the other sees its end below
    with suppress(OSError):
        sink.shutdown(socket.SHUT_WR)
