"""Sealed tasks (invisible to researchers) and the operator's per-seed evaluation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aar.hub.client import HubError
from aar.hub.scoring import half_accuracies, public_split, round_to
from tests.hubkit import noisy, running_hub, toy_task


def refusal(call) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    with pytest.raises(HubError) as error:
        call()
    return error.value.status, error.value.detail


def test_a_researcher_cannot_see_or_submit_to_a_sealed_task(tmp_path: Path) -> None:
    public_task, labels = toy_task()
    sealed_task, sealed_labels = toy_task("toy-sealed-s1", seed=1)
    with running_hub(tmp_path) as hub:
        hub.operator.register_task(public_task)
        registered = hub.operator.register_task(sealed_task.model_copy(update={"sealed": True}))
        assert registered.sealed
        alice = hub.researcher("alice")
        alice.submit("toy", noisy(labels, 0.2, 1), method="m")
        vector = noisy(sealed_labels, 0.2, 1)
        assert [t.name for t in alice.tasks()] == ["toy"]
        for name in ("toy-sealed-s1", "nope"):  # a sealed task answers as an unknown one
            expected = (404, f"unknown task {name!r}; tasks on this hub: toy")
            assert refusal(lambda n=name: alice.task(n)) == expected
            assert refusal(lambda n=name: alice.leaderboard(n)) == expected
            assert refusal(lambda n=name: alice.submit(n, vector, method="m")) == expected
            assert refusal(lambda n=name: alice.declare_final(n, 1)) == expected
        assert len(hub.operator.scorings()) == 1  # nothing stored for the sealed task

        assert [(t.name, t.sealed) for t in hub.operator.tasks()] == [
            ("toy", False),
            ("toy-sealed-s1", True),
        ]
        assert hub.operator.task("toy-sealed-s1").n_test == 400
        assert hub.operator.evaluate("toy-sealed-s1", vector).accuracy == pytest.approx(
            np.mean(np.array(vector) == sealed_labels)
        )
        assert hub.operator.leaderboard("toy-sealed-s1", view="private") == []
        assert refusal(lambda: hub.operator.task("nope"))[1] == (
            "unknown task 'nope'; tasks on this hub: toy, toy-sealed-s1"
        )


def _halves(task_labels: np.ndarray, predictions: list[int], split_seed: int) -> np.ndarray:
    mask = public_split(task_labels, 0.5, split_seed)
    return np.array(half_accuracies(np.array(predictions), task_labels, mask))


def test_per_seed_evaluation_uses_that_seeds_baselines(tmp_path: Path) -> None:
    task, labels = toy_task()
    predictions = noisy(labels, 0.2, seed=3)
    ours = _halves(labels, predictions, task.split_seed)
    weak = {s: _halves(labels, p, task.split_seed) for s, p in task.weak.items()}
    ceiling = {s: _halves(labels, p, task.split_seed) for s, p in task.ceiling.items()}
    n_public = int(public_split(labels, 0.5, task.split_seed).sum())
    shares = np.array([n_public, len(labels) - n_public]) / len(labels)
    with running_hub(tmp_path) as hub:
        hub.operator.register_task(task)
        for seed in (None, 0, 2):
            w = np.mean(list(weak.values()), axis=0) if seed is None else weak[seed]
            c = np.mean(list(ceiling.values()), axis=0) if seed is None else ceiling[seed]
            result = hub.operator.evaluate("toy", predictions, seed=seed)
            pgr = (ours - w) / (c - w)
            assert (result.public_pgr, result.private_pgr) == pytest.approx(tuple(pgr))
            assert result.accuracy == pytest.approx(np.mean(np.array(predictions) == labels))
            whole = ours @ shares, w @ shares, c @ shares
            assert result.pgr == pytest.approx((whole[0] - whole[1]) / (whole[2] - whole[1]))
        assert refusal(lambda: hub.operator.evaluate("toy", predictions, seed=7)) == (
            422,
            "task toy has no weak and ceiling baselines for seed 7 (seeds with both: 0, 1, 2)",
        )


def test_a_seed_whose_ceiling_does_not_beat_weak_is_named(tmp_path: Path) -> None:
    task, _labels = toy_task()
    swapped = {**task.ceiling, 1: task.weak[1]}
    with running_hub(tmp_path) as hub:
        hub.operator.register_task(task.model_copy(update={"ceiling": swapped}))
        status, detail = refusal(lambda: hub.operator.evaluate("toy", task.weak[0], seed=1))
    assert status == 422
    assert detail.startswith("task toy, seed 1: the ceiling does not beat weak on the public")


def test_the_gold_only_student_is_stored_and_published_rounded(tmp_path: Path) -> None:
    task, labels = toy_task()
    gold_only = {s: noisy(labels, 0.15, 300 + s) for s in range(2)}
    mean_public = np.mean([_halves(labels, p, task.split_seed)[0] for p in gold_only.values()])
    with running_hub(tmp_path) as hub:
        assert hub.operator.register_task(task).gold_only_public is None
        with_gold = task.model_copy(update={"name": "toy2", "gold_only": gold_only})
        assert hub.operator.register_task(with_gold).gold_only_public == round_to(
            float(mean_public), 0.01
        )
        assert hub.researcher("alice").task("toy2").gold_only_public == round_to(
            float(mean_public), 0.01
        )
        short = task.model_copy(update={"name": "toy3", "gold_only": {0: gold_only[0][:-1]}})
        assert refusal(lambda: hub.operator.register_task(short)) == (
            422,
            "gold_only[0] has 399 entries; expected 400",
        )
