"""The method interface: a weak-to-strong method maps public data to test predictions.

A method is a class with a frozen pydantic ``Config`` and ``run(ctx) -> predictions``,
registered by name:

    @METHODS.register("vanilla")
    class Vanilla(Method):
        Config = VanillaConfig
        def run(self, ctx: MethodContext) -> np.ndarray: ...

``MethodContext`` holds only what is public: the teacher's labeled set with its labels, the
unlabeled pool with the teacher's soft labels, and the test inputs. Gold labels of the pool
and of the test set never enter it, so no method (and no model selection) can use them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict

from aar.core.errors import AarError
from aar.core.hashing import config_hash
from aar.core.records import Component
from aar.core.registry import Registry
from aar.w2s.config import parse_config
from aar.w2s.data import Inputs
from aar.w2s.students import Student, TrainedStudent

METHODS: Registry[type[Method]] = Registry("method")


class MethodConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


@dataclass(frozen=True, eq=False)
class MethodContext:
    """Everything a method may use for one seed."""

    labeled: Inputs
    labeled_labels: np.ndarray
    pool: Inputs
    pool_weak: np.ndarray
    """The teacher's class probabilities on the pool (n_pool × n_classes)."""
    test: Inputs
    student: Student
    n_classes: int
    seed: int

    def train_on(self, targets: np.ndarray, **kwargs: Any) -> TrainedStudent:
        """Train a fresh student on the whole pool with ``targets`` (pool × classes)."""
        return self.student.fit(self.pool, targets, seed=kwargs.pop("seed", self.seed), **kwargs)


class Method(ABC):
    name: ClassVar[str]
    Config: ClassVar[type[MethodConfig]] = MethodConfig

    def __init__(self, config: MethodConfig) -> None:
        self.config = config

    @abstractmethod
    def run(self, ctx: MethodContext) -> np.ndarray:
        """Predictions for ``ctx.test``: class probabilities (n × classes) or labels (n,)."""

    def describe(self) -> Component:
        return Component(
            name=self.name,
            config=self.config.model_dump(mode="json"),
            config_hash=config_hash({"method": self.name, "config": self.config}),
        )


class PredictionError(AarError):
    """A method returned predictions of the wrong shape or with invalid values."""


def as_labels(predictions: np.ndarray, n_test: int, n_classes: int, method: str) -> np.ndarray:
    """Check a method's output and turn it into predicted labels."""
    predictions = np.asarray(predictions)
    if predictions.ndim == 2 and predictions.shape[1] == n_classes:
        labels = predictions.argmax(1)
    elif predictions.ndim == 1:
        labels = predictions
    else:
        raise PredictionError(
            f"method {method} returned predictions of shape {predictions.shape}; "
            f"expected ({n_test},) labels or ({n_test}, {n_classes}) probabilities"
        )
    if len(labels) != n_test:
        raise PredictionError(
            f"method {method} returned {len(labels)} predictions for {n_test} test examples"
        )
    if not np.all(np.isin(labels, np.arange(n_classes))):
        raise PredictionError(f"method {method} predicted labels outside 0..{n_classes - 1}")
    return labels.astype(np.int64)


def build_method(name: str, options: Mapping[str, Any] | None = None) -> Method:
    cls = METHODS.get(name)
    return cls(parse_config(cls.Config, options or {}, owner=f"method {name}"))
