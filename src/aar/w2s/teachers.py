"""Weak teachers: small models trained on the labeled set that label the unlabeled pool.

    trained = LogisticTeacher(LogisticConfig(c=0.1)).fit(inputs, labels, seed=0)
    soft_labels = trained.predict_proba(pool_inputs)

Two kinds: logistic regression on feature vectors (``logistic``) and TF-IDF n-grams with
logistic regression on raw text (``tfidf``), both from scikit-learn.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from aar.w2s.data import Features, Inputs, Texts


class TrainedTeacher(ABC):
    """A teacher after training on the labeled set."""

    @abstractmethod
    def predict_proba(self, inputs: Inputs) -> np.ndarray:
        """Class probabilities, one row per example."""


class PipelineTeacher(TrainedTeacher):
    """A fitted scikit-learn pipeline and how to feed it."""

    def __init__(self, pipeline: Pipeline, n_classes: int) -> None:
        self.pipeline, self.n_classes = pipeline, n_classes

    def predict_proba(self, inputs: Inputs) -> np.ndarray:
        probs = np.zeros((len(inputs), self.n_classes))
        seen = self.pipeline.classes_
        probs[:, seen] = self.pipeline.predict_proba(_raw(inputs))
        return probs


class Teacher(ABC):
    @abstractmethod
    def fit(self, inputs: Inputs, labels: np.ndarray, seed: int, n_classes: int) -> TrainedTeacher:
        """Train on the labeled set."""


class LogisticConfig(BaseModel):
    """Logistic regression (inverse regularization ``c``) on standardized features."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["logistic"] = "logistic"
    c: float = Field(0.1, gt=0)


class TfidfConfig(BaseModel):
    """TF-IDF of word n-grams, then logistic regression."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["tfidf"] = "tfidf"
    c: float = Field(1.0, gt=0)
    max_ngram: int = Field(2, ge=1, le=3)
    min_df: int = Field(1, ge=1)


TeacherConfig = LogisticConfig | TfidfConfig


class LogisticTeacher(Teacher):
    def __init__(self, config: LogisticConfig) -> None:
        self.config = config

    def fit(self, inputs: Inputs, labels: np.ndarray, seed: int, n_classes: int) -> TrainedTeacher:
        model = LogisticRegression(C=self.config.c, max_iter=5000, random_state=seed)
        pipeline = make_pipeline(StandardScaler(), model)
        pipeline.fit(_raw(inputs), labels)
        return PipelineTeacher(pipeline, n_classes)


class TfidfTeacher(Teacher):
    def __init__(self, config: TfidfConfig) -> None:
        self.config = config

    def fit(self, inputs: Inputs, labels: np.ndarray, seed: int, n_classes: int) -> TrainedTeacher:
        vectorizer = TfidfVectorizer(
            ngram_range=(1, self.config.max_ngram), min_df=self.config.min_df, sublinear_tf=True
        )
        model = LogisticRegression(C=self.config.c, max_iter=5000, random_state=seed)
        pipeline = make_pipeline(vectorizer, model)
        pipeline.fit(_raw(inputs), labels)
        return PipelineTeacher(pipeline, n_classes)


def build_teacher(config: TeacherConfig) -> Teacher:
    if isinstance(config, LogisticConfig):
        return LogisticTeacher(config)
    return TfidfTeacher(config)


def _raw(inputs: Inputs) -> np.ndarray | list[str]:
    if isinstance(inputs, Features):
        return inputs.array
    if isinstance(inputs, Texts):
        return list(inputs.texts)
    raise TypeError(f"teachers read Features or Texts, not {type(inputs).__name__}")
