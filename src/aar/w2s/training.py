"""The training loop every student shares: minibatch AdamW on (soft) targets with a pluggable loss.

    history = fit(module, batch_inputs, targets, TrainConfig(), seed=0)
    probs = predict_proba(module, batch_inputs, n)

``batch_inputs(index)`` turns an array of example positions into what ``module`` takes, so
the same loop trains a head on cached embeddings and a whole encoder on token ids. A loss
gets the logits, the batch's target distributions and the training progress in [0, 1]
(losses that change over training, such as a warm-up, read it) and returns one loss per
example. With a ``validate`` callback the loop keeps the weights of the best epoch.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

LossFn = Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]
BatchInputs = Callable[[np.ndarray], Any]


class TrainConfig(BaseModel):
    """How a student is trained (the defaults suit a head on frozen embeddings)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    epochs: int = Field(10, ge=1)
    batch_size: int = Field(128, ge=1)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0, description="decoupled (AdamW) weight decay")
    l2: float = Field(0.0, ge=0, description="L2 penalty ½·l2·‖W‖² on weight matrices, in the loss")
    lr_schedule: str = Field("cosine", pattern="^(constant|cosine)$")


def soft_cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, progress: float
) -> torch.Tensor:
    """Cross-entropy against target distributions; one value per example."""
    del progress
    return -(targets * torch.log_softmax(logits, dim=-1)).sum(dim=-1)


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run a block with ``count`` intra-op threads, then restore the previous setting."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@dataclass
class History:
    """Per-epoch mean training loss and validation score; ``best_epoch`` when validated."""

    train_loss: list[float] = field(default_factory=list)
    validation: list[float] = field(default_factory=list)
    best_epoch: int | None = None


def fit(
    module: torch.nn.Module,
    batch_inputs: BatchInputs,
    targets: np.ndarray,
    config: TrainConfig,
    seed: int,
    weights: np.ndarray | None = None,
    loss: LossFn = soft_cross_entropy,
    validate: Callable[[torch.nn.Module], float] | None = None,
) -> History:
    """Train ``module`` in place on ``targets`` (n × classes); returns the loss history."""
    n = len(targets)
    target_t = torch.as_tensor(targets, dtype=torch.float32)
    weight_t = torch.ones(n) if weights is None else torch.as_tensor(weights, dtype=torch.float32)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(
        module.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    steps_per_epoch = math.ceil(n / config.batch_size)
    total = config.epochs * steps_per_epoch
    schedule = _schedule(optimizer, config, total)
    history, best_state, step = History(), None, 0
    for _ in range(config.epochs):
        module.train()
        order = torch.randperm(n, generator=generator).numpy()
        epoch_loss = 0.0
        for start in range(0, n, config.batch_size):
            index = order[start : start + config.batch_size]
            logits = module(batch_inputs(index))
            per_example = loss(logits, target_t[index], step / total)
            w = weight_t[index]
            batch_loss = (per_example * w).sum() / w.sum().clamp_min(1e-12)
            if config.l2:
                batch_loss = batch_loss + 0.5 * config.l2 * _squared_weights(module)
            optimizer.zero_grad()
            batch_loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            schedule.step()
            step += 1
            epoch_loss += batch_loss.item() * len(index)
        history.train_loss.append(epoch_loss / n)
        if validate is not None:
            module.eval()
            score = validate(module)
            history.validation.append(score)
            if history.best_epoch is None or score > history.validation[history.best_epoch]:
                history.best_epoch = len(history.validation) - 1
                best_state = copy.deepcopy(module.state_dict())
    if best_state is not None:
        module.load_state_dict(best_state)
    module.eval()
    return history


def _squared_weights(module: torch.nn.Module) -> torch.Tensor:
    return sum((p.pow(2).sum() for p in module.parameters() if p.ndim > 1), torch.tensor(0.0))


def _schedule(
    optimizer: torch.optim.Optimizer, config: TrainConfig, total: int
) -> torch.optim.lr_scheduler.LRScheduler:
    if config.lr_schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(total, 1))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)


@torch.no_grad()
def predict_proba(
    module: torch.nn.Module, batch_inputs: BatchInputs, n: int, batch_size: int = 1024
) -> np.ndarray:
    """Class probabilities for examples 0..n-1 (module in eval mode)."""
    module.eval()
    chunks = [
        torch.softmax(module(batch_inputs(np.arange(s, min(s + batch_size, n)))), dim=-1)
        for s in range(0, n, batch_size)
    ]
    return torch.cat(chunks).numpy().astype(np.float64) if chunks else np.zeros((0, 0))
