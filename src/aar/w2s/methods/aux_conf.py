"""``aux_conf``: the auxiliary confidence loss of Burns et al. (2023), with a real warm-up.

The target is a mix of the weak label and the student's own *hardened* prediction:

    target = (1 - α) · weak + α · harden(student)
    α(progress) = alpha · min(1, progress / warmup_fraction)

so the student is first taught by the teacher and then trusted more, linearly. (The
reference implementation jumps from ``progress`` to the full coefficient at the end of the
warm-up; here it ramps.) For two classes, hardening uses a threshold chosen in each batch so
the fraction predicted positive matches the weak labels' (Burns et al.'s adaptive
threshold); with more classes it is the argmax.
"""

from __future__ import annotations

import numpy as np
import torch
from pydantic import Field

from aar.w2s.methods.base import METHODS, Method, MethodConfig, MethodContext
from aar.w2s.methods.common import hard_labels
from aar.w2s.training import LossFn, soft_cross_entropy


class AuxConfConfig(MethodConfig):
    alpha: float = Field(0.75, ge=0, le=1, description="final weight of the student's own labels")
    warmup_fraction: float = Field(0.2, ge=0, le=1, description="share of training to ramp α")
    soft_weak: bool = Field(False, description="use the teacher's probabilities, not its argmax")


def ramp(progress: float, alpha: float, warmup_fraction: float) -> float:
    if warmup_fraction == 0:
        return alpha
    return alpha * min(1.0, progress / warmup_fraction)


def harden(probs: torch.Tensor, weak_targets: torch.Tensor) -> torch.Tensor:
    """One-hot student predictions; binary ones thresholded to the weak positive rate."""
    n_classes = probs.shape[1]
    if n_classes != 2:
        return torch.nn.functional.one_hot(probs.argmax(1), n_classes).float()
    positive_rate = float(weak_targets[:, 1].mean())
    threshold = torch.quantile(probs[:, 1], 1.0 - positive_rate)
    positive = (probs[:, 1] >= threshold).float()
    return torch.stack([1.0 - positive, positive], dim=1)


def aux_confidence_loss(alpha: float, warmup_fraction: float) -> LossFn:
    def loss(logits: torch.Tensor, targets: torch.Tensor, progress: float) -> torch.Tensor:
        coefficient = ramp(progress, alpha, warmup_fraction)
        own = harden(torch.softmax(logits.detach(), dim=-1), targets)
        mixed = (1.0 - coefficient) * targets + coefficient * own
        return soft_cross_entropy(logits, mixed, progress)

    return loss


@METHODS.register("aux_conf")
class AuxConf(Method):
    name = "aux_conf"
    Config = AuxConfConfig
    config: AuxConfConfig

    def run(self, ctx: MethodContext) -> np.ndarray:
        targets = ctx.pool_weak if self.config.soft_weak else hard_labels(ctx.pool_weak)
        loss = aux_confidence_loss(self.config.alpha, self.config.warmup_fraction)
        return ctx.train_on(targets, loss=loss).predict_proba(ctx.test)
