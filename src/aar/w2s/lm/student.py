"""``LMStudent``: a causal LM fine-tuned with LoRA to answer a prompt with one of two label tokens.

    config = LMConfig(model=ModelConfig(path="Qwen/Qwen3-4B-Base"))
    student = LMStudent(config, n_classes=2, label_words=(" No", " Yes"))
    trained = student.fit(Texts(prompts), targets, seed=0)       # fresh adapters every fit
    probs = trained.predict_proba(Texts(test_prompts))
    features = student.features(Texts(prompts))                  # pretrained last hidden state

It implements the library's ``Student`` interface, so every method (confident, aux_conf,
early_stop, ensembles, probes) runs on it unchanged. The weak teacher of the LM tasks is the
same class on the smaller model (``LMTeacher``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from aar.core.errors import ConfigError
from aar.w2s.data import Inputs, Texts
from aar.w2s.lm.batching import sorted_batches, tokenize
from aar.w2s.lm.inference import InferenceConfig, VllmScorer, score_hf
from aar.w2s.lm.loop import LoopSettings, autocast_for, train_scorer
from aar.w2s.lm.models import (
    LoraSettings,
    ModelConfig,
    add_lora,
    label_token_ids,
    load_model,
    load_tokenizer,
    pick_device,
)
from aar.w2s.lm.scoring import LabelTokenScorer, LinearHeadScorer, backbone_and_head, last_hidden
from aar.w2s.students import Student, TrainedStudent, Validation
from aar.w2s.training import History, LossFn, TrainConfig, soft_cross_entropy

LM_RECIPE = TrainConfig(epochs=2, batch_size=32, lr=1e-4, weight_decay=0.0)


class LMConfig(BaseModel):
    """A LoRA-tuned causal LM classifier."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["lm"] = "lm"
    model: ModelConfig
    lora: LoraSettings = LoraSettings()
    head: Literal["label_tokens", "linear"] = Field(
        "label_tokens", description="logits of the two label tokens, or a fresh linear head"
    )
    train: TrainConfig = LM_RECIPE
    micro_batch_size: int = Field(8, ge=1, description="examples per forward pass in training")
    warmup_fraction: float = Field(0.05, ge=0, lt=1)
    max_grad_norm: float = Field(1.0, gt=0)
    max_length: int = Field(1024, ge=8, description="tokens per prompt (the start is cut)")
    device: str = Field("auto", description="auto, cpu, cuda or cuda:N")
    inference: InferenceConfig = InferenceConfig()


class TrainedLM(TrainedStudent):
    """A trained scorer and what it needs to read text."""

    def __init__(self, student: LMStudent, scorer: LabelTokenScorer | LinearHeadScorer) -> None:
        self.student, self.scorer, self.history = student, scorer, History()

    def predict_proba(self, inputs: Inputs) -> np.ndarray:
        texts = _texts(inputs)
        config = self.student.config
        if config.inference.backend == "vllm":
            return self._vllm(texts)
        tokens = tokenize(self.student.tokenizer, texts, config.max_length)
        return score_hf(self.scorer, tokens, config.inference.batch_size)

    def _vllm(self, texts: tuple[str, ...]) -> np.ndarray:
        config = self.student.config
        if config.head != "label_tokens":
            raise ConfigError("the vllm backend scores label tokens; use head=label_tokens")
        engine = VllmScorer.shared(
            config.model.path, config.lora.r, config.inference.vllm_memory_fraction
        )
        with tempfile.TemporaryDirectory() as folder:
            self.scorer.model.save_pretrained(folder)  # the adapter only
            return engine.score(texts, self.student.label_ids, Path(folder))


class LMStudent(Student):
    def __init__(self, config: LMConfig, n_classes: int, label_words: tuple[str, ...]) -> None:
        if config.head == "label_tokens" and len(label_words) != n_classes:
            raise ConfigError(f"{n_classes} classes need {n_classes} label words")
        self.config, self.n_classes, self.train = config, n_classes, config.train
        self.device = pick_device(config.device)
        self.tokenizer = load_tokenizer(config.model)
        self.label_ids = label_token_ids(self.tokenizer, label_words)

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
    ) -> TrainedLM:
        torch.manual_seed(seed)
        scorer = self._fresh_scorer()
        trained = TrainedLM(self, scorer)
        tokens = tokenize(self.tokenizer, _texts(inputs), self.config.max_length)
        settings = LoopSettings(
            train=train or self.train,
            micro_batch_size=self.config.micro_batch_size,
            warmup_fraction=self.config.warmup_fraction,
            max_grad_norm=self.config.max_grad_norm,
        )
        validate = None
        if validation is not None:
            checked = validation

            def validate() -> float:
                return checked.agreement(trained.predict_proba(checked.inputs))

        trained.history = train_scorer(
            scorer, tokens, targets, settings, seed, weights, loss, validate
        )
        return trained

    def _fresh_scorer(self) -> LabelTokenScorer | LinearHeadScorer:
        base = load_model(self.config.model, self.device)
        model = add_lora(base, self.config.lora, self.config.model.gradient_checkpointing)
        if self.config.head == "linear":
            return LinearHeadScorer(model, self.n_classes)
        return LabelTokenScorer(model, self.label_ids)

    @torch.no_grad()
    def features(self, inputs: Inputs) -> np.ndarray:
        """The pretrained model's last hidden state at each prompt's last token (float32)."""
        model = load_model(self.config.model, self.device)
        decoder, _ = backbone_and_head(model)
        tokens = tokenize(self.tokenizer, _texts(inputs), self.config.max_length)
        out: np.ndarray | None = None
        for index in sorted_batches(tokens.lengths, self.config.inference.batch_size):
            with autocast_for(self.device, next(model.parameters()).dtype):
                hidden = last_hidden(decoder, tokens.collate(index, self.device)).float()
            if out is None:
                out = np.zeros((len(tokens.ids), hidden.shape[1]), dtype=np.float32)
            out[index] = hidden.cpu().numpy()
        return out if out is not None else np.zeros((0, 0), dtype=np.float32)


def _texts(inputs: Inputs) -> tuple[str, ...]:
    if not isinstance(inputs, Texts):
        raise TypeError(f"a language-model student reads Texts, not {type(inputs).__name__}")
    return inputs.texts
