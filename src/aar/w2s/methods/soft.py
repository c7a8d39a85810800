"""``soft``: train on the teacher's probabilities rather than its argmax.

``temperature`` rescales the teacher's log-probabilities before training: below 1 sharpens
them toward hard labels, above 1 flattens them.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from aar.w2s.methods.base import METHODS, Method, MethodConfig, MethodContext


class SoftConfig(MethodConfig):
    temperature: float = Field(1.0, gt=0)


def tempered(probs: np.ndarray, temperature: float) -> np.ndarray:
    logits = np.log(np.clip(probs, 1e-12, 1.0)) / temperature
    logits -= logits.max(1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(1, keepdims=True)


@METHODS.register("soft")
class Soft(Method):
    name = "soft"
    Config = SoftConfig
    config: SoftConfig

    def run(self, ctx: MethodContext) -> np.ndarray:
        targets = tempered(ctx.pool_weak, self.config.temperature)
        return ctx.train_on(targets).predict_proba(ctx.test)
