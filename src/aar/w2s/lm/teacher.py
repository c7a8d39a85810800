"""``LMTeacher``: the weak teacher of the LM tasks, a small causal LM fine-tuned with LoRA on the
labeled set's gold labels (the reference's Qwen1.5-0.5B-Chat). Same code as the student.

    trained = LMTeacher(config, label_words).fit(Texts(prompts), labels, seed=0, n_classes=2)
    soft_labels = trained.predict_proba(Texts(pool_prompts))
"""

from __future__ import annotations

import numpy as np

from aar.w2s.data import Inputs
from aar.w2s.lm.student import LMConfig, LMStudent, TrainedLM
from aar.w2s.teachers import Teacher, TrainedTeacher


class TrainedLMTeacher(TrainedTeacher):
    def __init__(self, trained: TrainedLM) -> None:
        self.trained = trained

    def predict_proba(self, inputs: Inputs) -> np.ndarray:
        return self.trained.predict_proba(inputs)


class LMTeacher(Teacher):
    def __init__(self, config: LMConfig, label_words: tuple[str, ...]) -> None:
        self.config, self.label_words = config, label_words

    def fit(self, inputs: Inputs, labels: np.ndarray, seed: int, n_classes: int) -> TrainedTeacher:
        student = LMStudent(self.config, n_classes, self.label_words)
        targets = np.eye(n_classes)[labels]
        return TrainedLMTeacher(student.fit(inputs, targets, seed=seed))
