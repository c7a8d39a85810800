"""Examples, model inputs and splits of a weak-to-strong task.

A task's examples are one ``TaskData``: gold labels plus two *views* of the same examples,
what the strong student reads (``student_inputs``) and what the weak teacher reads
(``teacher_inputs``). ``Splits`` are index arrays into it; ``make_splits`` draws them
deterministically from a seed.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from aar.core.errors import ConfigError


class Inputs(ABC):
    """What a model reads for a set of examples; indexable by an array of positions."""

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def take(self, index: np.ndarray) -> Inputs:
        """The inputs at ``index``, in that order."""


@dataclass(frozen=True, eq=False)
class Features(Inputs):
    """Fixed-length vectors, one row per example (e.g. frozen encoder embeddings)."""

    array: np.ndarray

    def __len__(self) -> int:
        return len(self.array)

    def take(self, index: np.ndarray) -> Features:
        return Features(self.array[index])

    @property
    def dim(self) -> int:
        return int(self.array.shape[1])


@dataclass(frozen=True, eq=False)
class Texts(Inputs):
    """Raw strings, one per example (for models that tokenize themselves)."""

    texts: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.texts)

    def take(self, index: np.ndarray) -> Texts:
        return Texts(tuple(self.texts[i] for i in index))


@dataclass(frozen=True, eq=False)
class TaskData:
    """Every example of a task: gold labels and the student's and teacher's views."""

    labels: np.ndarray
    student_inputs: Inputs
    teacher_inputs: Inputs
    n_classes: int
    groups: np.ndarray | None = None
    """Examples sharing a group id always land in the same split (e.g. the same city)."""
    fingerprint: str = ""
    """A digest of the examples, so cached results never outlive a change in the data."""
    subsets: np.ndarray | None = None
    """Each example's subset (e.g. its source dataset), for per-subset accuracy."""
    fixed_splits: Splits | None = None
    """Splits the data come with (the reference layout's files); every seed uses them."""

    def __post_init__(self) -> None:
        n = len(self.labels)
        if len(self.student_inputs) != n or len(self.teacher_inputs) != n:
            raise ValueError("labels, student_inputs and teacher_inputs differ in length")
        if self.groups is not None and len(self.groups) != n:
            raise ValueError("groups and labels differ in length")
        if self.subsets is not None and len(self.subsets) != n:
            raise ValueError("subsets and labels differ in length")

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True, eq=False)
class Splits:
    """Disjoint index arrays: the teacher's labeled set, the unlabeled pool, the test set."""

    labeled: np.ndarray
    pool: np.ndarray
    test: np.ndarray


def make_splits(
    n_examples: int,
    n_labeled: int,
    n_test: int,
    seed: int,
    n_pool: int | None = None,
    groups: np.ndarray | None = None,
) -> Splits:
    """Shuffle examples (or whole groups) with ``seed`` and cut labeled | test | pool.

    The pool takes what is left, up to ``n_pool``. Raises ``ConfigError`` when the sizes ask
    for more examples than there are.
    """
    wanted = n_labeled + n_test + (n_pool or 0)
    if min(n_labeled, n_test) < 1 or (n_pool is not None and n_pool < 1):
        raise ConfigError("n_labeled, n_test and n_pool must be at least 1")
    if wanted >= n_examples:
        raise ConfigError(
            f"the task has {n_examples} examples but n_labeled={n_labeled} + n_test={n_test}"
            + (f" + n_pool={n_pool}" if n_pool else "")
            + " leaves no unlabeled pool"
        )
    rng = np.random.default_rng(seed)
    if groups is None:
        order = rng.permutation(n_examples)
        cuts = (n_labeled, n_labeled + n_test)
    else:
        order, cuts = _group_order(groups, rng, n_labeled, n_test)
    labeled, test, pool = order[: cuts[0]], order[cuts[0] : cuts[1]], order[cuts[1] :]
    if n_pool is not None:
        pool = pool[:n_pool]
    if len(pool) == 0:
        raise ConfigError("the splits leave no unlabeled pool: lower n_labeled or n_test")
    return Splits(np.sort(labeled), np.sort(pool), np.sort(test))


def _group_order(
    groups: np.ndarray, rng: np.random.Generator, n_labeled: int, n_test: int
) -> tuple[np.ndarray, tuple[int, int]]:
    """Shuffle whole groups; move each cut forward to the next group boundary."""
    _, inverse = np.unique(groups, return_inverse=True)
    group_rank = rng.permutation(inverse.max() + 1)[inverse]
    order = np.argsort(group_rank, kind="stable")
    ranks = group_rank[order]
    boundaries = np.flatnonzero(np.diff(ranks)) + 1  # first position of each new group
    edges = np.append(boundaries, len(order))
    first = int(edges[np.searchsorted(edges, n_labeled)])
    second = int(edges[np.searchsorted(edges, min(first + n_test, len(order)))])
    return order, (first, second)
