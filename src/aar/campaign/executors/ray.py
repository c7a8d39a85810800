"""Researchers as Ray actors: one campaign spread over the machines of a Ray cluster.

Each researcher is a ``ResearcherActor`` placed by Ray with the job's resources
(``num_cpus``, ``num_gpus``, ``memory``; any other key is a custom resource). The actor runs
the job's command line as a child process on its node, in its own session so that stopping it
also stops what it started, with the node's environment plus ``job.env`` and its output
appended to ``job.log_path``. The campaign only holds actor handles and polls them.

    executor = make_executor("ray")                   # a local Ray instance on this machine
    executor = make_executor("ray", address="auto")   # the cluster this machine belongs to
    aar run --executor ray --ray-address auto ...     # the same from the command line

An address of ``None`` starts a private Ray instance (no dashboard) that ``shutdown`` stops
again; ``"auto"`` or ``"ray://host:port"`` joins a running cluster, and ``shutdown`` leaves it
(the cluster keeps running); a Ray already initialized in this process is used as it is and
left as it was. A job waiting for resources the cluster does not have yet counts as running.

On a real cluster a researcher may run on any node, so what its job names must be reachable
from every node:

- paths in the job (workspaces, log files, the public bundle) on a filesystem that every node
  mounts at the same place (NFS, a cluster filesystem); relative paths are taken from the
  campaign's working directory, which must exist on the node too;
- the hub by a TCP URL that the nodes can reach (not a Unix socket or ``localhost``), on a
  PostgreSQL database rather than SQLite, with snapshots at an fsspec URL (``s3://``, a shared
  path) rather than a local folder;
- ``aar`` itself installed on every node (or shipped with ``runtime_env``), since the actor's
  class is imported there;
- every variable the researcher needs from the campaign's environment in ``job.env`` (or the
  ``env_vars`` of ``runtime_env``): the node's environment is not the campaign's.

Ray sets ``CUDA_VISIBLE_DEVICES`` for a job that asks for GPUs and ``OMP_NUM_THREADS`` from its
``num_cpus`` (1 when it asks for none); the researcher inherits both. When an actor dies
without being stopped (its node lost, the campaign killed hard), nothing here signals the
researcher's process group: Ray's own clean-up of a dead worker's children is all that ends it.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import ray
from ray.actor import ActorHandle, ActorProxy
from ray.exceptions import RayError, RayTaskError

from aar.campaign.executors.base import Executor, ResearcherJob, job_environment

log = logging.getLogger(__name__)

# How long to wait for a job to end after SIGKILL: it cannot refuse, so only a lost node or a
# process stuck in the kernel takes longer, and then the actor is killed instead.
_KILL_WAIT = 10.0
# How long to wait after SIGKILL for an actor that has not started yet: it may be waiting for
# resources forever, and one that has not started has no process to leave behind.
_UNSTARTED_WAIT = 1.0
# The exit code reported for a job whose actor died or was killed before its process ended.
_LOST = -int(signal.SIGKILL)
# The exit code of a command that could not be started at all (as a shell reports it).
_NOT_STARTED = 127
_ACTOR_RESOURCES = ("num_cpus", "num_gpus", "memory")


class ResearcherActor:
    """Runs one job's command on the node Ray placed it on; ``signal`` reaches it meanwhile."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._signalled: int | None = None

    @ray.method
    def ready(self) -> bool:
        return True

    @ray.method
    def run(
        self, argv: list[str], env: dict[str, str], log_path: str, cwd: str, unset: list[str]
    ) -> int:
        """Run ``argv`` to its end; its exit code, negative for a signal (as ``Popen``)."""
        path = Path(log_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("ab") as log_file, self._lock:
            # A stop that arrived before the process exists must not be lost: it wins.
            if self._signalled is not None:
                return -self._signalled
            try:
                self._process = _spawn(argv, env, unset, log_file, cwd)
            except OSError as err:
                log_file.write(f"aar: cannot start {argv[0]!r}: {err}\n".encode())
                return _NOT_STARTED
        return self._process.wait()

    @ray.method
    def signal(self, sig: int) -> None:
        """Send ``sig`` to the job's process group (or to the process once it starts)."""
        with self._lock:
            self._signalled = sig
            process = self._process
            # After the leader is reaped its pid may belong to someone else: leave it alone.
            if process is not None and process.poll() is None:
                with suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, sig)


