"""Shared fixtures: a small toy context for methods and a memorising student double."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from aar.w2s.baselines import weak_artifacts
from aar.w2s.cache import ArtifactCache
from aar.w2s.data import Features, Inputs
from aar.w2s.methods.base import MethodContext
from aar.w2s.students import Student, TrainedStudent
from aar.w2s.tasks import build_task
from aar.w2s.training import History, TrainConfig

# The models in tests are tiny: threads only add synchronisation, and on a busy 2-core
# machine oversubscribed OpenMP threads make them many times slower.
torch.set_num_threads(1)


def shared_data_dir() -> Path | None:
    """``$AAR_SHARED_DATA`` or ``../shared/data`` beside the checkout, when present."""
    explicit = os.environ.get("AAR_SHARED_DATA")
    folder = Path(explicit) if explicit else Path(__file__).resolve().parents[2] / "shared" / "data"
    return folder if folder.is_dir() else None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The small real datasets; CI sets AAR_REQUIRE_SHARED_DATA so they never skip there."""
    folder = shared_data_dir()
    if folder is None:
        if os.environ.get("AAR_REQUIRE_SHARED_DATA"):
            pytest.fail("AAR_REQUIRE_SHARED_DATA is set but ../shared/data is missing")
        pytest.skip("the small real datasets (../shared/data) are not on this machine")
    return folder


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server for the session (URL without a database name)."""
    from tests.pg import start_server

    yield from start_server()


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A fresh, empty PostgreSQL database for one test."""
    from tests.pg import fresh_database

    return fresh_database(postgres_server)


@pytest.fixture(scope="session")
def toy_context() -> MethodContext:
    """A real toy task's public context for seed 0 (small, trains in well under a second)."""
    task = build_task("toy", {"n_examples": 1500, "n_labeled": 100, "n_test": 400})
    data = task.load(ArtifactCache(None))
    splits = task.splits(data, 0)
    weak = weak_artifacts(task, data, splits, 0, ArtifactCache(None))
    return MethodContext(
        labeled=data.student_inputs.take(splits.labeled),
        labeled_labels=data.labels[splits.labeled],
        pool=data.student_inputs.take(splits.pool),
        pool_weak=weak.pool_probs,
        test=data.student_inputs.take(splits.test),
        student=task.student(2),
        n_classes=2,
        seed=0,
    )


class Memorised(TrainedStudent):
    def __init__(self, table: dict[bytes, np.ndarray], n_classes: int) -> None:
        self.table, self.n_classes, self.history = table, n_classes, History()

    def predict_proba(self, inputs: Inputs) -> np.ndarray:
        assert isinstance(inputs, Features)
        uniform = np.full(self.n_classes, 1.0 / self.n_classes)
        return np.array([self.table.get(row.tobytes(), uniform) for row in inputs.array])


@dataclass
class MemorisingStudent(Student):
    """Predicts exactly the target it was trained on for a seen row, uniform otherwise;
    records every fit so tests can check what a method trained on."""

    n_classes: int = 2
    train: TrainConfig = field(default_factory=TrainConfig)
    fits: list[dict[str, Any]] = field(default_factory=list)

    def fit(self, inputs: Inputs, targets: np.ndarray, *, seed: int, **kwargs: Any) -> Memorised:
        assert isinstance(inputs, Features)
        self.fits.append({"inputs": inputs.array, "targets": targets, "seed": seed, **kwargs})
        table = {row.tobytes(): t for row, t in zip(inputs.array, targets, strict=True)}
        return Memorised(table, self.n_classes)

    def features(self, inputs: Inputs) -> np.ndarray:
        assert isinstance(inputs, Features)
        return inputs.array


def context_with(
    student: Student, pool: np.ndarray, weak: np.ndarray, test: np.ndarray
) -> MethodContext:
    return MethodContext(
        labeled=Features(pool[:2]),
        labeled_labels=np.zeros(2, dtype=int),
        pool=Features(pool),
        pool_weak=weak,
        test=Features(test),
        student=student,
        n_classes=weak.shape[1],
        seed=0,
    )


@pytest.fixture(scope="session")
def tiny_lms(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Reference-layout chat and math folders from the real data, and a tiny weak Qwen2 and
    strong Qwen3 with a tokenizer trained on those prompts (``tests/lmkit.py``)."""
    from tests.lmkit import build_world

    return build_world(shared_data, tmp_path_factory.mktemp("lms"))
