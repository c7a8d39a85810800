"""The fixed points of PGR for one seed: the weak teacher and the ceiling, both cached.

    weak = weak_artifacts(task, data, splits, seed, cache)   # soft labels + weak accuracy
    ceiling = ceiling_accuracy(task, data, splits, seed, cache)

The teacher trains on the labeled split and labels the pool and the test set; the ceiling is
the strong student trained on the pool's gold labels. Both are cached by (task config hash,
seed, code version), so methods compared later reuse the same baselines.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aar.w2s.cache import ArtifactCache
from aar.w2s.data import Splits, TaskData
from aar.w2s.tasks.base import Task

BASELINE_VERSION = 1  # bump when the computation changes, so stale caches are not reused


@dataclass(frozen=True, eq=False)
class WeakArtifacts:
    """The teacher's soft labels on the pool and the test set, and its test accuracy."""

    pool_probs: np.ndarray
    test_probs: np.ndarray
    accuracy: float


def accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(probs.argmax(1) == labels))


def one_hot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    return np.eye(n_classes)[labels]


def _key(task: Task, data: TaskData, seed: int, part: str) -> dict[str, object]:
    return {
        "task": task.config_hash,
        "data": data.fingerprint,
        "seed": seed,
        "part": part,
        "version": BASELINE_VERSION,
    }


def weak_artifacts(
    task: Task, data: TaskData, splits: Splits, seed: int, cache: ArtifactCache
) -> WeakArtifacts:
    def compute() -> dict[str, np.ndarray]:
        labeled = data.teacher_inputs.take(splits.labeled)
        trained = task.teacher().fit(labeled, data.labels[splits.labeled], seed, data.n_classes)
        return {
            "pool_probs": trained.predict_proba(data.teacher_inputs.take(splits.pool)),
            "test_probs": trained.predict_proba(data.teacher_inputs.take(splits.test)),
        }

    arrays = cache.load_or_compute("weak", _key(task, data, seed, "weak"), compute)
    test_probs = arrays["test_probs"]
    return WeakArtifacts(
        arrays["pool_probs"], test_probs, accuracy(test_probs, data.labels[splits.test])
    )


def ceiling_accuracy(
    task: Task, data: TaskData, splits: Splits, seed: int, cache: ArtifactCache
) -> float:
    def compute() -> dict[str, np.ndarray]:
        student = task.student(data.n_classes)
        targets = one_hot(data.labels[splits.pool], data.n_classes)
        trained = student.fit(data.student_inputs.take(splits.pool), targets, seed=seed)
        return {"test_probs": trained.predict_proba(data.student_inputs.take(splits.test))}

    arrays = cache.load_or_compute("ceiling", _key(task, data, seed, "ceiling"), compute)
    return accuracy(arrays["test_probs"], data.labels[splits.test])
