"""The sandbox interface: where a researcher's code runs, and what it may touch.

    spec = SandboxSpec(workspace=Path("runs/r1"), limits=Limits(wall_seconds=60))
    with make_sandbox("bwrap", spec) as box:
        box.write_file("train.py", source)
        result = box.exec("python train.py", timeout=30)
        print(result.exit_code, result.killed, result.stdout)

A backend (bubblewrap, a plain process, later docker or a remote machine) subclasses
``Sandbox``; ``aar.sandbox.registry`` maps names to backends. The types here are plain frozen
values so they cross process boundaries and can be logged as they are.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import ClassVar

from aar.core.errors import AarError, ConfigError
from aar.sandbox.pyenv import PythonEnv

WORKSPACE = "/workspace"
"""Where the workspace appears inside an isolated sandbox."""

HUB_SOCKET = "/run/aar/hub.sock"
"""Where the hub's Unix socket appears inside an isolated sandbox."""


class SandboxError(AarError):
    """A sandbox could not do what was asked (closed, workspace missing, no cgroup)."""


class SandboxPathError(SandboxError):
    """A path leaves the workspace, names a missing file or the wrong kind of file, or a
    write would exceed the file or workspace size limit.

    Its message is meant for the model that asked: it says what to change.
    """


class SandboxUnavailableError(SandboxError):
    """The backend cannot run on this machine; the message says how to make it run."""


class UnsafeSandboxError(SandboxError):
    """A backend without isolation was asked for without explicitly allowing it."""


@dataclass(frozen=True)
class Limits:
    """Resources one ``exec`` may use; what enforces each is in the backend's docstring."""

    wall_seconds: float = 600.0  # default per-exec timeout
    cpu_seconds: int = 3600  # RLIMIT_CPU per process of an exec
    memory_bytes: int = 4 * 2**30  # memory cgroup, or address space without one
    processes: int = 256  # processes and threads of one exec
    file_bytes: int = 1 * 2**30  # largest single file (RLIMIT_FSIZE)
    workspace_bytes: int = 2 * 2**30  # disk used by the whole workspace
    output_bytes: int = 64 * 1024  # per stream kept in ExecResult

    def __post_init__(self) -> None:
        values: dict[str, float] = {
            "wall_seconds": self.wall_seconds,
            "cpu_seconds": self.cpu_seconds,
            "memory_bytes": self.memory_bytes,
            "processes": self.processes,
            "file_bytes": self.file_bytes,
            "workspace_bytes": self.workspace_bytes,
            "output_bytes": self.output_bytes,
        }
        for name, value in values.items():
            if not value > 0:
                raise ConfigError(f"sandbox limit {name} must be positive, got {value!r}")


@dataclass(frozen=True)
class Mount:
    """A host folder or file shown read-only inside the sandbox at ``target``."""

    source: Path  # on the host
    target: str  # absolute path inside the sandbox

    def __post_init__(self) -> None:
        target = PurePosixPath(self.target)
        if not target.is_absolute() or ".." in target.parts or target == PurePosixPath("/"):
            raise ConfigError(f"mount target must be an absolute path below /: {self.target!r}")


@dataclass(frozen=True)
class SandboxSpec:
    """Everything a backend needs to build one sandbox."""

    workspace: Path  # host folder, read-write, seen as /workspace inside
    readonly: tuple[Mount, ...] = ()  # public task data, method library, etc.
    hub_socket: Path | None = None  # host Unix socket, bound to /run/aar/hub.sock inside
    # Exactly what the sandbox adds to its minimal env (PATH, HOME, LANG); nothing else from
    # the host's environment reaches the sandbox.
    env: Mapping[str, str] = field(default_factory=dict)
    limits: Limits = Limits()
    # The Python an isolated sandbox sees (aar.sandbox.pyenv): None is the curated default,
    # curated_env(), without oracles; PythonEnv.full() is the host's whole environment.
    python: PythonEnv | None = None

    def __post_init__(self) -> None:
        for key, value in self.env.items():
            if not key or "=" in key or "\0" in key or "\0" in value:
                raise ConfigError(f"invalid sandbox environment variable {key!r}")


