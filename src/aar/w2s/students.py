"""Strong students: models a method trains on (weak) targets and asks for predictions.

Methods see only this interface, so a method written against a head on frozen embeddings
runs unchanged on a fine-tuned encoder:

    trained = ctx.student.fit(ctx.pool, targets, seed=ctx.seed)
    probs = trained.predict_proba(ctx.test)
    feats = ctx.student.features(ctx.pool)   # the student's representation, for probes

``HeadStudent`` is a linear (or one-hidden-layer) head on fixed features, standardized with
the statistics of the inputs it is trained on.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from aar.w2s.data import Features, Inputs
from aar.w2s.training import (
    History,
    LossFn,
    TrainConfig,
    fit,
    predict_proba,
    soft_cross_entropy,
    torch_threads,
)


@dataclass(frozen=True, eq=False)
class Validation:
    """Held-out inputs and target distributions; training keeps the epoch that agrees best."""

    inputs: Inputs
    targets: np.ndarray

    def agreement(self, probs: np.ndarray) -> float:
        return float(np.mean(probs.argmax(1) == self.targets.argmax(1)))


class TrainedStudent(ABC):
    """A student after training."""

    history: History

    @abstractmethod
    def predict_proba(self, inputs: Inputs) -> np.ndarray:
        """Class probabilities, one row per example."""


class Student(ABC):
    """A strong model that can be trained from scratch (or from its pretrained state)."""

    n_classes: int
    train: TrainConfig

    @abstractmethod
    def fit(
        self,
        inputs: Inputs,
        targets: np.ndarray,
        *,
        seed: int,
        weights: np.ndarray | None = None,
        loss: LossFn = soft_cross_entropy,
        train: TrainConfig | None = None,
        validation: Validation | None = None,
    ) -> TrainedStudent:
        """Train a fresh student on ``targets`` (n × classes probability rows)."""

    @abstractmethod
    def features(self, inputs: Inputs) -> np.ndarray:
        """The student's representation of ``inputs`` before training (for probes)."""


class HeadConfig(BaseModel):
    """A head on frozen features: linear when ``hidden`` is 0."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["head"] = "head"
    hidden: int = Field(0, ge=0)
    dropout: float = Field(0.0, ge=0, lt=1)
    train: TrainConfig = TrainConfig()


class HeadStudent(Student):
    """A trained head on fixed feature vectors (e.g. cached embeddings of a frozen encoder)."""

    def __init__(self, config: HeadConfig, n_classes: int) -> None:
        self.config = config
        self.n_classes = n_classes
        self.train = config.train

    def features(self, inputs: Inputs) -> np.ndarray:
        return _array(inputs)

    def fit(
        self,
        inputs: Inputs,
        targets: np.ndarray,
        *,
        seed: int,
        weights: np.ndarray | None = None,
        loss: LossFn = soft_cross_entropy,
        train: TrainConfig | None = None,
        validation: Validation | None = None,
    ) -> TrainedHead:
        x = _array(inputs)
        mean, scale = x.mean(0), x.std(0) + 1e-6
        torch.manual_seed(seed)
        module = self._module(x.shape[1])
        x_t = torch.as_tensor((x - mean) / scale, dtype=torch.float32)
        trained = TrainedHead(module, mean, scale)
        with torch_threads(1):  # a head's matmuls are too small to gain from threads
            history = fit(
                module,
                lambda index: x_t[index],
                targets,
                train or self.train,
                seed=seed,
                weights=weights,
                loss=loss,
                validate=validator_for(trained, validation),
            )
        trained.history = history
        return trained

    def _module(self, dim: int) -> torch.nn.Module:
        if self.config.hidden == 0:
            return torch.nn.Sequential(
                torch.nn.Dropout(self.config.dropout), torch.nn.Linear(dim, self.n_classes)
            )
        return torch.nn.Sequential(
            torch.nn.Dropout(self.config.dropout),
            torch.nn.Linear(dim, self.config.hidden),
            torch.nn.GELU(),
            torch.nn.Linear(self.config.hidden, self.n_classes),
        )


class TrainedHead(TrainedStudent):
    def __init__(self, module: torch.nn.Module, mean: np.ndarray, scale: np.ndarray) -> None:
        self.module, self.mean, self.scale = module, mean, scale
        self.history = History()

    def predict_proba(self, inputs: Inputs) -> np.ndarray:
        x = torch.as_tensor((_array(inputs) - self.mean) / self.scale, dtype=torch.float32)
        with torch_threads(1):
            return predict_proba(self.module, lambda index: x[index], len(x))


def validator_for(
    trained: TrainedStudent, validation: Validation | None
) -> Callable[[torch.nn.Module], float] | None:
    if validation is None:
        return None
    return lambda _module: validation.agreement(trained.predict_proba(validation.inputs))


def _array(inputs: Inputs) -> np.ndarray:
    if not isinstance(inputs, Features):
        raise TypeError(f"a head student reads Features, not {type(inputs).__name__}")
    return inputs.array
