"""The scoring rules, as pure functions over label vectors (no web, no database).

    mask = public_split(test_labels, fraction=0.5, seed=7)     # stratified, fixed per task
    public, private = half_accuracies(predictions, test_labels, mask)
    accuracy, pgr = shown_public(public, weak_public, ceiling_public, 0.01)   # what is shown

``nearest_row`` finds how many predictions a new submission flips relative to the
closest earlier one: a handful of flips is how the reference system's label oracle was read.
"""

from __future__ import annotations

import math

import numpy as np


def public_split(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of the public half: the same fraction of every class, seeded."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        mask[members[: round(fraction * len(members))]] = True
    return mask


def half_accuracies(
    predictions: np.ndarray, labels: np.ndarray, public: np.ndarray
) -> tuple[float, float]:
    correct = predictions == labels
    return float(correct[public].mean()), float(correct[~public].mean())


def pgr_value(accuracy: float, weak: float, ceiling: float) -> float:
    gap = ceiling - weak
    return (accuracy - weak) / gap if gap > 0 else math.nan


def round_to(value: float, resolution: float) -> float:
    """``value`` on the grid of ``resolution``, with the float noise of the grid removed."""
    if math.isnan(value):
        return value
    decimals = max(0, -math.floor(math.log10(resolution)) + 1)
    return round(round(value / resolution) * resolution, decimals)


def shown_public(
    accuracy: float, weak: float, ceiling: float, resolution: float
) -> tuple[float, float]:
    """The public accuracy and PGR a researcher is shown: both from the *rounded* accuracy.

    ``weak`` and ``ceiling`` are the task's mean public accuracies; they are rounded as
    ``TaskPublic`` publishes them, so the shown PGR is a function of the shown accuracy and
    carries nothing more about the labels (anyone can recompute it from the published
    numbers). Where the rounded weak and ceiling coincide, the exact gap is used instead.
    """
    shown = round_to(accuracy, resolution)
    low, high = round_to(weak, resolution), round_to(ceiling, resolution)
    if high <= low:
        low, high = weak, ceiling
    return shown, round_to(pgr_value(shown, low, high), resolution)


def whole_accuracy(public: float, private: float, n_public: int, n_private: int) -> float:
    """The accuracy on the whole test set, from the accuracies on its two halves."""
    return (public * n_public + private * n_private) / (n_public + n_private)


def nearest_row(new: np.ndarray, earlier: np.ndarray) -> tuple[int, int] | None:
    """(row, flipped predictions) of the row of ``earlier`` closest to ``new``; None if empty."""
    if len(earlier) == 0:
        return None
    distances = (earlier != new[None, :]).sum(axis=1)
    index = int(distances.argmin())
    return index, int(distances[index])


def to_bytes(labels: np.ndarray) -> bytes:
    return labels.astype(np.uint8).tobytes()


def from_bytes(raw: bytes) -> np.ndarray:
    return np.frombuffer(raw, dtype=np.uint8).astype(np.int64)
