"""The hub as a child process: ``aar serve`` on a TCP port and a Unix socket, waited for.

    with HubProcess.start(layout.hub, socket=layout.socket, flags=["--per-hour", "60"]) as hub:
        client = HubClient(hub.url, hub.operator_token)

The process runs in its own session, so a Ctrl-C in the terminal reaches the campaign, which
stops the hub last (after the researchers). Its pid is written to ``DIR/hub.pid`` so a resumed
campaign can end a hub left behind by a killed one.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import httpx

from aar.core.errors import AarError


class HubStartError(AarError):
    """The hub process exited or did not answer in time."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class HubProcess:
    url: str
    socket: Path | None
    folder: Path
    process: subprocess.Popen[bytes]

    @classmethod
    def start(
        cls,
        folder: Path,
        *,
        socket: Path | None = None,
        port: int = 0,
        flags: list[str] | None = None,
        log: Path | None = None,
        timeout: float = 60.0,
    ) -> HubProcess:
        """Start ``aar serve --dir folder`` and return once it answers (and the socket is up)."""
        folder.mkdir(parents=True, exist_ok=True)
        end_leftover(folder / "hub.pid")
        port = port or free_port()
        command = [sys.executable, "-m", "aar", "serve", "--dir", str(folder), "--port", str(port)]
        if socket is not None:
            command += ["--socket", str(socket)]
        output = (log or folder / "hub.log").open("ab")
        with output:
            process = subprocess.Popen(
                [*command, *(flags or [])], stdin=subprocess.DEVNULL, stdout=output,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        (folder / "hub.pid").write_text(str(process.pid))
        hub = cls(f"http://127.0.0.1:{port}", socket, folder, process)
        try:
            hub.wait_until_up(timeout)
        except BaseException:
            hub.stop()
            raise
        return hub

    @property
    def operator_token(self) -> str:
        return (self.folder / "operator.token").read_text().strip()

    def wait_until_up(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise HubStartError(
                    f"aar serve exited with {self.process.returncode}; see {self.folder}/hub.log"
                )
            if self._answers():
                return
            time.sleep(0.2)
        raise HubStartError(f"aar serve did not answer within {timeout:.0f} s")

    def _answers(self) -> bool:
        try:
            up = httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False
        return up and (self.socket is None or self.socket.exists())

    def stop(self, grace: float = 15.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        with suppress(FileNotFoundError):
            (self.folder / "hub.pid").unlink()

    def __enter__(self) -> HubProcess:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()


def end_leftover(pid_file: Path) -> None:
    """Stop a hub a killed campaign left running (its pid file names it)."""
    try:
        pid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return
    if _is_aar_serve(pid):
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        _wait_gone(pid, 15.0)
    pid_file.unlink(missing_ok=True)


def _is_aar_serve(pid: int) -> bool:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"serve" in command and any(part.endswith(b"aar") for part in command)


def _wait_gone(pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        time.sleep(0.1)
    if Path(f"/proc/{pid}").exists():
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
