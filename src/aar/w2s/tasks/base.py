"""The task interface: what a weak-to-strong testbed provides to the runner.

A task is a registry entry with a frozen ``Config``. It loads every example once
(``load``, cached by the caller's ``ArtifactCache``), cuts seeded splits, and names its weak
teacher and strong student. Seed-independent work (building the dataset, embedding it)
belongs in ``load``; everything that varies by seed happens in the runner.

Every task holds back a **sealed set** (``n_sealed`` examples, whole groups, drawn with the
secret ``sealed_seed``) that no public split and no bundle ever contains, not even its inputs:

    sealed = task.sealed_indices(data)
    public = task.splits(data, seed)                          # never a sealed index
    fresh = task.verification_splits(data, split_seed, 1001)  # test = the sealed set

A verification split redraws the labeled set and the pool with its own seed from the public
labeled set ∪ pool, so the teacher and the ceiling retrain on each verification seed. The
options in ``secret_options`` (the sealed seed; for generated data the data seed) let anyone
with the code recompute labels: they never go into a public bundle.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from aar.core.errors import ConfigError
from aar.core.hashing import config_hash
from aar.core.records import Component
from aar.core.registry import Registry
from aar.w2s.cache import ArtifactCache
from aar.w2s.config import parse_config
from aar.w2s.data import Splits, TaskData, draw_sealed, make_splits, verification_split
from aar.w2s.students import Student
from aar.w2s.teachers import Teacher

TASKS: Registry[type[Task]] = Registry("task")


class TaskConfig(BaseModel):
    """Options every task has: split sizes and the sealed set."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    n_labeled: int = Field(1000, ge=2, description="labeled examples the teacher trains on")
    n_test: int = Field(2000, ge=2, description="held-out test examples")
    n_pool: int | None = Field(None, ge=2, description="cap on the unlabeled pool (None: all)")
    n_sealed: int = Field(
        1000, ge=0, description="examples sealed for verification, never published (0: none)"
    )
    sealed_seed: int = Field(0, description="seed that draws the sealed set (secret)")


class Task(ABC):
    """A weak-to-strong testbed."""

    name: ClassVar[str]
    Config: ClassVar[type[TaskConfig]] = TaskConfig
    secret_options: ClassVar[frozenset[str]] = frozenset({"sealed_seed"})
    """Options a public bundle never records: with them and the code, labels can be rebuilt."""

    def __init__(self, config: TaskConfig) -> None:
        self.config = config

    @abstractmethod
    def load(self, cache: ArtifactCache) -> TaskData:
        """Every example with both views; expensive parts cached in ``cache``."""

    @abstractmethod
    def teacher(self) -> Teacher:
        """A fresh weak teacher."""

    @abstractmethod
    def student(self, n_classes: int) -> Student:
        """The strong student (untrained)."""

    def _sealed_count(self) -> int:
        """How many examples ``sealed_indices`` draws: the config's ``n_sealed`` (a task whose
        default is relative resolves it here)."""
        return self.config.n_sealed

    def sealed_indices(self, data: TaskData) -> np.ndarray:
        """The sealed examples (sorted; whole groups); empty when ``n_sealed`` is 0."""
        if data.sealed is not None:
            return data.sealed
        return draw_sealed(len(data), self._sealed_count(), self.config.sealed_seed, data.groups)

    def splits(self, data: TaskData, seed: int) -> Splits:
        """The public split of ``seed``: labeled, pool and test, none of them sealed."""
        if data.fixed_splits is not None:
            return data.fixed_splits
        return make_splits(
            len(data),
            self.config.n_labeled,
            self.config.n_test,
            seed,
            n_pool=self.config.n_pool,
            groups=data.groups,
            sealed=self.sealed_indices(data),
        )

    def verification_splits(self, data: TaskData, split_seed: int, seed: int) -> Splits:
        """Labeled set and pool redrawn with ``seed`` from those of the public split of
        ``split_seed``; the test set is the sealed set. Raises ``ConfigError`` without one."""
        sealed = self.sealed_indices(data)
        if len(sealed) == 0:
            raise ConfigError(
                f"task {self.name} has no sealed set (n_sealed={self.config.n_sealed}), so it "
                "cannot be verified on data no researcher saw: give it n_sealed > 0"
            )
        return verification_split(self.splits(data, split_seed), sealed, seed, data.groups)

    @property
    def config_hash(self) -> str:
        return config_hash({"task": self.name, "config": self.config})

    def describe(self) -> Component:
        return Component(
            name=self.name, config=self.config.model_dump(mode="json"), config_hash=self.config_hash
        )


def build_task(name: str, options: Mapping[str, Any] | None = None) -> Task:
    """The registered task ``name`` with ``options`` validated against its config."""
    cls = TASKS.get(name)
    return cls(parse_config(cls.Config, options or {}, owner=f"task {name}"))
