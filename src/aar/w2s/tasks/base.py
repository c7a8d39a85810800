"""The task interface: what a weak-to-strong testbed provides to the runner.

A task is a registry entry with a frozen ``Config``. It loads every example once
(``load``, cached by the caller's ``ArtifactCache``), cuts seeded splits, and names its weak
teacher and strong student. Seed-independent work (building the dataset, embedding it)
belongs in ``load``; everything that varies by seed happens in the runner.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from aar.core.hashing import config_hash
from aar.core.records import Component
from aar.core.registry import Registry
from aar.w2s.cache import ArtifactCache
from aar.w2s.config import parse_config
from aar.w2s.data import Splits, TaskData, make_splits
from aar.w2s.students import Student
from aar.w2s.teachers import Teacher

TASKS: Registry[type[Task]] = Registry("task")


class TaskConfig(BaseModel):
    """Options every task has: split sizes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    n_labeled: int = Field(1000, ge=2, description="labeled examples the teacher trains on")
    n_test: int = Field(2000, ge=2, description="held-out test examples")
    n_pool: int | None = Field(None, ge=2, description="cap on the unlabeled pool (None: all)")


class Task(ABC):
    """A weak-to-strong testbed."""

    name: ClassVar[str]
    Config: ClassVar[type[TaskConfig]] = TaskConfig

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

    def splits(self, data: TaskData, seed: int) -> Splits:
        if data.fixed_splits is not None:
            return data.fixed_splits
        return make_splits(
            len(data),
            self.config.n_labeled,
            self.config.n_test,
            seed,
            n_pool=self.config.n_pool,
            groups=data.groups,
        )

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
