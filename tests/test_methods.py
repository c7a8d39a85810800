"""Each method's core computation against a hand-worked or reference result."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict
from sklearn.preprocessing import StandardScaler

from aar.core.errors import ConfigError, UnknownNameError
from aar.w2s.methods import METHODS, build_method
from aar.w2s.methods.aux_conf import aux_confidence_loss, harden, ramp
from aar.w2s.methods.base import MethodContext, PredictionError, as_labels
from aar.w2s.methods.bootstrap import cross_fit, fold_ids
from aar.w2s.methods.common import hard_labels
from aar.w2s.methods.confident import select_confident
from aar.w2s.methods.ensemble import bootstrap_weights, consensus_targets, out_of_bag_mean
from aar.w2s.methods.probe import knn_relabel, logistic_relabel
from aar.w2s.methods.soft import tempered
from tests.conftest import MemorisingStudent, context_with

EXPECTED = {
    "vanilla",
    "soft",
    "confident",
    "aux_conf",
    "bootstrap",
    "probe",
    "early_stop",
    "ensemble",
}


def test_library_has_every_required_method() -> None:
    assert set(METHODS.names()) >= EXPECTED


def test_build_method_errors_name_the_problem() -> None:
    with pytest.raises(UnknownNameError, match=r"valid methods: .*vanilla"):
        build_method("nope")
    with pytest.raises(
        ConfigError,
        match="method confident: unknown option 'keep'; known options: keep_fraction, per_class",
    ):
        build_method("confident", {"keep": 0.2})
    with pytest.raises(ConfigError, match="option 'keep_fraction'"):
        build_method("confident", {"keep_fraction": 2})


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_method_runs_on_a_real_toy_context(name: str, toy_context: MethodContext) -> None:
    predictions = build_method(name).run(toy_context)
    labels = as_labels(predictions, len(toy_context.test), 2, name)
    assert set(np.unique(labels)) <= {0, 1}


def test_vanilla_is_the_student_trained_on_hard_weak_labels(toy_context: MethodContext) -> None:
    ours = build_method("vanilla").run(toy_context)
    reference = toy_context.student.fit(
        toy_context.pool, hard_labels(toy_context.pool_weak), seed=toy_context.seed
    ).predict_proba(toy_context.test)
    assert np.allclose(ours, reference)


def test_hard_labels() -> None:
    assert hard_labels(np.array([[0.4, 0.6], [0.9, 0.1]])).tolist() == [[0, 1], [1, 0]]


def test_tempered_by_hand() -> None:
    probs = np.array([[0.8, 0.2]])
    assert np.allclose(tempered(probs, 1.0), probs)
    assert np.allclose(tempered(probs, 0.5), [[0.64 / 0.68, 0.04 / 0.68]])
    assert np.allclose(tempered(probs, 1e6), [[0.5, 0.5]], atol=1e-5)


def test_confident_filter_keeps_the_most_confident_per_class() -> None:
    probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.45, 0.55], [0.7, 0.3], [0.05, 0.95]])
    # class 0 rows 0, 1, 4 (conf .4, .1, .2); class 1 rows 2, 3, 5 (conf .3, .05, .45)
    assert select_confident(probs, 2 / 3, per_class=True).tolist() == [0, 2, 4, 5]
    assert select_confident(probs, 0.5, per_class=False).tolist() == [0, 2, 5]


def test_confident_trains_only_on_kept_rows() -> None:
    student = MemorisingStudent()
    pool = np.arange(8, dtype=np.float32).reshape(4, 2)
    weak = np.array([[0.9, 0.1], [0.55, 0.45], [0.3, 0.7], [0.48, 0.52]])
    build_method("confident", {"keep_fraction": 0.5}).run(context_with(student, pool, weak, pool))
    assert student.fits[0]["inputs"].tolist() == pool[[0, 2]].tolist()


def test_aux_conf_ramp_really_ramps() -> None:
    assert [ramp(p, 0.75, 0.2) for p in (0.0, 0.1, 0.2, 0.5, 1.0)] == pytest.approx(
        [0.0, 0.375, 0.75, 0.75, 0.75]
    )
    assert ramp(0.0, 0.75, 0.0) == 0.75


def test_harden_matches_the_weak_positive_rate() -> None:
    probs = torch.tensor([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.2, 0.8]])
    weak = torch.tensor([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])  # 25% positive
    assert harden(probs, weak).tolist() == [[1, 0], [1, 0], [1, 0], [0, 1]]


def test_aux_conf_loss_by_hand() -> None:
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    weak = torch.tensor([[0.0, 1.0], [1.0, 0.0]])  # the teacher disagrees with the student
    loss = aux_confidence_loss(alpha=0.5, warmup_fraction=0.5)
    # at progress 0.25, α = 0.25; student hardened to [1,0] and [0,1] (50% positive)
    targets = 0.75 * weak + 0.25 * torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    log_p = torch.log_softmax(logits, dim=-1)
    expected = -(targets * log_p).sum(1)
    assert torch.allclose(loss(logits, weak, 0.25), expected)
    assert torch.allclose(loss(logits, weak, 0.0), -(weak * log_p).sum(1))


def test_bootstrap_relabels_each_example_without_its_own_label() -> None:
    assert np.bincount(fold_ids(10, 3, seed=0)).tolist() == [4, 3, 3]
    student = MemorisingStudent()
    pool = np.arange(20, dtype=np.float32).reshape(10, 2)
    weak = hard_labels(np.random.default_rng(0).random((10, 2)))
    relabelled = cross_fit(context_with(student, pool, weak, pool), weak, folds=2, seed=0)
    # a memoriser that never saw a row can only answer "uniform": no label leaked into its fold
    assert np.allclose(relabelled, 0.5)
    assert len(student.fits) == 2


def test_knn_relabel_by_hand() -> None:
    features = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9], [0.95, 0.05]])
    weak = np.eye(2)[[0, 1, 1, 1, 0]]
    relabelled = knn_relabel(features, weak, k=2)
    # row 1's two nearest others are rows 4 and 0 (both class 0): its wrong label is outvoted
    assert relabelled[1].tolist() == [1.0, 0.0]
    assert relabelled[2].tolist() == [0.0, 1.0]
    assert relabelled[0].tolist() == [0.5, 0.5]  # neighbours 4 (class 0) and 1 (class 1)


def test_logistic_relabel_is_sklearn_cross_val_predict() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(60, 3))
    weak = np.eye(2)[(x[:, 0] > 0).astype(int)]
    ours = logistic_relabel(x, weak, c=0.5, folds=3, seed=0)
    ref = cross_val_predict(
        LogisticRegression(C=0.5, max_iter=5000, random_state=0),
        StandardScaler().fit_transform(x),
        weak.argmax(1),
        cv=3,
        method="predict_proba",
    )
    assert np.allclose(ours, ref)


def test_logistic_relabel_keeps_a_one_class_teacher_as_it_is() -> None:
    x = np.random.default_rng(2).normal(size=(30, 3))
    weak = np.tile([0.8, 0.2], (30, 1))
    np.testing.assert_array_equal(logistic_relabel(x, weak, c=0.5, folds=5, seed=0), weak)
    weak[:3] = [0.1, 0.9]  # three of one class: three folds, not five
    assert logistic_relabel(x, weak, c=0.5, folds=5, seed=0).shape == (30, 2)


def test_early_stop_validates_on_held_out_weak_labels_only() -> None:
    student = MemorisingStudent()
    pool = np.arange(20, dtype=np.float32).reshape(10, 2)
    weak = hard_labels(np.random.default_rng(0).random((10, 2)))
    build_method("early_stop", {"validation_fraction": 0.3}).run(
        context_with(student, pool, weak, pool)
    )
    fit = student.fits[0]
    validation = fit["validation"]
    assert len(validation.targets) == 3
    assert len(fit["inputs"]) == 7
    trained_rows = {r.tobytes() for r in fit["inputs"]}
    assert not any(r.tobytes() in trained_rows for r in validation.inputs.array)
    by_row = {r.tobytes(): w for r, w in zip(pool, weak, strict=True)}
    assert all(
        np.array_equal(by_row[r.tobytes()], t)
        for r, t in zip(validation.inputs.array, validation.targets, strict=True)
    )
    assert fit["train"].epochs == 2 * student.train.epochs


def test_ensemble_pieces_by_hand() -> None:
    w = bootstrap_weights(50, seed=3)
    assert w.sum() == 50
    assert (w == 0).any()
    predictions = [np.array([[1.0, 0.0], [0.2, 0.8]]), np.array([[0.0, 1.0], [0.4, 0.6]])]
    weights = [np.array([0.0, 1.0]), np.array([2.0, 1.0])]
    # row 0: only member 0 left it out → [1, 0]; row 1: every member drew it → mean of all
    assert np.allclose(out_of_bag_mean(predictions, weights), [[1.0, 0.0], [0.3, 0.7]])
    weak = np.eye(2)[[0, 0, 1]]
    ensemble = np.array([[0.1, 0.9], [0.45, 0.55], [0.8, 0.2]])
    assert consensus_targets(weak, ensemble, 2 / 3).tolist() == [[0, 1], [1, 0], [1, 0]]


def test_prediction_shape_errors_are_clear() -> None:
    with pytest.raises(PredictionError, match="returned 2 predictions for 3 test examples"):
        as_labels(np.array([0, 1]), 3, 2, "mine")
    with pytest.raises(PredictionError, match="shape"):
        as_labels(np.zeros((3, 5)), 3, 2, "mine")
    with pytest.raises(PredictionError, match=r"outside 0\.\.1"):
        as_labels(np.array([0, 2, 1]), 3, 2, "mine")
    assert as_labels(np.array([[0.2, 0.8]]), 1, 2, "mine").tolist() == [1]
