"""Batched label-token scoring: class probabilities for many prompts at once.

    probs = score_hf(scorer, tokens, batch_size=64)                  # transformers
    probs = VllmScorer.shared(model_path, lora_rank).score(texts, label_ids, adapter_dir)

The transformers path runs the same ``LabelTokenScorer`` as training, longest prompts first,
under bf16 autocast on a GPU. The vLLM path (``pip install vllm``; a GPU) serves the base
model once per process with LoRA enabled and asks each prompt for one token restricted to the
two label tokens, with ``logprobs_mode="processed_logprobs"`` so the returned log-probabilities
are those of the two-way choice. Both give softmax over the two label-token logits.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from aar.core.errors import ConfigError, MissingDependencyError
from aar.w2s.lm.batching import Tokens, sorted_batches
from aar.w2s.lm.loop import autocast_for


class InferenceConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    backend: Literal["hf", "vllm"] = Field("hf", description="vllm needs the vllm package")
    batch_size: int = Field(32, ge=1, description="prompts per forward pass (hf backend)")
    vllm_memory_fraction: float = Field(
        0.35, gt=0, le=0.95, description="GPU memory vLLM may take (training shares the card)"
    )


@torch.no_grad()
def score_hf(scorer: torch.nn.Module, tokens: Tokens, batch_size: int) -> np.ndarray:
    """Softmax over the scorer's class logits for every row of ``tokens``, in input order."""
    scorer.eval()
    first = next(scorer.parameters())
    frozen = next((p for p in scorer.parameters() if not p.requires_grad), first)
    out = np.zeros((len(tokens.ids), 0))
    for index in sorted_batches(tokens.lengths, batch_size):
        with autocast_for(first.device, frozen.dtype):
            logits = scorer(tokens.collate(index, first.device))
        probs = torch.softmax(logits.float(), dim=-1).cpu().numpy().astype(np.float64)
        if out.shape[1] == 0:
            out = np.zeros((len(tokens.ids), probs.shape[1]))
        out[index] = probs
    return out


class VllmScorer:
    """One vLLM engine per (base model, max LoRA rank) in this process."""

    _engines: ClassVar[dict[tuple[str, int], VllmScorer]] = {}

    def __init__(self, model_path: str, max_lora_rank: int, memory_fraction: float) -> None:
        try:
            from vllm import LLM
        except ImportError:
            raise MissingDependencyError("vllm", "vllm", "the vLLM inference backend") from None
        self.engine = LLM(
            model=model_path,
            enable_lora=True,
            max_lora_rank=max_lora_rank,
            gpu_memory_utilization=memory_fraction,
            logprobs_mode="processed_logprobs",
        )
        self._adapters: dict[str, int] = {}

    @classmethod
    def shared(cls, model_path: str, max_lora_rank: int, memory_fraction: float) -> VllmScorer:
        key = (model_path, max_lora_rank)
        if key not in cls._engines:
            cls._engines[key] = cls(model_path, max_lora_rank, memory_fraction)
        return cls._engines[key]

    def score(self, texts: Sequence[str], label_ids: list[int], adapter: Path) -> np.ndarray:
        from vllm import SamplingParams
        from vllm.lora.request import LoRARequest

        number = self._adapters.setdefault(str(adapter), len(self._adapters) + 1)
        params = SamplingParams(
            max_tokens=1, temperature=0.0, logprobs=len(label_ids), allowed_token_ids=label_ids
        )
        request = LoRARequest(f"adapter-{number}", number, str(adapter))
        outputs = self.engine.generate(list(texts), params, lora_request=request, use_tqdm=False)
        return np.asarray([_label_probs(out, label_ids) for out in outputs])


def _label_probs(output: Any, label_ids: list[int]) -> list[float]:
    logprobs = output.outputs[0].logprobs[0]
    missing = [i for i in label_ids if i not in logprobs]
    if missing:
        raise ConfigError(f"vLLM returned no log-probability for label tokens {missing}")
    values = np.asarray([logprobs[i].logprob for i in label_ids], dtype=np.float64)
    values = np.exp(values - values.max())
    return list(values / values.sum())
