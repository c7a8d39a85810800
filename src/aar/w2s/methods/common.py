"""Small computations several methods share."""

from __future__ import annotations

import numpy as np


def hard_labels(probs: np.ndarray) -> np.ndarray:
    """One-hot rows of each row's most probable class."""
    return np.eye(probs.shape[1])[probs.argmax(1)]


def confidence(probs: np.ndarray) -> np.ndarray:
    """How far each row's top probability is above chance (0 = undecided)."""
    return probs.max(1) - 1.0 / probs.shape[1]
