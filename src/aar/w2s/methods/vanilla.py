"""``vanilla``: train the student on the teacher's hard labels (naive transfer; Burns 2023)."""

from __future__ import annotations

import numpy as np

from aar.w2s.methods.base import METHODS, Method, MethodContext
from aar.w2s.methods.common import hard_labels


@METHODS.register("vanilla")
class Vanilla(Method):
    """The baseline every other method is compared with."""

    name = "vanilla"

    def run(self, ctx: MethodContext) -> np.ndarray:
        return ctx.train_on(hard_labels(ctx.pool_weak)).predict_proba(ctx.test)
