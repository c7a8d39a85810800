"""The shared training loop and the head student, against reference computations."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from aar.w2s.data import Features
from aar.w2s.students import HeadConfig, HeadStudent, Validation
from aar.w2s.training import TrainConfig, fit, soft_cross_entropy


def test_soft_cross_entropy_equals_torch_on_one_hot_and_soft_targets() -> None:
    logits = torch.tensor([[2.0, -1.0], [0.5, 0.5], [-3.0, 1.0]])
    labels = torch.tensor([0, 1, 1])
    one_hot = torch.nn.functional.one_hot(labels, 2).float()
    expected = torch.nn.functional.cross_entropy(logits, labels, reduction="none")
    assert torch.allclose(soft_cross_entropy(logits, one_hot, 0.0), expected)
    soft = torch.tensor([[0.7, 0.3], [0.5, 0.5], [0.1, 0.9]])
    assert torch.allclose(
        soft_cross_entropy(logits, soft, 0.0),
        torch.nn.functional.cross_entropy(logits, soft, reduction="none"),
    )


def test_fit_passes_progress_from_zero_toward_one() -> None:
    seen: list[float] = []

    def recording(logits: torch.Tensor, targets: torch.Tensor, progress: float) -> torch.Tensor:
        seen.append(progress)
        return soft_cross_entropy(logits, targets, progress)

    x = torch.randn(10, 3)
    fit(
        torch.nn.Linear(3, 2),
        lambda i: x[i],
        np.eye(2)[np.arange(10) % 2],
        TrainConfig(epochs=2, batch_size=5),
        seed=0,
        loss=recording,
    )
    assert seen == [0.0, 0.25, 0.5, 0.75]


def test_fit_keeps_best_validated_epoch() -> None:
    x = torch.randn(8, 3)
    scores = iter([0.5, 0.9, 0.7])
    snapshots = []

    def validate(module: torch.nn.Module) -> float:
        snapshots.append(module.weight.detach().clone())
        return next(scores)

    module = torch.nn.Linear(3, 2)
    history = fit(
        module,
        lambda i: x[i],
        np.eye(2)[np.arange(8) % 2],
        TrainConfig(epochs=3, lr=0.1, lr_schedule="constant"),
        seed=0,
        validate=validate,
    )
    assert history.best_epoch == 1
    assert history.validation == [0.5, 0.9, 0.7]
    assert torch.equal(module.weight, snapshots[1])
    assert not torch.equal(module.weight, snapshots[2])


def test_zero_weights_remove_examples() -> None:
    x = torch.tensor([[1.0], [1.0]])
    targets = np.array([[1.0, 0.0], [0.0, 1.0]])
    module = torch.nn.Linear(1, 2)
    fit(
        module,
        lambda i: x[i],
        targets,
        TrainConfig(epochs=50, lr=0.1),
        seed=0,
        weights=np.array([1.0, 0.0]),
    )
    assert module(x[:1]).argmax().item() == 0


def test_linear_head_matches_logistic_regression() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 5)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5, 0.0, 0.0]) + 0.5 * rng.normal(size=2000) > 0).astype(int)
    head = HeadStudent(HeadConfig(train=TrainConfig(epochs=30, lr=0.01)), n_classes=2)
    trained = head.fit(Features(x[:1500]), np.eye(2)[y[:1500]], seed=0)
    ours = trained.predict_proba(Features(x[1500:]))
    reference = LogisticRegression(C=1e4).fit(x[:1500], y[:1500]).predict_proba(x[1500:])
    assert np.mean(ours.argmax(1) == reference.argmax(1)) > 0.97
    accuracy = np.mean(ours.argmax(1) == y[1500:])
    assert accuracy == pytest.approx(np.mean(reference.argmax(1) == y[1500:]), abs=0.01)


def test_head_validation_agreement() -> None:
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    targets = np.eye(2)[[0, 0, 0]]
    assert Validation(Features(np.zeros((3, 1))), targets).agreement(probs) == pytest.approx(2 / 3)
