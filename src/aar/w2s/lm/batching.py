"""Token ids for prompts, and batches of similar length (little padding, fixed order per seed).

    tokens = tokenize(tokenizer, texts, max_length=1024)
    for index in bucketed_batches(tokens.lengths, batch_size=16, generator=rng):
        batch = tokens.collate(index, device)

Prompts longer than ``max_length`` lose their *beginning*: the question and the answer cue
sit at the end. ``bucketed_batches`` shuffles, cuts the shuffled order into windows of
``window`` batches, sorts each window by length and shuffles the batches: every example once
per epoch, in random batches of near-equal length.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch


@dataclass(frozen=True, eq=False)
class Tokens:
    ids: list[list[int]]
    pad_id: int

    @property
    def lengths(self) -> np.ndarray:
        return np.asarray([len(row) for row in self.ids])

    def collate(
        self, index: Sequence[int] | np.ndarray, device: torch.device
    ) -> dict[str, torch.Tensor]:
        """Right-padded ``input_ids`` and ``attention_mask`` for the rows at ``index``."""
        rows = [self.ids[i] for i in index]
        width = max(len(row) for row in rows)
        input_ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for r, row in enumerate(rows):
            input_ids[r, : len(row)] = torch.tensor(row)
            mask[r, : len(row)] = 1
        return {"input_ids": input_ids.to(device), "attention_mask": mask.to(device)}


def tokenize(tokenizer: Any, texts: Sequence[str], max_length: int) -> Tokens:
    tokenizer.truncation_side = "left"
    encoded = tokenizer(
        list(texts), add_special_tokens=False, truncation=True, max_length=max_length
    )
    return Tokens(ids=[list(row) for row in encoded["input_ids"]], pad_id=tokenizer.pad_token_id)


def bucketed_batches(
    lengths: np.ndarray, batch_size: int, generator: np.random.Generator, window: int = 32
) -> list[np.ndarray]:
    """Every position once, in shuffled batches of similar length."""
    order = generator.permutation(len(lengths))
    batches = []
    span = batch_size * window
    for start in range(0, len(order), span):
        chunk = order[start : start + span]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    return [batches[i] for i in generator.permutation(len(batches))]


def sorted_batches(lengths: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
    """Positions by decreasing length, in batches (for inference: the largest batch first, so
    an out-of-memory error comes at once)."""
    order = np.argsort(-lengths, kind="stable")
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]
