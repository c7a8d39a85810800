"""``confident``: train only on the pool examples the teacher is most sure of.

Keeps the ``keep_fraction`` most confident examples, within each predicted class when
``per_class`` (so filtering does not shift the class balance the teacher predicts).
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from aar.w2s.methods.base import METHODS, Method, MethodConfig, MethodContext
from aar.w2s.methods.common import confidence, hard_labels


class ConfidentConfig(MethodConfig):
    keep_fraction: float = Field(0.5, gt=0, le=1)
    per_class: bool = True


def select_confident(probs: np.ndarray, keep_fraction: float, per_class: bool) -> np.ndarray:
    """Sorted indices of the kept rows (ties broken by position)."""
    score = confidence(probs)
    groups = [np.flatnonzero(probs.argmax(1) == k) for k in range(probs.shape[1])]
    if not per_class:
        groups = [np.arange(len(probs))]
    kept = []
    for members in groups:
        n_keep = round(keep_fraction * len(members))
        order = members[np.argsort(-score[members], kind="stable")]
        kept.append(order[:n_keep])
    return np.sort(np.concatenate(kept))


@METHODS.register("confident")
class Confident(Method):
    name = "confident"
    Config = ConfidentConfig
    config: ConfidentConfig

    def run(self, ctx: MethodContext) -> np.ndarray:
        keep = select_confident(ctx.pool_weak, self.config.keep_fraction, self.config.per_class)
        trained = ctx.student.fit(
            ctx.pool.take(keep), hard_labels(ctx.pool_weak[keep]), seed=ctx.seed
        )
        return trained.predict_proba(ctx.test)
