"""``early_stop``: stop where the student agrees best with held-out *weak* labels.

A student trained long on weak labels drifts toward the teacher's mistakes. This method
holds out ``validation_fraction`` of the pool, trains on the rest for ``epochs`` epochs,
and keeps the epoch whose predictions agree best with the teacher on the held-out part.
Selection uses weak labels only; no gold label is involved.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from aar.w2s.methods.base import METHODS, Method, MethodConfig, MethodContext
from aar.w2s.methods.common import hard_labels
from aar.w2s.students import Validation


class EarlyStopConfig(MethodConfig):
    validation_fraction: float = Field(0.2, gt=0, lt=1)
    epochs: int | None = Field(None, ge=1, description="epochs to search (default: 2× the recipe)")


@METHODS.register("early_stop")
class EarlyStop(Method):
    name = "early_stop"
    Config = EarlyStopConfig
    config: EarlyStopConfig

    def run(self, ctx: MethodContext) -> np.ndarray:
        n = len(ctx.pool_weak)
        order = np.random.default_rng(ctx.seed).permutation(n)
        n_val = max(1, round(self.config.validation_fraction * n))
        val, train = np.sort(order[:n_val]), np.sort(order[n_val:])
        targets = hard_labels(ctx.pool_weak)
        recipe = ctx.student.train
        epochs = self.config.epochs or 2 * recipe.epochs
        trained = ctx.student.fit(
            ctx.pool.take(train),
            targets[train],
            seed=ctx.seed,
            train=recipe.model_copy(update={"epochs": epochs, "lr_schedule": "constant"}),
            validation=Validation(ctx.pool.take(val), targets[val]),
        )
        return trained.predict_proba(ctx.test)