@dataclass(frozen=True)
class ExecResult:
    """What one command did.

    ``exit_code`` is None when the command was killed (``killed`` says why); a command that
    died of signal N on its own shows 128+N, as a shell reports it. ``killed`` is one of
    "timeout", "memory", "cpu time", "processes", "file size", "workspace full", or None.
    """

    exit_code: int | None
    stdout: str
    stderr: str
    duration_s: float
    truncated: bool  # output was cut at limits.output_bytes
    killed: str | None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.killed is None


@dataclass(frozen=True)
class FileInfo:
    path: str  # relative to the workspace
    is_dir: bool
    size: int


class Sandbox(ABC):
    """One researcher's place to run code: a workspace folder and commands run against it.

    A backend's docstring states precisely what it protects against and what it does not.
    Every method may raise these, and only these (plus ``ValueError`` for a malformed
    argument, a developer error):

    - ``start()``: ``SandboxUnavailableError`` when the backend cannot run here (the message
      says how to fix that); ``SandboxError`` when the workspace is missing or the sandbox
      was closed.
    - ``close()``: nothing; it kills whatever still runs and may be called any number of times.
    - ``exec()``: what ``start()`` raises (it starts the sandbox if needed);
      ``SandboxPathError`` when ``cwd`` is not a folder in the workspace. A command that
      fails, times out or exceeds a limit does not raise: see ``ExecResult``.
    - ``read_file()``, ``write_file()``, ``list_files()``: ``SandboxPathError`` for a path
      that leaves the workspace (absolute outside /workspace, ``..`` above it, a symlink
      pointing out of it), a missing file or folder, or the wrong kind (a folder to read, a
      file to list, a FIFO), and from ``write_file`` also for content larger than
      ``limits.file_bytes`` or that would take the workspace over
      ``limits.workspace_bytes``.
    """

    name: ClassVar[str]
    isolated: ClassVar[bool] = True

    def __init__(self, spec: SandboxSpec, *, allow_unsafe: bool = False) -> None:
        self.spec = spec

    @abstractmethod
    def start(self) -> None:
        """Check that the backend can run here and get ready; calling it again does nothing."""

    @abstractmethod
    def close(self) -> None:
        """Kill anything still running; later calls to ``exec`` raise ``SandboxError``."""

    @abstractmethod
    def exec(
        self,
        command: str | Sequence[str],
        *,
        timeout: float | None = None,
        cwd: str = ".",
        stdin: str | None = None,
        on_stdout: Callable[[bytes], None] | None = None,
    ) -> ExecResult:
        """Run ``command`` (a string runs with ``/bin/sh -c``) in ``cwd`` (relative to the
        workspace) and wait for it, at most ``timeout`` seconds (``limits.wall_seconds`` when
        None). Every process it started is gone when this returns. ``on_stdout`` gets each
        piece of the command's output as it comes (a long-running agent's stream), besides
        the capped copy in the result."""

    @abstractmethod
    def read_file(self, path: str, max_bytes: int = 1_000_000) -> str:
        """The first ``max_bytes`` of a workspace file, decoded as UTF-8 (bad bytes replaced)."""

    @abstractmethod
    def write_file(self, path: str, content: str) -> None:
        """Write ``content`` (UTF-8) to a workspace file, creating its folders."""

    @abstractmethod
    def list_files(self, path: str = ".", recursive: bool = False) -> list[FileInfo]:
        """The entries of a workspace folder (symlinks are listed, not followed), by path."""

    def path_of(self, mount: Mount) -> str:
        """Where a command in this sandbox finds ``mount`` (its target, when mounts exist)."""
        return mount.target

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
