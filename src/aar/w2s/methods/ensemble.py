"""``ensemble``: bagged students, optionally co-trained on their confident consensus.

``members`` students train on bootstrap resamples of the weak-labelled pool with different
seeds; their mean prediction is the ensemble's. With ``co_train`` the ensemble then relabels
the pool with its *out-of-bag* mean (each example judged by the members that did not draw
it) where that mean is most confident (top ``agree_fraction``), keeps the teacher's label
elsewhere, and one final student trains on that.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from aar.w2s.methods.base import METHODS, Method, MethodConfig, MethodContext
from aar.w2s.methods.common import confidence, hard_labels
from aar.w2s.students import TrainedStudent


class EnsembleConfig(MethodConfig):
    members: int = Field(5, ge=2)
    co_train: bool = True
    agree_fraction: float = Field(0.5, gt=0, le=1)


def bootstrap_weights(n: int, seed: int) -> np.ndarray:
    """How many times each example is drawn in a bootstrap resample of size n."""
    draws = np.random.default_rng(seed).integers(0, n, n)
    return np.bincount(draws, minlength=n).astype(np.float64)


def train_members(
    ctx: MethodContext, targets: np.ndarray, members: int
) -> list[tuple[TrainedStudent, np.ndarray]]:
    """Each member with the bootstrap weights it trained on."""
    out = []
    for seed in (ctx.seed * 1000 + m for m in range(members)):
        weights = bootstrap_weights(len(targets), seed)
        out.append((ctx.train_on(targets, seed=seed, weights=weights), weights))
    return out


def out_of_bag_mean(predictions: list[np.ndarray], weights: list[np.ndarray]) -> np.ndarray:
    """Per row, the mean over members that did not draw it (all members if every one did)."""
    stacked = np.stack(predictions)
    unseen = np.stack([w == 0 for w in weights]).astype(np.float64)
    counts = unseen.sum(0)
    oob = np.einsum("mn,mnc->nc", unseen, stacked) / np.maximum(counts, 1)[:, None]
    return np.where(counts[:, None] > 0, oob, stacked.mean(0))


def consensus_targets(weak: np.ndarray, ensemble: np.ndarray, agree_fraction: float) -> np.ndarray:
    """Ensemble labels on its most confident ``agree_fraction`` rows, weak labels elsewhere."""
    score = confidence(ensemble)
    n_agree = round(agree_fraction * len(score))
    agreed = np.argsort(-score, kind="stable")[:n_agree]
    targets = hard_labels(weak)
    targets[agreed] = hard_labels(ensemble[agreed])
    return targets


@METHODS.register("ensemble")
class Ensemble(Method):
    name = "ensemble"
    Config = EnsembleConfig
    config: EnsembleConfig

    def run(self, ctx: MethodContext) -> np.ndarray:
        members = train_members(ctx, hard_labels(ctx.pool_weak), self.config.members)
        if not self.config.co_train:
            return np.mean([m.predict_proba(ctx.test) for m, _ in members], axis=0)
        on_pool = out_of_bag_mean(
            [m.predict_proba(ctx.pool) for m, _ in members], [w for _, w in members]
        )
        targets = consensus_targets(ctx.pool_weak, on_pool, self.config.agree_fraction)
        return ctx.train_on(targets).predict_proba(ctx.test)
