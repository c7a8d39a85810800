"""Run one command to its end under a deadline and watchdogs, keeping a bounded output.

    result = run_command(
        argv, env=env, cwd=folder, stdin="data", timeout=30.0, output_bytes=65536,
        watchdogs=[WorkspaceWatch(workspace, limit)], end_tree=kill_group,
    )

One thread does everything with ``selectors``: feeds stdin, drains stdout and stderr (so a
chatty command never blocks on a full pipe), and between reads checks the deadline and the
watchdogs. When the command ends, or a watchdog or the deadline stops it, ``end_tree``
kills whatever the command left behind. Output beyond the cap is dropped while reading;
what is kept is the head and the tail of each stream, since tracebacks and final metrics
come last.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

from aar.sandbox.base import ExecResult
from aar.sandbox.paths import HostWorkspace

TICK_S = 0.05  # how often the deadline and watchdogs are looked at while output is quiet
DRAIN_S = 1.0  # how long output is still read once the command is over


class Watchdog(Protocol):
    def check(self, now: float) -> str | None:
        """Why the command must be killed now, or None to let it run."""


@dataclass
class StreamBuffer:
    """The first and last bytes of a stream, at most ``limit`` of them in all."""

    limit: int
    head: bytearray = field(default_factory=bytearray)
    tail: bytearray = field(default_factory=bytearray)
    total: int = 0
    listener: Callable[[bytes], None] | None = None
    """Gets every piece as it arrives, whatever the cap keeps."""

    def add(self, data: bytes) -> None:
        if self.listener is not None:
            self.listener(data)
        self.total += len(data)
        room = self.limit - len(self.head)
        if room > 0:
            self.head += data[:room]
        self.tail += data[-self.limit :]
        if len(self.tail) > self.limit:
            del self.tail[: len(self.tail) - self.limit]

    @property
    def truncated(self) -> bool:
        return self.total > self.limit

    def text(self) -> str:
        if not self.truncated:
            return self.head.decode("utf-8", errors="replace")
        keep_tail = self.limit // 2
        head = self.head[: self.limit - keep_tail].decode("utf-8", errors="replace")
        tail = self.tail[len(self.tail) - keep_tail :].decode("utf-8", errors="replace")
        cut = self.total - self.limit
        return f"{head}\n[... {cut} bytes cut: output is over {self.limit} bytes ...]\n{tail}"


class WorkspaceWatch:
    """Kills a command that grows the workspace past its limit.

    A walk of the workspace costs time proportional to its number of files, so the walks are
    spaced to take at most a tenth of one core. A workspace already over the limit when the
    command starts may shrink (``rm``) but not grow.
    """

    def __init__(self, workspace: HostWorkspace, limit: int, min_interval_s: float = 0.2):
        self.workspace, self.min_interval_s = workspace, min_interval_s
        self.allowed = max(limit, workspace.usage())
        self._next = time.monotonic() + min_interval_s

    def over(self) -> bool:
        return self.workspace.usage() > self.allowed

    def check(self, now: float) -> str | None:
        if now < self._next:
            return None
        over = self.over()
        spent = time.monotonic() - now
        self._next = time.monotonic() + max(self.min_interval_s, 10 * spent)
        return "workspace full" if over else None


@dataclass
class Outcome:
    """What the loop saw: the exit status and why it stopped the command, if it did."""

    returncode: int
    stopped: str | None
    stdout: StreamBuffer
    stderr: StreamBuffer
    duration_s: float


def run_command(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path | None,
    stdin: str | None,
    timeout: float,
    output_bytes: int,
    watchdogs: Sequence[Watchdog],
    end_tree: Callable[[subprocess.Popen[bytes]], None],
    pass_fds: Sequence[int] = (),
    on_start: Callable[[subprocess.Popen[bytes]], None] | None = None,
    on_end: Callable[[subprocess.Popen[bytes]], None] | None = None,
    on_stdout: Callable[[bytes], None] | None = None,
) -> Outcome:
    """Start ``argv`` in a new session and run it to its end (see the module docstring)."""
    started = time.monotonic()
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env),
        cwd=cwd,
        start_new_session=True,
        pass_fds=tuple(pass_fds),
    )
    out, err = StreamBuffer(output_bytes, listener=on_stdout), StreamBuffer(output_bytes)
    try:
        if on_start is not None:
            on_start(proc)
        data = None if stdin is None else stdin.encode()
        stopped = _pump(proc, data, out, err, started + timeout, watchdogs, end_tree)
    finally:
        end_tree(proc)
        returncode = proc.wait()
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        if on_end is not None:
            on_end(proc)
    return Outcome(returncode, stopped, out, err, time.monotonic() - started)


def _pump(
    proc: subprocess.Popen[bytes],
    stdin: bytes | None,
    out: StreamBuffer,
    err: StreamBuffer,
    deadline: float,
    watchdogs: Sequence[Watchdog],
    end_tree: Callable[[subprocess.Popen[bytes]], None],
) -> str | None:
    with selectors.DefaultSelector() as selector, _exit_signal(proc) as pidfd:
        streams = _register(selector, proc, stdin, out, err)
        if pidfd is not None:
            selector.register(pidfd, selectors.EVENT_READ)  # readable once it has exited
        stopped: str | None = None
        ended_at: float | None = None
        while True:
            now = time.monotonic()
            if ended_at is None:
                exited = _has_exited(proc)
                stopped = None if exited else _stop_reason(now, deadline, watchdogs)
                if exited or stopped is not None:
                    # Background children die with the command: their open pipes would
                    # otherwise keep us reading until the deadline.
                    end_tree(proc)
                    ended_at = now
                    if pidfd is not None:
                        selector.unregister(pidfd)
            if ended_at is not None and (not streams or now - ended_at > DRAIN_S):
                break
            wait = TICK_S if ended_at is not None else min(TICK_S, max(deadline - now, 0.001))
            for key, _ in selector.select(wait):
                if key.fd != pidfd:
                    _serve(selector, key, streams)
        _close_all(streams)
    return stopped


@contextmanager
def _exit_signal(proc: subprocess.Popen[bytes]) -> Iterator[int | None]:
    """A pidfd of the command (Linux 5.3+), so that its exit wakes the loop at once even
    when it closed its output early; None where there is none (the loop then ticks)."""
    try:
        pidfd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        yield None
        return
    try:
        yield pidfd
    finally:
        os.close(pidfd)


def _has_exited(proc: subprocess.Popen[bytes]) -> bool:
    # WNOWAIT leaves the zombie in place: while it holds its pid, that pid (the group id
    # end_tree kills) cannot be given to another process.
    return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


_Stream = tuple[IO[bytes], "StreamBuffer | memoryview"]


def _register(
    selector: selectors.BaseSelector,
    proc: subprocess.Popen[bytes],
    stdin: bytes | None,
    out: StreamBuffer,
    err: StreamBuffer,
) -> dict[int, _Stream]:
    assert proc.stdout is not None
    assert proc.stderr is not None
    streams: dict[int, _Stream] = {
        proc.stdout.fileno(): (proc.stdout, out),
        proc.stderr.fileno(): (proc.stderr, err),
    }
    for fd in streams:
        selector.register(fd, selectors.EVENT_READ)
    if proc.stdin is not None:
        os.set_blocking(proc.stdin.fileno(), False)
        streams[proc.stdin.fileno()] = (proc.stdin, memoryview(stdin or b""))
        selector.register(proc.stdin.fileno(), selectors.EVENT_WRITE)
    return streams


def _serve(
    selector: selectors.BaseSelector, key: selectors.SelectorKey, streams: dict[int, _Stream]
) -> None:
    fd = int(key.fd)
    file, target = streams[fd]
    if isinstance(target, StreamBuffer):
        chunk = os.read(fd, 65536)
        if chunk:
            target.add(chunk)
            return
    else:
        try:
            written = os.write(fd, target[:65536]) if target else 0
        except BrokenPipeError:
            written = len(target)  # the command stopped reading: drop the rest
        rest = target[written:]
        if rest:
            streams[fd] = (file, rest)
            return
    selector.unregister(fd)
    file.close()
    del streams[fd]


def _close_all(streams: dict[int, _Stream]) -> None:
    for file, _ in streams.values():
        file.close()
    streams.clear()


def _stop_reason(now: float, deadline: float, watchdogs: Sequence[Watchdog]) -> str | None:
    if now >= deadline:
        return "timeout"
    for watchdog in watchdogs:
        reason = watchdog.check(now)
        if reason is not None:
            return reason
    return None


def to_result(outcome: Outcome, killed: str | None, exit_code: int | None) -> ExecResult:
    return ExecResult(
        exit_code=exit_code,
        stdout=outcome.stdout.text(),
        stderr=outcome.stderr.text(),
        duration_s=outcome.duration_s,
        truncated=outcome.stdout.truncated or outcome.stderr.truncated,
        killed=killed,
    )
