"""What the sandboxes that run on this machine share: host-side file access and bookkeeping.

A backend subclasses ``LocalSandbox`` and implements ``_check_backend`` (raise
``SandboxUnavailableError`` when it cannot run here) and ``_run`` (one command to its end).
Files are read and written from the host through ``HostWorkspace``, which never leaves the
workspace whatever the sandboxed code put in it. ``close()`` kills the commands still
running, from any thread.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import signal
import subprocess
import threading
from abc import abstractmethod
from collections.abc import Callable, Sequence

from aar.sandbox.base import (
    ExecResult,
    FileInfo,
    Sandbox,
    SandboxError,
    SandboxPathError,
    SandboxSpec,
)
from aar.sandbox.limits import signal_of, signal_reason
from aar.sandbox.paths import HostWorkspace
from aar.sandbox.runner import Outcome, WorkspaceWatch, to_result


class LocalSandbox(Sandbox):
    """A sandbox whose workspace is a folder on this machine."""

    def __init__(self, spec: SandboxSpec, *, allow_unsafe: bool = False) -> None:
        super().__init__(spec, allow_unsafe=allow_unsafe)
        self.workspace = HostWorkspace(spec.workspace.resolve())
        self._lock = threading.Lock()
        self._started = False
        self._closed = False
        self._running: set[subprocess.Popen[bytes]] = set()

    def start(self) -> None:
        with self._lock:
            if self._closed:
                raise SandboxError(f"the {self.name} sandbox on {self.spec.workspace} is closed")
            if self._started:
                return
            if not self.workspace.root.is_dir():
                raise SandboxError(f"sandbox workspace {self.spec.workspace} is not a folder")
            self._check_backend()
            self._started = True

    def close(self) -> None:
        with self._lock:
            self._closed = True
            running = list(self._running)
        for proc in running:
            kill_session(proc)

    def exec(
        self,
        command: str | Sequence[str],
        *,
        timeout: float | None = None,
        cwd: str = ".",
        stdin: str | None = None,
        on_stdout: Callable[[bytes], None] | None = None,
    ) -> ExecResult:
        argv = ["/bin/sh", "-c", command] if isinstance(command, str) else list(command)
        if not argv:
            raise ValueError("empty command")
        seconds = self.spec.limits.wall_seconds if timeout is None else timeout
        if not seconds > 0:
            raise ValueError(f"timeout must be positive, got {timeout!r}")
        self.start()
        folder = self.workspace.resolve(cwd)
        with self.workspace.folder(folder):  # a SandboxPathError unless it is a real folder
            pass
        return self._run(argv, folder, stdin, seconds, on_stdout)

    @abstractmethod
    def _check_backend(self) -> None: ...

    @abstractmethod
    def _run(
        self,
        argv: list[str],
        cwd: tuple[str, ...],
        stdin: str | None,
        timeout: float,
        on_stdout: Callable[[bytes], None] | None = None,
    ) -> ExecResult: ...

    def _track(self, proc: subprocess.Popen[bytes]) -> None:
        """Called as soon as a command started, so ``close()`` can kill it."""
        with self._lock:
            closed = self._closed
            self._running.add(proc)
        if closed:
            kill_session(proc)

    def _untrack(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._running.discard(proc)

    def read_file(self, path: str, max_bytes: int = 1_000_000) -> str:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must not be negative, got {max_bytes}")
        data = self.workspace.read(path, max_bytes)
        # A cut in the middle of a character drops it rather than showing a replacement.
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        return decoder.decode(data, final=len(data) < max_bytes)

    def write_file(self, path: str, content: str) -> None:
        data = content.encode()
        limits = self.spec.limits
        # Path errors are the ones callers show to the model, which can fix these too.
        if len(data) > limits.file_bytes:
            raise SandboxPathError(
                f"{path}: {len(data)} bytes is over the {limits.file_bytes}-byte file limit"
            )
        after = self.workspace.usage() - self.workspace.size_of(path) + len(data)
        if after > limits.workspace_bytes:
            raise SandboxPathError(
                f"{path}: writing {len(data)} bytes would take the workspace over its "
                f"{limits.workspace_bytes}-byte limit; delete files first"
            )
        self.workspace.write(path, data)

    def list_files(self, path: str = ".", recursive: bool = False) -> list[FileInfo]:
        return self.workspace.listing(path, recursive)


def judge(outcome: Outcome, watch: WorkspaceWatch, *, memory_kills: int = 0) -> ExecResult:
    """The result of a command: why it was killed, if it was, and its exit status if not.

    What the loop stopped (timeout, watchdogs) comes first; then the memory cgroup's OOM
    kills; then what the exit status says (SIGXCPU, SIGXFSZ). A run that ended on its own
    but left the workspace over its limit is reported as "workspace full" with its exit code.
    """
    code = outcome.returncode
    number = signal_of(code)
    status = 128 + number if number is not None else code
    killed = outcome.stopped
    if killed is None and memory_kills:
        killed = "memory"
        if number != signal.SIGKILL:
            return to_result(outcome, killed, status)  # a child was killed, not the command
    if killed is None:
        killed = signal_reason(code)
    if killed is None and watch.over():
        return to_result(outcome, "workspace full", status)
    return to_result(outcome, killed, None if killed else status)


def kill_session(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the session the command was started in (``start_new_session=True``)."""
    if proc.returncode is not None:
        return  # reaped: its pid, and so the group id, may belong to someone else now
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
