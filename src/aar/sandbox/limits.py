"""Resource limits as rlimits, and how a command's end tells which limit stopped it.

    argv = rlimit_prefix(limits, address_space=True, prlimit="/usr/bin/prlimit") + ["make"]
    reason = signal_reason(exit_code)    # "cpu time", "file size" or None

``prlimit`` (util-linux) sets the limits and then becomes the command, so no Python code
runs between fork and exec (``preexec_fn`` is unsafe when other threads run, and it would
stop subprocess from using vfork). The soft CPU limit sends SIGXCPU, and the hard one a
second later SIGKILL for a process that ignores it; a file over RLIMIT_FSIZE gets SIGXFSZ
(Python ignores that signal and raises ``OSError: File too large`` instead).
"""

from __future__ import annotations

import signal

from aar.sandbox.base import Limits


def rlimit_prefix(limits: Limits, *, address_space: bool, prlimit: str) -> list[str]:
    """argv prefix setting the per-process limits of ``limits``.

    ``address_space``: also cap RLIMIT_AS at ``memory_bytes``, for when no memory cgroup
    does better. RLIMIT_NPROC counts the processes of the command's uid in its user
    namespace, so it bounds a sandbox run by a non-root user; for root it is ignored.
    """
    cpu = max(1, int(limits.cpu_seconds))
    options = [
        f"--cpu={cpu}:{cpu + 1}",
        f"--fsize={limits.file_bytes}",
        f"--nproc={limits.processes}",
        "--core=0",  # a core dump of a big process could fill the workspace
    ]
    if address_space:
        options.append(f"--as={limits.memory_bytes}")
    return [prlimit, *options, "--"]


def signal_of(exit_code: int) -> int | None:
    """The signal that ended a command, from a shell-style status (128+N) or Popen's -N."""
    if exit_code < 0:
        return -exit_code
    if 128 < exit_code < 128 + 65:
        return exit_code - 128
    return None


def signal_reason(exit_code: int) -> str | None:
    """Which rlimit killed the command, if its exit status says so."""
    number = signal_of(exit_code)
    if number == signal.SIGXCPU:
        return "cpu time"
    if number == signal.SIGXFSZ:
        return "file size"
    return None
