"""The LM training loop: AdamW on the trainable (LoRA) weights, bf16 autocast on a GPU,
length-bucketed batches split into micro-batches, gradient clipping, warm-up then the
``TrainConfig`` schedule, and the best epoch kept when a validation score is given.

    history = train_scorer(scorer, tokens, targets, settings, seed=0)

The loss contract is the shared one (``aar.w2s.training.LossFn``): logits, target rows and
progress in [0, 1] in, one loss per example out; example weights are normalised over each
optimizer batch, exactly as in the CPU loop, so every method's loss works unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from aar.w2s.lm.batching import Tokens, bucketed_batches
from aar.w2s.training import History, LossFn, TrainConfig, soft_cross_entropy


@dataclass(frozen=True)
class LoopSettings:
    train: TrainConfig
    micro_batch_size: int
    warmup_fraction: float
    max_grad_norm: float


def autocast_for(device: torch.device, weights: torch.dtype) -> torch.autocast:
    """bf16/fp16 autocast when the weights are in half precision (GPU); a no-op otherwise."""
    enabled = weights in (torch.bfloat16, torch.float16)
    return torch.autocast(device.type, dtype=weights, enabled=enabled)


def train_scorer(
    scorer: torch.nn.Module,
    tokens: Tokens,
    targets: np.ndarray,
    settings: LoopSettings,
    seed: int,
    weights: np.ndarray | None = None,
    loss: LossFn = soft_cross_entropy,
    validate: Callable[[], float] | None = None,
) -> History:
    """Train ``scorer``'s trainable parameters in place; returns per-epoch loss (and scores)."""
    device, half = _device_and_dtype(scorer)
    params = [p for p in scorer.parameters() if p.requires_grad]
    config = settings.train
    optimizer = torch.optim.AdamW(
        params, lr=config.lr, weight_decay=config.weight_decay, fused=device.type == "cuda"
    )
    n = len(targets)
    total = config.epochs * math.ceil(n / config.batch_size)
    schedule = _schedule(optimizer, config, settings.warmup_fraction, total)
    target_t = torch.as_tensor(targets, dtype=torch.float32, device=device)
    weight_t = torch.as_tensor(
        np.ones(n) if weights is None else weights, dtype=torch.float32, device=device
    )
    generator = np.random.default_rng(seed)
    history, best, step = History(), None, 0
    for _ in range(config.epochs):
        scorer.train()
        epoch_loss = 0.0
        for index in bucketed_batches(tokens.lengths, config.batch_size, generator):
            batch_weight = weight_t[index].sum().clamp_min(1e-12)
            step_loss = 0.0
            for start in range(0, len(index), settings.micro_batch_size):
                micro = index[start : start + settings.micro_batch_size]
                with autocast_for(device, half):
                    logits = scorer(tokens.collate(micro, device))
                per_example = loss(logits.float(), target_t[micro], step / total)
                part = (per_example * weight_t[micro]).sum() / batch_weight
                if config.l2:
                    part = part + 0.5 * config.l2 * _squared(params) * len(micro) / len(index)
                part.backward()  # type: ignore[no-untyped-call]
                step_loss += part.item()
            torch.nn.utils.clip_grad_norm_(params, settings.max_grad_norm)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            schedule.step()
            step += 1
            epoch_loss += step_loss * len(index)
        history.train_loss.append(epoch_loss / n)
        if validate is not None:
            best = _track_best(scorer, validate, history, best)
    if best is not None:
        scorer.load_state_dict(best, strict=False)
    scorer.eval()
    return history


def _track_best(
    scorer: torch.nn.Module,
    validate: Callable[[], float],
    history: History,
    best: dict[str, torch.Tensor] | None,
) -> dict[str, torch.Tensor] | None:
    scorer.eval()
    score = validate()
    history.validation.append(score)
    if history.best_epoch is None or score > history.validation[history.best_epoch]:
        history.best_epoch = len(history.validation) - 1
        return {k: v.detach().clone() for k, v in scorer.named_parameters() if v.requires_grad}
    return best


def _device_and_dtype(scorer: torch.nn.Module) -> tuple[torch.device, torch.dtype]:
    frozen = next((p for p in scorer.parameters() if not p.requires_grad), None)
    reference = frozen if frozen is not None else next(scorer.parameters())
    return reference.device, reference.dtype


def _squared(params: Sequence[torch.Tensor]) -> torch.Tensor:
    return torch.stack([p.float().pow(2).sum() for p in params if p.ndim > 1]).sum()


def _schedule(
    optimizer: torch.optim.Optimizer, config: TrainConfig, warmup_fraction: float, total: int
) -> torch.optim.lr_scheduler.LRScheduler:
    warmup = int(warmup_fraction * total)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        if config.lr_schedule == "constant":
            return 1.0
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
