"""What a submission's answer shows: the PGR of the rounded accuracy, and the Ladder rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from aar.hub.client import HubClient
from aar.hub.scoring import round_to
from tests.hubkit import running_hub, toy_task, with_errors

N_TEST = 2000  # 1,000 public items: accuracy moves in steps of 0.001


def test_the_shown_pgr_carries_no_more_than_the_rounded_accuracy(tmp_path: Path) -> None:
    task, labels = toy_task(n_test=N_TEST)
    with running_hub(tmp_path) as hub:
        published = hub.operator.register_task(task)
        alice = hub.researcher("alice")
        answers = [
            alice.submit("toy", with_errors(labels, errors, 150, seed=errors), method="m")
            for errors in (152, 150, 147)  # public accuracy 0.848, 0.850, 0.853
        ]
        exact = {s.id: s.public_pgr for s in hub.operator.scorings()}
    assert {a.public_accuracy for a in answers} == {0.85}
    assert len({round_to(exact[a.id], 0.01) for a in answers}) == 3  # the old answer differed
    weak, ceiling = published.weak_public, published.ceiling_public
    assert {a.public_pgr for a in answers} == {round_to((0.85 - weak) / (ceiling - weak), 0.01)}


def submit(client: HubClient, labels, public_errors: int, seed: int):  # type: ignore[no-untyped-def]
    vector = with_errors(labels, public_errors, public_errors, seed=seed)
    return client.submit("toy", vector, method=f"m{seed}", seed=seed)


def test_the_ladder_releases_only_new_bests_by_the_margin(tmp_path: Path) -> None:
    task, labels = toy_task(n_test=N_TEST)
    with running_hub(tmp_path, feedback="ladder", ladder_margin=0.01) as hub:
        hub.operator.register_task(task)
        alice, bob = hub.researcher("alice"), hub.researcher("bob")
        shown = []
        for seed, errors in enumerate((200, 195, 190, 210, 189, 179)):
            answer = submit(alice, labels, errors, seed)
            shown.append((answer.public_accuracy, answer.released))
        assert shown == [
            (0.80, True),  # the first score is released
            (0.80, False),  # 0.805 is not 0.01 above 0.80: the answer repeats the best
            (0.81, True),
            (0.81, False),  # worse: repeats the best
            (0.81, False),  # 0.811: not 0.01 above the released 0.81
            (0.82, True),  # 0.821
        ]
        first = submit(bob, labels, 190, seed=9)  # every researcher climbs a ladder of its own
        assert (first.public_accuracy, first.released) == (0.81, True)
        public = {r.method for r in alice.leaderboard("toy") if r.researcher == "alice"}
        assert public == {"m0", "m2", "m5"}  # only released scores are shown to researchers
        operator = {r.method for r in hub.operator.leaderboard("toy") if r.researcher == "alice"}
        assert operator == {f"m{seed}" for seed in range(6)}
        repeated = [s for s in hub.operator.scorings() if s.method == "m3"]
        assert repeated[0].public_accuracy == pytest.approx(0.79)  # stored exactly, shown not
