"""The fixed points of PGR for one seed, and the gold-only reference; all cached.

    weak = weak_artifacts(task, data, splits, seed, cache)   # soft labels + weak accuracy
    ceiling = ceiling_accuracy(task, data, splits, seed, cache)
    reference = gold_only_probs(task, data, splits, seed, cache)

The teacher trains on the labeled split and labels the pool and the test set; the ceiling is
the strong student trained on the pool's gold labels. The gold-only reference is the strong
student trained on the labeled split's gold labels alone (the labels the teacher learns
from, which methods see too): a weak-to-strong recipe that does not beat it gains nothing
from the pool. All are cached by (task config hash, data, split digest, seed, code version),
so methods compared later reuse the same baselines and the artifacts of one split (a public
one, a verification one) never stand in for another's.
"""

from __future__ import annotations

import hashlib
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


def splits_digest(splits: Splits) -> str:
    """A short digest of the split, so artifacts of one split are never reused for another."""
    digest = hashlib.sha256()
    for part in (splits.labeled, splits.pool, splits.test):
        digest.update(np.asarray(part, dtype=np.int64).tobytes() + b"|")
    return digest.hexdigest()[:16]


def _key(task: Task, data: TaskData, splits: Splits, seed: int, part: str) -> dict[str, object]:
    return {
        "task": task.config_hash,
        "data": data.fingerprint,
        "splits": splits_digest(splits),
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

    arrays = cache.load_or_compute("weak", _key(task, data, splits, seed, "weak"), compute)
    test_probs = arrays["test_probs"]
    return WeakArtifacts(
        arrays["pool_probs"], test_probs, accuracy(test_probs, data.labels[splits.test])
    )


def ceiling_probs(
    task: Task, data: TaskData, splits: Splits, seed: int, cache: ArtifactCache
) -> np.ndarray:
    """The ceiling's class probabilities on the test set (student trained on pool gold labels)."""

    def compute() -> dict[str, np.ndarray]:
        student = task.student(data.n_classes)
        targets = one_hot(data.labels[splits.pool], data.n_classes)
        trained = student.fit(data.student_inputs.take(splits.pool), targets, seed=seed)
        return {"test_probs": trained.predict_proba(data.student_inputs.take(splits.test))}

    key = _key(task, data, splits, seed, "ceiling")
    return cache.load_or_compute("ceiling", key, compute)["test_probs"]


def gold_only_probs(
    task: Task, data: TaskData, splits: Splits, seed: int, cache: ArtifactCache
) -> np.ndarray:
    """Class probabilities on the test set of the student trained on the labeled gold labels."""

    def compute() -> dict[str, np.ndarray]:
        student = task.student(data.n_classes)
        targets = one_hot(data.labels[splits.labeled], data.n_classes)
        trained = student.fit(data.student_inputs.take(splits.labeled), targets, seed=seed)
        return {"test_probs": trained.predict_proba(data.student_inputs.take(splits.test))}

    key = _key(task, data, splits, seed, "gold_only")
    return cache.load_or_compute("gold_only", key, compute)["test_probs"]


def ceiling_accuracy(
    task: Task, data: TaskData, splits: Splits, seed: int, cache: ArtifactCache
) -> float:
    return accuracy(ceiling_probs(task, data, splits, seed, cache), data.labels[splits.test])
