"""``bootstrap``: strong-to-strong relabelling by cross-fitting.

The pool is cut into ``folds``; for each fold a fresh student trains on the other folds'
current labels and relabels the held-out fold, so no example is relabelled by a model that
saw its own (possibly wrong) weak label. After ``rounds`` of this, a final student trains on
the whole relabelled pool. The student's prior, not its memory of the teacher's mistakes,
decides the new labels.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from aar.w2s.methods.base import METHODS, Method, MethodConfig, MethodContext
from aar.w2s.methods.common import hard_labels


class BootstrapConfig(MethodConfig):
    folds: int = Field(2, ge=2)
    rounds: int = Field(1, ge=1)
    soft: bool = Field(False, description="relabel with probabilities instead of argmax")


def fold_ids(n: int, folds: int, seed: int) -> np.ndarray:
    """A balanced, seeded fold number for each of n examples."""
    return np.random.default_rng(seed).permutation(np.arange(n) % folds)


def cross_fit(ctx: MethodContext, targets: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Out-of-fold student predictions on the pool."""
    fold = fold_ids(len(targets), folds, seed)
    relabelled = np.zeros_like(targets, dtype=np.float64)
    for k in range(folds):
        train, held_out = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
        trained = ctx.student.fit(ctx.pool.take(train), targets[train], seed=seed + k)
        relabelled[held_out] = trained.predict_proba(ctx.pool.take(held_out))
    return relabelled


@METHODS.register("bootstrap")
class Bootstrap(Method):
    name = "bootstrap"
    Config = BootstrapConfig
    config: BootstrapConfig

    def run(self, ctx: MethodContext) -> np.ndarray:
        targets = hard_labels(ctx.pool_weak)
        for round_ in range(self.config.rounds):
            probs = cross_fit(ctx, targets, self.config.folds, ctx.seed + 1000 * round_)
            targets = probs if self.config.soft else hard_labels(probs)
        return ctx.train_on(targets).predict_proba(ctx.test)
