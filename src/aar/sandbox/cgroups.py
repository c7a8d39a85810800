"""Per-command cgroups (v1 ``pids`` and ``memory`` hierarchies) for the bubblewrap backend.

    parents = find_parents()                 # None when no hierarchy is writable here
    group = ExecCgroup.create(parents, limits, processes=limits.processes + 2)
    launcher = group.launcher()              # argv prefix: joins the group, then execs
    ...
    group.memory_kills(), group.process_limit_hits()
    group.kill(); group.remove()

Why cgroups: as root, ``RLIMIT_NPROC`` is not enforced at all (the kernel exempts uid 0,
also when it is mapped into a user namespace), and ``RLIMIT_AS`` counts address space, which
torch and numpy reserve far beyond what they use, and not tmpfs pages. A ``pids`` cgroup
counts every process and thread; a ``memory`` cgroup counts resident memory, page cache and
tmpfs pages, and its OOM killer reports what it did.

Each cgroup is created below the cgroup this process is already in (so an operator's limits
on the campaign still hold) with a fresh name per command, so counters start at zero.
Only the v1 layout is handled: on a cgroup v2 machine creating a child with controllers
needs delegation (e.g. ``systemd-run --scope -p Delegate=yes``), which this module does not
arrange, and the backend falls back to rlimits (see ``aar.sandbox.bwrap``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

CONTROLLERS = ("pids", "memory")

# Joins every cgroup named before "--", then becomes the command after it; a shell is the
# one launcher that needs no helper binary and no preexec_fn (unsafe with threads).
_JOIN = 'while [ "$1" != -- ]; do echo $$ >"$1" || exit 125; shift; done; shift; exec "$@"'


def _mounts() -> dict[str, tuple[str, Path]]:
    """Controller -> (root of the mount in the hierarchy, mount point), for v1 mounts."""
    found: dict[str, tuple[str, Path]] = {}
    with open("/proc/self/mountinfo") as file:
        for line in file:
            before, _, after = line.partition(" - ")
            fields, tail = before.split(), after.split()
            if len(fields) < 5 or len(tail) < 3 or tail[0] != "cgroup":
                continue
            for option in tail[2].split(","):
                if option in CONTROLLERS:
                    found[option] = (fields[3], Path(fields[4]))
    return found


def _own_paths() -> dict[str, str]:
    """Controller -> this process's cgroup path in that v1 hierarchy."""
    own: dict[str, str] = {}
    with open("/proc/self/cgroup") as file:
        for line in file:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for controller in controllers.split(","):
                own[controller] = path
    return own


def find_parents() -> dict[str, Path] | None:
    """The folder of each controller's hierarchy where this process may create children, or
    None when there is none (no v1 hierarchy, or no permission)."""
    try:
        mounts, own = _mounts(), _own_paths()
    except OSError:
        return None
    parents: dict[str, Path] = {}
    for controller, (root, point) in mounts.items():
        path = own.get(controller)
        if path is None or not (path == root or path.startswith(root.rstrip("/") + "/")):
            continue
        folder = point / path[len(root) :].lstrip("/")
        if _can_create_child(folder):
            _remove_orphans(folder)
            parents[controller] = folder
    return parents or None


def _remove_orphans(folder: Path) -> None:
    """Delete the empty cgroups left by aar processes that were killed mid-command."""
    for child in folder.glob("aar-*-*"):
        pid = child.name.split("-")[1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            with contextlib.suppress(OSError):
                child.rmdir()


def _can_create_child(folder: Path) -> bool:
    probe = folder / f"aar-probe-{uuid.uuid4().hex[:12]}"
    try:
        probe.mkdir()
    except OSError:
        return False
    try:
        probe.rmdir()
    except OSError:
        return False
    return True


@dataclass
class ExecCgroup:
    """One command's cgroups, one folder per controller."""

    folders: dict[str, Path]

    @classmethod
    def create(cls, parents: dict[str, Path], *, processes: int, memory_bytes: int) -> ExecCgroup:
        name = f"aar-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        group = cls({})
        try:
            for controller, parent in parents.items():
                folder = parent / name
                folder.mkdir()
                group.folders[controller] = folder
            if "pids" in group.folders:
                _write(group.folders["pids"] / "pids.max", processes)
            if "memory" in group.folders:
                _limit_memory(group.folders["memory"], memory_bytes)
        except OSError:
            group.remove()
            raise
        return group

    def launcher(self) -> list[str]:
        files = [str(folder / "cgroup.procs") for folder in self.folders.values()]
        return ["/bin/sh", "-c", _JOIN, "sh", *files, "--"]

    def memory_kills(self) -> int:
        """How many processes the memory cgroup's OOM killer killed."""
        folder = self.folders.get("memory")
        return 0 if folder is None else _counter(folder / "memory.oom_control", "oom_kill")

    def process_limit_hits(self) -> int:
        """How many forks failed because the group was at its process limit."""
        folder = self.folders.get("pids")
        return 0 if folder is None else _counter(folder / "pids.events", "max")

    def pids(self) -> set[int]:
        found: set[int] = set()
        for folder in self.folders.values():
            try:
                text = (folder / "cgroup.procs").read_text()
            except OSError:
                continue
            found.update(int(pid) for pid in text.split())
        return found

    def kill(self, attempts: int = 50) -> None:
        """SIGKILL every process in the group, again while new ones appear (a fork racing
        the kill), for at most ``attempts`` rounds."""
        for _ in range(attempts):
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.005)

    def remove(self, wait_s: float = 2.0) -> None:
        """Delete the folders; the kernel refuses while exiting tasks are still counted, so
        retry for a short while (an empty leftover folder costs nothing)."""
        deadline = time.monotonic() + wait_s
        for folder in list(self.folders.values()):
            while True:
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError as error:
                    if error.errno != errno.EBUSY or time.monotonic() > deadline:
                        break
                    time.sleep(0.005)


def _limit_memory(folder: Path, memory_bytes: int) -> None:
    _write(folder / "memory.limit_in_bytes", memory_bytes)
    swap = folder / "memory.memsw.limit_in_bytes"
    if swap.exists():
        # Without this the group could push its pages to swap and keep growing.
        _write(swap, memory_bytes)


def _write(path: Path, value: int) -> None:
    path.write_text(f"{value}\n")


def _counter(path: Path, key: str) -> int:
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return 0
    for line in lines:
        name, _, value = line.partition(" ")
        if name == key:
            return int(value)
    return 0


class ProcessLimitWatch:
    """Kills a command as soon as one of its forks failed at the process limit: a fork
    bomb would otherwise spin at the limit until its timeout."""

    def __init__(self, group: ExecCgroup) -> None:
        self.group = group

    def check(self, now: float) -> str | None:
        return "processes" if self.group.process_limit_hits() else None
