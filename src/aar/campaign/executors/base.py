"""The executor interface: start a researcher's command somewhere, watch it, stop it.

A researcher is one ``aar research`` command line (a ``ResearcherJob``). Executors only run
commands; restarting, budgets and bookkeeping belong to the supervisor. Every method may be
called from the supervisor's thread only.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aar.core.errors import ConfigError, MissingDependencyError
from aar.core.registry import Registry


@dataclass(frozen=True)
class ResearcherJob:
    """One researcher's process: what to run, with which extra environment, logging where."""

    name: str
    argv: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    """Added to the executor's environment (the researcher's token)."""
    unset: tuple[str, ...] = ()
    """Taken out of it: variables that may hold a model key (the hub's gateway holds them)."""
    log_path: Path = Path("researcher.log")
    resources: dict[str, float] = field(default_factory=dict)
    """What one researcher needs, e.g. ``{"num_cpus": 1, "num_gpus": 1}`` (Ray only)."""


def job_environment(
    base: Mapping[str, str], env: Mapping[str, str], unset: Iterable[str]
) -> dict[str, str]:
    """The environment a job's process gets: ``base`` with ``env`` added and ``unset`` removed."""
    hidden = set(unset)
    return {key: value for key, value in {**base, **env}.items() if key not in hidden}


class Executor(ABC):
    """Runs researcher jobs; a name identifies a job until it is started again."""

    @abstractmethod
    def start(self, job: ResearcherJob) -> None:
        """Start ``job``; a finished job of the same name is replaced."""

    @abstractmethod
    def poll(self) -> dict[str, int | None]:
        """Every started job: None while it runs, else its exit code (negative: a signal)."""

    @abstractmethod
    def stop(self, name: str, grace: float = 10.0) -> None:
        """Ask ``name`` to stop (SIGTERM); kill it (SIGKILL) if it still runs after ``grace``."""

    @abstractmethod
    def kill(self, name: str) -> None:
        """Kill ``name`` at once (SIGKILL), as a crash would."""

    @abstractmethod
    def shutdown(self, grace: float = 10.0) -> None:
        """Stop every job and release what the executor holds."""

    def pid(self, name: str) -> int | None:
        """The local process id of ``name`` (None when it runs elsewhere or not at all)."""
        return None

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


EXECUTORS: Registry[str] = Registry("executor")
EXECUTORS.register("local")("aar.campaign.executors.local:LocalExecutor")
EXECUTORS.register("ray")("aar.campaign.executors.ray:RayExecutor")
EXTRAS = {"ray": "ray"}


def make_executor(name: str, **options: Any) -> Executor:
    """The executor called ``name`` (``local`` or ``ray``), built with ``options``."""
    target = EXECUTORS.get(name)
    module_name, _, attribute = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        if name in EXTRAS:
            raise MissingDependencyError("ray", EXTRAS[name], f"the {name} executor") from err
        raise
    cls = getattr(module, attribute)
    try:
        return cls(**options)
    except TypeError as err:
        raise ConfigError(f"executor {name}: {err}") from None
