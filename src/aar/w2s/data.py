"""Examples, model inputs and splits of a weak-to-strong task.

A task's examples are one ``TaskData``: gold labels plus two *views* of the same examples,
what the strong student reads (``student_inputs``) and what the weak teacher reads
(``teacher_inputs``). ``Splits`` are index arrays into it, all drawn deterministically from
seeds:

    sealed = draw_sealed(len(data), n_sealed, sealed_seed, data.groups)  # never published
    public = make_splits(len(data), n_labeled, n_test, seed, groups=data.groups, sealed=sealed)
    fresh = verification_split(public, sealed, seed=1001, groups=data.groups)

Where the data have groups (the statements about one city), every draw keeps a group whole.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
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
    """Examples sharing a group id (e.g. one city name) always land in the same part of a
    drawn split and of the sealed set."""
    fingerprint: str = ""
    """A digest of the examples, so cached results never outlive a change in the data."""
    subsets: np.ndarray | None = None
    """Each example's subset (e.g. its source dataset), for per-subset accuracy."""
    fixed_splits: Splits | None = None
    """Splits the data come with (the reference layout's files); every seed uses them."""
    sealed: np.ndarray | None = None
    """The sealed examples, when the data fix them (the reference layout); None: the task
    draws them (``draw_sealed``)."""

    def __post_init__(self) -> None:
        n = len(self.labels)
        if len(self.student_inputs) != n or len(self.teacher_inputs) != n:
            raise ValueError("labels, student_inputs and teacher_inputs differ in length")
        if self.groups is not None and len(self.groups) != n:
            raise ValueError("groups and labels differ in length")
        if self.subsets is not None and len(self.subsets) != n:
            raise ValueError("subsets and labels differ in length")
        fixed = self.fixed_splits
        if self.sealed is not None and fixed is not None:
            public = np.concatenate([fixed.labeled, fixed.pool, fixed.test])
            if np.intersect1d(self.sealed, public).size:
                raise ValueError("sealed examples appear in the fixed splits")

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True, eq=False)
class Splits:
    """Disjoint index arrays: the teacher's labeled set, the unlabeled pool, the test set."""

    labeled: np.ndarray
    pool: np.ndarray
    test: np.ndarray


def draw_sealed(
    n_examples: int, n_sealed: int, seed: int, groups: np.ndarray | None = None
) -> np.ndarray:
    """The ``n_sealed`` examples held back from every public split, drawn with ``seed``
    (whole groups: the count moves up to the next group boundary). Empty when ``n_sealed`` is 0;
    raises ``ConfigError`` when it would leave nothing public."""
    if n_sealed == 0:
        return np.empty(0, dtype=np.int64)
    if n_sealed >= n_examples:
        raise ConfigError(
            f"n_sealed={n_sealed}: the task has only {n_examples} examples to draw the sealed "
            "set from, and the public splits need some"
        )
    order, (cut,) = _shuffle(n_examples, groups, np.random.default_rng(seed), (n_sealed,))
    return np.sort(order[:cut])


def make_splits(
    n_examples: int,
    n_labeled: int,
    n_test: int,
    seed: int,
    n_pool: int | None = None,
    groups: np.ndarray | None = None,
    sealed: np.ndarray | None = None,
) -> Splits:
    """Shuffle examples (or whole groups) with ``seed`` and cut labeled | test | pool.

    The pool takes what is left, up to ``n_pool``. ``sealed`` examples are left out of all
    three. Raises ``ConfigError`` when the sizes ask for more examples than there are.
    """
    held = np.empty(0, dtype=np.int64) if sealed is None else np.asarray(sealed, dtype=np.int64)
    wanted = n_labeled + n_test + (n_pool or 0) + len(held)
    if min(n_labeled, n_test) < 1 or (n_pool is not None and n_pool < 1):
        raise ConfigError("n_labeled, n_test and n_pool must be at least 1")
    if wanted >= n_examples:
        raise ConfigError(
            f"the task has {n_examples} examples but n_labeled={n_labeled} + n_test={n_test}"
            + (f" + n_pool={n_pool}" if n_pool else "")
            + (f" + n_sealed={len(held)}" if len(held) else "")
            + " leaves no unlabeled pool"
        )
    candidates = np.setdiff1d(np.arange(n_examples), held)
    local = None if groups is None else groups[candidates]
    shuffled, cuts = _shuffle(
        len(candidates), local, np.random.default_rng(seed), (n_labeled, n_test)
    )
    order = candidates[shuffled]
    labeled, test, pool = order[: cuts[0]], order[cuts[0] : cuts[1]], order[cuts[1] :]
    if n_pool is not None:
        pool = pool[:n_pool]
    if len(pool) == 0:
        raise ConfigError("the splits leave no unlabeled pool: lower n_labeled or n_test")
    return Splits(np.sort(labeled), np.sort(pool), np.sort(test))


def verification_split(
    public: Splits, sealed: np.ndarray, seed: int, groups: np.ndarray | None = None
) -> Splits:
    """A fresh split for verifying on sealed data: the labeled set (as large as ``public``'s)
    and the pool redrawn with ``seed`` from the public labeled set and pool, the test set the
    ``sealed`` examples. The public test set is left out: a researcher may have probed its
    labels through the hub."""
    if len(sealed) == 0:
        raise ConfigError("verification needs a sealed set, and this split has none")
    candidates = np.sort(np.concatenate([public.labeled, public.pool]))
    local = None if groups is None else groups[candidates]
    rng = np.random.default_rng(seed)
    shuffled, (cut,) = _shuffle(len(candidates), local, rng, (len(public.labeled),))
    order = candidates[shuffled]
    if cut >= len(order):
        raise ConfigError("the verification split leaves no unlabeled pool")
    return Splits(np.sort(order[:cut]), np.sort(order[cut:]), np.sort(sealed))


def _shuffle(
    n: int, groups: np.ndarray | None, rng: np.random.Generator, sizes: Sequence[int]
) -> tuple[np.ndarray, list[int]]:
    """A shuffled order of range(n) and the end of each of the consecutive parts ``sizes``.

    With ``groups``, whole groups are shuffled and kept adjacent, and each end moves forward
    to the next group boundary.
    """
    if groups is None:
        return rng.permutation(n), [min(int(end), n) for end in np.cumsum(sizes)]
    _, inverse = np.unique(groups, return_inverse=True)
    group_rank = rng.permutation(inverse.max() + 1)[inverse]
    order = np.argsort(group_rank, kind="stable")
    ranks = group_rank[order]
    edges = np.append(np.flatnonzero(np.diff(ranks)) + 1, n)  # where each new group starts
    ends, end = [], 0
    for size in sizes:
        end = int(edges[np.searchsorted(edges, min(end + size, n))])
        ends.append(end)
    return order, ends