def _spawn(
    argv: list[str], env: dict[str, str], unset: list[str], log_file: IO[bytes], cwd: str
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        argv,
        env=job_environment(os.environ, env, unset),
        cwd=cwd if os.path.isdir(cwd) else None,
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


_REMOTE_ACTOR = ray.remote(ResearcherActor)


@dataclass
class _Run:
    """One started job: its actor, the pending result of ``run`` and, once known, the code."""

    actor: ActorProxy[ResearcherActor]
    result: ray.ObjectRef[int]
    ready: ray.ObjectRef[bool]
    code: int | None = None


class RayExecutor(Executor):
    """Researchers as Ray actors; ``address`` None starts a local Ray, "auto" joins one."""

    def __init__(
        self,
        address: str | None = None,
        namespace: str = "aar",
        runtime_env: dict[str, Any] | None = None,
        num_cpus: int | None = None,
        num_gpus: int | None = None,
        hidden_env: tuple[str, ...] = (),
    ) -> None:
        self._namespace = namespace
        self._runtime_env = runtime_env
        # A Ray started here inherits this process's environment: model keys stay out of it.
        with without_env(hidden_env):
            self._owns_ray = _connect(address, namespace, num_cpus, num_gpus)
        # Actor names carry this id so that two campaigns on one cluster never collide.
        self._id = uuid.uuid4().hex[:8]
        self._runs: dict[str, _Run] = {}

    def start(self, job: ResearcherJob) -> None:
        previous = self._runs.get(job.name)
        if previous is not None and self._refresh(previous) is None:
            raise RuntimeError(f"researcher {job.name} is already running")
        actor = self._create_actor(job)
        result = actor.run.remote(
            list(job.argv),
            dict(job.env),
            str(job.log_path.absolute()),
            os.getcwd(),
            list(job.unset),
        )
        self._runs[job.name] = _Run(actor, result, actor.ready.remote())

    def poll(self) -> dict[str, int | None]:
        self._wait([run for run in self._runs.values() if run.code is None], timeout=0)
        return {name: run.code for name, run in self._runs.items()}

    def stop(self, name: str, grace: float = 10.0) -> None:
        run = self._runs.get(name)
        if run is None or self._refresh(run) is not None:
            return
        self._end([run], grace)

    def kill(self, name: str) -> None:
        run = self._runs.get(name)
        if run is None or self._refresh(run) is not None:
            return
        self._end([run], grace=None)

    def shutdown(self, grace: float = 10.0) -> None:
        live = [run for run in self._runs.values() if self._refresh(run) is None]
        self._end(live, grace)
        if self._owns_ray and ray.is_initialized():
            ray.shutdown()

    def _create_actor(self, job: ResearcherJob) -> ActorProxy[ResearcherActor]:
        options = _actor_options(job.resources)
        if self._runtime_env is not None:
            options["runtime_env"] = self._runtime_env
        return _REMOTE_ACTOR.options(
            name=f"aar-{self._id}-{job.name}-{uuid.uuid4().hex[:6]}",
            namespace=self._namespace,
            # A stop must reach the actor while ``run`` still occupies a thread.
            max_concurrency=4,
            **options,
        ).remote()

    def _refresh(self, run: _Run) -> int | None:
        """The exit code of ``run`` if it has ended by now (without waiting), else None."""
        self._wait([run] if run.code is None else [], timeout=0)
        return run.code

    def _finish(self, run: _Run) -> None:
        """Record the exit code of a run whose result is ready, and free its actor."""
        try:
            run.code = ray.get(run.result)
        except RayTaskError as err:
            log.warning("researcher actor failed: %s", err)
            run.code = 1
        except RayError as err:
            log.warning("researcher actor died (its node may be lost): %s", err)
            run.code = _LOST
        # The actor holds its resources until it dies, which is what lets the next job start.
        _kill_actor(run.actor)

    def _end(self, runs: list[_Run], grace: float | None) -> None:
        """SIGTERM, up to ``grace`` seconds, then SIGKILL; ``grace=None`` is SIGKILL at once."""
        if grace is not None:
            runs = self._signal_and_wait(runs, signal.SIGTERM, grace)
        runs = self._signal_and_wait(runs, signal.SIGKILL, _UNSTARTED_WAIT)
        # An actor that is up has a process to wait for; one that is not may wait for
        # resources forever, and has no process to leave behind when it is killed.
        up = {id(run): _is_up(run) for run in runs}
        runs = self._wait([run for run in runs if up[id(run)]], _KILL_WAIT) + [
            run for run in runs if not up[id(run)]
        ]
        for run in runs:
            _kill_actor(run.actor)
            run.code = _LOST

    def _signal_and_wait(self, runs: list[_Run], sig: signal.Signals, timeout: float) -> list[_Run]:
        for run in runs:
            # Not awaited: an actor still waiting for resources would block the caller.
            run.actor.signal.remote(int(sig))
        return self._wait(runs, timeout)

    def _wait(self, runs: list[_Run], timeout: float) -> list[_Run]:
        """Wait up to ``timeout`` for ``runs`` to end; the ones still running."""
        if not runs:
            return []
        refs = [run.result for run in runs]
        done, _ = ray.wait(refs, num_returns=len(refs), timeout=timeout, fetch_local=False)
        finished = set(done)
        for run in runs:
            if run.result in finished:
                self._finish(run)
        return [run for run in runs if run.code is None]


@contextmanager
def without_env(names: tuple[str, ...]) -> Iterator[None]:
    """Take ``names`` out of this process's environment for the block, then put them back."""
    saved = {name: os.environ.pop(name) for name in names if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def _connect(
    address: str | None, namespace: str, num_cpus: int | None, num_gpus: int | None
) -> bool:
    """Make sure Ray is initialized; whether this call started it (and so must stop it)."""
    if ray.is_initialized():
        return False
    if address is None:
        ray.init(
            address="local",
            namespace=namespace,
            num_cpus=num_cpus if num_cpus is not None else os.cpu_count(),
            num_gpus=num_gpus,
            include_dashboard=False,
            log_to_driver=False,
        )
    else:
        ray.init(address=address, namespace=namespace, log_to_driver=False)
    return True


def _actor_options(resources: dict[str, float]) -> dict[str, Any]:
    """Ray's actor options for a job's resources: known names as such, the rest custom."""
    options: dict[str, Any] = {k: v for k, v in resources.items() if k in _ACTOR_RESOURCES}
    custom = {k: v for k, v in resources.items() if k not in _ACTOR_RESOURCES}
    if custom:
        options["resources"] = custom
    return options


def _is_up(run: _Run) -> bool:
    done, _ = ray.wait([run.ready], timeout=0, fetch_local=False)
    return bool(done)


def _kill_actor(actor: ActorProxy[ResearcherActor]) -> None:
    # Ray types a handle as "handle or class" so that its methods type-check; it is a handle.
    if isinstance(actor, ActorHandle):
        with suppress(RayError, ValueError):
            ray.kill(actor, no_restart=True)
