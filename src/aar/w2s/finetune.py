"""A student that fine-tunes the whole pretrained encoder (not just a head on frozen features).

    student = FinetuneStudent(FinetuneConfig(), n_classes=2)
    trained = student.fit(Texts(texts), targets, seed=0)

Each ``fit`` starts again from the pretrained weights (``from_pretrained``), adds a linear
head on the mean-pooled last layer and trains both with the shared loop. Much slower than a
head on cached embeddings on a CPU (minutes per run on the geofacts pool) and noisier; use
it on a GPU or with a small ``n_pool``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict

from aar.w2s.data import Inputs, Texts
from aar.w2s.encoders import EncoderConfig, TextEncoder, masked_mean
from aar.w2s.students import Student, TrainedStudent, Validation, validator_for
from aar.w2s.training import History, LossFn, TrainConfig, fit, predict_proba, soft_cross_entropy

FINETUNE_RECIPE = TrainConfig(epochs=2, batch_size=32, lr=3e-5, weight_decay=0.01)


class FinetuneConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["finetune"] = "finetune"
    encoder: EncoderConfig = EncoderConfig()
    train: TrainConfig = FINETUNE_RECIPE


class EncoderClassifier(torch.nn.Module):
    """Encoder → masked mean of the last layer → linear head."""

    def __init__(self, encoder: torch.nn.Module, hidden_size: int, n_classes: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = torch.nn.Linear(hidden_size, n_classes)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        states = self.encoder(**batch).last_hidden_state
        return self.head(masked_mean(states, batch["attention_mask"]))


class TrainedEncoder(TrainedStudent):
    def __init__(self, module: EncoderClassifier, encoder: TextEncoder) -> None:
        self.module, self.encoder, self.history = module, encoder, History()

    def predict_proba(self, inputs: Inputs) -> np.ndarray:
        texts = _texts(inputs)
        return predict_proba(
            self.module,
            lambda i: self.encoder.tokenize([texts[j] for j in i]),
            len(texts),
            batch_size=self.encoder.config.batch_size,
        )


class FinetuneStudent(Student):
    def __init__(self, config: FinetuneConfig, n_classes: int) -> None:
        self.config, self.n_classes, self.train = config, n_classes, config.train

    def features(self, inputs: Inputs) -> np.ndarray:
        layer = TextEncoder(self.config.encoder)
        return layer.mean_pooled(_texts(inputs), [layer.n_layers])[layer.n_layers]

    def fit(
        self,
        inputs: Inputs,
        targets: np.ndarray,
        *,
        seed: int,
        weights: np.ndarray | None = None,
        loss: LossFn = soft_cross_entropy,
        train: TrainConfig | None = None,
        validation: Validation | None = None,
    ) -> TrainedEncoder:
        texts = _texts(inputs)
        torch.manual_seed(seed)
        encoder = TextEncoder(self.config.encoder)
        module = EncoderClassifier(encoder.model, encoder.hidden_size, self.n_classes)
        trained = TrainedEncoder(module, encoder)
        trained.history = fit(
            module,
            lambda index: encoder.tokenize([texts[i] for i in index]),
            targets,
            train or self.train,
            seed=seed,
            weights=weights,
            loss=loss,
            validate=validator_for(trained, validation),
        )
        return trained


def _texts(inputs: Inputs) -> Sequence[str]:
    if not isinstance(inputs, Texts):
        raise TypeError(f"a fine-tuned encoder reads Texts, not {type(inputs).__name__}")
    return inputs.texts
