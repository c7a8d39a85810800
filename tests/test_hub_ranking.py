"""The final ranking (chosen by declared final or public score, never by private score),
declaring a final, and snapshot ids that must name the submitter's own snapshot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aar.hub.client import HubClient, HubError
from aar.hub.schemas import TaskCreate
from aar.hub.scoring import public_split
from tests.hubkit import Hub, noisy, running_hub, toy_task, with_errors


def submit_group(
    client: HubClient, labels: np.ndarray, method: str, errors: tuple[int, int]
) -> list[int]:
    """Three seeds of one method; returns the scoring ids."""
    return [
        client.submit("toy", with_errors(labels, *errors, seed=seed), method=method, seed=seed).id
        for seed in range(3)
    ]


def binomial_pgr_se(task: TaskCreate, labels: np.ndarray, errors: int) -> float:
    """sqrt(a(1 − a)/n) / gap on the private half, computed here from the task's baselines."""
    private = ~public_split(labels, 0.5, task.split_seed)
    n = int(private.sum())

    def accuracy(predictions: list[int]) -> float:
        return float((np.asarray(predictions)[private] == labels[private]).mean())

    gap = np.mean([accuracy(p) for p in task.ceiling.values()]) - np.mean(
        [accuracy(p) for p in task.weak.values()]
    )
    a = 1 - errors / n
    return float(np.sqrt(a * (1 - a) / n) / gap)


def test_the_ranking_takes_each_researchers_public_choice_or_final(tmp_path: Path) -> None:
    task, labels = toy_task()
    with running_hub(tmp_path) as hub:
        hub.operator.register_task(task)
        alice, bob = hub.researcher("alice"), hub.researcher("bob")
        # alice's best public group is her worse private one
        submit_group(alice, labels, "public-best", (28, 36))
        submit_group(alice, labels, "private-best", (34, 28))
        # bob declares final a group that is not his best public one
        submit_group(bob, labels, "tuned", (30, 34))
        final = submit_group(bob, labels, "declared", (33, 31))[1]
        declared = bob.declare_final("toy", final)
        assert (declared.scoring_id, declared.method, declared.task) == (final, "declared", "toy")

        ranking = hub.operator.ranking("toy")
        chosen = {r.researcher: (r.method, r.chosen_by, r.final_scoring_id) for r in ranking}
        assert chosen == {
            "alice": ("public-best", "public", None),
            "bob": ("declared", "final", final),
        }
        assert [r.researcher for r in ranking] == ["bob", "alice"]  # by private PGR
        rows = {(r.researcher, r.method): r for r in hub.operator.private_leaderboard("toy")}
        for entry in ranking:
            group = rows[(entry.researcher, entry.method)]
            assert entry.private_pgr == group.private_pgr
            assert entry.public_pgr == group.public_pgr
        private_errors = {"alice": 36, "bob": 31}  # the entries' groups, on every seed
        for entry in ranking:
            expected = binomial_pgr_se(task, labels, private_errors[entry.researcher])
            assert entry.private_noise == pytest.approx(expected)
        # the private half would have picked alice's other group: the ranking does not
        assert rows[("alice", "private-best")].private_pgr.mean > ranking[1].private_pgr.mean
        with pytest.raises(HubError) as refused:
            alice.ranking("toy")
        assert refused.value.status == 403


def test_a_final_must_be_your_own_scoring_on_that_task(tmp_path: Path) -> None:
    task, labels = toy_task()
    other_task, other_labels = toy_task("other", seed=1)
    with running_hub(tmp_path) as hub:
        hub.operator.register_task(task)
        hub.operator.register_task(other_task)
        alice, bob = hub.researcher("alice"), hub.researcher("bob")
        mine = alice.submit("toy", noisy(labels, 0.2, 1), method="m").id
        theirs = bob.submit("toy", noisy(labels, 0.2, 2), method="m").id
        elsewhere = alice.submit("other", noisy(other_labels, 0.2, 3), method="m").id
        for scoring_id in (theirs, elsewhere, 999):
            with pytest.raises(HubError) as refused:
                alice.declare_final("toy", scoring_id)
            assert refused.value.status == 422
            assert refused.value.detail == (
                f"scoring #{scoring_id} is not one of your scorings on task toy"
            )
        with pytest.raises(HubError) as operator:
            hub.operator.declare_final("toy", mine)
        assert operator.value.status == 403
        second = alice.submit("toy", noisy(labels, 0.2, 4), method="n").id
        alice.declare_final("toy", mine)
        assert alice.declare_final("toy", second).scoring_id == second  # the later one counts
        [entry] = [r for r in hub.operator.ranking("toy") if r.researcher == "alice"]
        assert (entry.method, entry.chosen_by, entry.final_scoring_id) == ("n", "final", second)


def test_quarantined_scorings_never_enter_the_ranking(tmp_path: Path) -> None:
    task, labels = toy_task()
    with running_hub(tmp_path) as hub:
        hub.operator.register_task(task)
        alice, mallory = hub.researcher("alice"), hub.researcher("mallory")
        alice.submit("toy", noisy(labels, 0.2, 1), method="honest")
        zeros = alice.submit("toy", [0] * len(labels), method="zeros").id  # trivial prior
        mallory.submit("toy", [int(v) for v in labels], method="the labels")  # PGR above 1
        alice.declare_final("toy", zeros)  # accepted: she is not told it is quarantined
        [entry] = hub.operator.ranking("toy")
        assert (entry.researcher, entry.method) == ("alice", "honest")
        assert (entry.chosen_by, entry.final_scoring_id) == ("public", zeros)
        hub.operator.clear_scoring(zeros, "a deliberate baseline")
        chosen = {r.researcher: (r.method, r.chosen_by) for r in hub.operator.ranking("toy")}
        assert chosen == {"alice": ("zeros", "final")}


def test_a_borrowed_or_invented_snapshot_id_is_refused(tmp_path: Path) -> None:
    task, labels = toy_task()
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "recipe.py").write_text("print('hi')\n")
    with running_hub(tmp_path / "hub") as hub:
        hub.operator.register_task(task)
        alice, bob = hub.researcher("alice"), hub.researcher("bob")
        hers = alice.upload_snapshot(tmp_path / "work").id
        vector = noisy(labels, 0.2, 1)
        refusals = {
            hers: f"snapshot_id {hers!r} is another researcher's snapshot; name one of your own",
            "s_0123456789abcdef": "snapshot_id 's_0123456789abcdef' names no snapshot on this hub",
            "../etc": "snapshot_id '../etc' names no snapshot on this hub",
        }
        for snapshot_id, message in refusals.items():
            with pytest.raises(HubError) as refused:
                bob.submit("toy", vector, method="m", snapshot_id=snapshot_id)
            assert refused.value.status == 422
            assert refused.value.detail.startswith(message)
        assert hub.operator.scorings() == []
        assert _used(hub, "bob") == 0  # refusals cost no budget
        ok = alice.submit("toy", vector, method="m", snapshot_id=hers)
        assert hub.operator.scoring(ok.id).snapshot_id == hers


def _used(hub: Hub, name: str) -> int:
    return next(a.budget.used_total for a in hub.operator.accounts() if a.name == name)
