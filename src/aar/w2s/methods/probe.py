"""``probe``: relabel the pool with a probe on the student's own representation.

In the manner of EleutherAI's weak-to-strong experiments: the student's features already
organise the examples; a weak label that disagrees with its neighbours in that space is
likely wrong. ``kind="logistic"`` (the default) uses the out-of-fold predictions of a
logistic-regression probe trained on the weak labels; ``kind="knn"`` replaces each weak label
by the mean weak label of its ``k`` nearest pool neighbours (cosine similarity, itself
excluded; quadratic in the pool size). The student then trains on the relabelled pool. On
both text testbeds the logistic probe did better than kNN (kNN with k=25 or 100 lost to
vanilla; see benchmarks/RESULTS.md).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict
from sklearn.preprocessing import StandardScaler

from aar.w2s.methods.base import METHODS, Method, MethodConfig, MethodContext
from aar.w2s.methods.common import hard_labels


class ProbeConfig(MethodConfig):
    kind: Literal["knn", "logistic"] = "logistic"
    k: int = Field(25, ge=1, description="neighbours for kind=knn")
    c: float = Field(0.1, gt=0, description="inverse regularization for kind=logistic")
    folds: int = Field(5, ge=2, description="cross-fitting folds for kind=logistic")


def knn_relabel(features: np.ndarray, weak: np.ndarray, k: int, chunk: int = 1024) -> np.ndarray:
    """Mean of ``weak`` over each row's k most cosine-similar other rows."""
    unit = features / np.linalg.norm(features, axis=1, keepdims=True).clip(1e-12)
    k = min(k, len(features) - 1)
    out = np.empty_like(weak, dtype=np.float64)
    for start in range(0, len(unit), chunk):
        rows = np.arange(start, min(start + chunk, len(unit)))
        similarity = unit[rows] @ unit.T
        similarity[np.arange(len(rows)), rows] = -np.inf
        neighbours = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
        out[rows] = weak[neighbours].mean(axis=1)
    return out


def logistic_relabel(
    features: np.ndarray, weak: np.ndarray, c: float, folds: int, seed: int
) -> np.ndarray:
    _, counts = np.unique(weak.argmax(1), return_counts=True)
    if len(counts) < 2 or counts.min() < 2:
        # A teacher that (almost) always says one class leaves the probe nothing to learn.
        return weak.astype(np.float64)
    x = StandardScaler().fit_transform(features)
    probe = LogisticRegression(C=c, max_iter=5000, random_state=seed)
    cv = min(folds, int(counts.min()))
    probs = cross_val_predict(probe, x, weak.argmax(1), cv=cv, method="predict_proba")
    full = np.zeros_like(weak, dtype=np.float64)
    full[:, np.unique(weak.argmax(1))] = probs
    return full


@METHODS.register("probe")
class Probe(Method):
    name = "probe"
    Config = ProbeConfig
    config: ProbeConfig

    def run(self, ctx: MethodContext) -> np.ndarray:
        features = ctx.student.features(ctx.pool)
        c = self.config
        if c.kind == "knn":
            relabelled = knn_relabel(features, ctx.pool_weak, c.k)
        else:
            relabelled = logistic_relabel(features, ctx.pool_weak, c.c, c.folds, ctx.seed)
        return ctx.train_on(hard_labels(relabelled)).predict_proba(ctx.test)
