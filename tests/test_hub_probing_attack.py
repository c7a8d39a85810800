"""The reference system's label-probing attack, replayed against the hub with default settings.

The attacker submits a base vector, then flips one prediction at a time and watches the
score: a rise means the flipped item's new label is right. Here the hub answers only with
the public half's accuracy rounded to 0.01 and the PGR computed from it, within a budget,
and flags (and quarantines) each probe. Under the Ladder rule the answer does not move at all.
"""

from pathlib import Path

import numpy as np
import pytest

from aar.hub.client import BudgetExceededError, HubClient
from aar.hub.scoring import public_split
from tests.hubkit import noisy, running_hub, toy_task

N_TEST = 2000


def attack(
    client: HubClient, base: list[int], items: int
) -> tuple[list[tuple[float, float]], bool]:
    """Flip items 0, 1, 2, ... one at a time; returns the answers and whether a 429 stopped it."""
    answers = []
    first = client.submit("toy", base, method="base")
    answers.append((first.public_accuracy, first.public_pgr))
    for i in range(items):
        probe = list(base)
        probe[i] = 1 - probe[i]
        try:
            result = client.submit("toy", probe, method="probe", seed=i)
        except BudgetExceededError:
            return answers, True
        answers.append((result.public_accuracy, result.public_pgr))
    return answers, False


def test_probing_learns_nothing_private_is_rate_limited_and_flagged(tmp_path: Path) -> None:
    task, labels = toy_task(n_test=N_TEST)
    public = public_split(labels, 0.5, task.split_seed)  # what the hub computes, secretly
    base = noisy(labels, 0.25, seed=42)
    with running_hub(tmp_path) as hub:  # default budgets, rounding and flags
        hub.operator.register_task(task)
        attacker = hub.researcher("mallory")
        answers, stopped = attack(attacker, base, items=N_TEST)
        per_hour = hub.settings.submissions_per_hour
        assert stopped, "the budget must stop the attack"
        assert len(answers) == per_hour  # the base and per_hour - 1 probes, then HTTP 429
        flags = hub.operator.scorings(flagged=True)
        assert len(flags) == per_hour - 1  # every probe flagged, the base not
        assert all("1 flipped prediction" in (s.flag_reason or "") for s in flags)
        assert all(s.quarantined for s in flags)
        # the leaderboard, another channel, shows the base alone: the probes are quarantined
        board = [(r.method, r.public_pgr.n) for r in attacker.leaderboard("toy")]
        assert board == [("base", 1)]
    probed = np.arange(per_hour - 1)
    assert (~public[probed]).sum() >= 5  # the attack did hit private items
    # The attacker's rule: the answer moved → the item's label is revealed. For every private
    # item the answer is exactly the base answer, so nothing about it is revealed.
    moved = np.array([a != answers[0] for a in answers[1:]])
    assert not moved[~public[probed]].any()
    revealed = probed[moved]
    assert public[revealed].all()


def test_single_flips_rarely_move_the_rounded_public_score(tmp_path: Path) -> None:
    task, labels = toy_task(n_test=N_TEST)
    base = noisy(labels, 0.25, seed=42)
    with running_hub(tmp_path, submissions_per_hour=1000, submissions_total=1000) as hub:
        hub.operator.register_task(task)
        answers, _ = attack(hub.researcher("mallory"), base, items=100)
    moved = sum(a != answers[0] for a in answers[1:])
    # One flip moves public accuracy by 1/1000; rounded to 0.01 it shows in about 1 probe in 10.
    assert moved / 100 == pytest.approx(0.1, abs=0.1)


def test_even_unrounded_answers_never_depend_on_private_items(tmp_path: Path) -> None:
    task, labels = toy_task(n_test=N_TEST)
    public = public_split(labels, 0.5, task.split_seed)
    base = noisy(labels, 0.25, seed=42)
    budget = {"submissions_per_hour": 1000, "submissions_total": 1000}
    with running_hub(tmp_path, score_resolution=1e-9, **budget) as hub:
        hub.operator.register_task(task)
        answers, _ = attack(hub.researcher("mallory"), base, items=200)
    moved = np.array([a != answers[0] for a in answers[1:]])
    assert moved[public[:200]].all()  # without rounding every public flip shows...
    assert not moved[~public[:200]].any()  # ...and no private flip ever does


def test_under_the_ladder_single_flips_never_move_the_answer(tmp_path: Path) -> None:
    task, labels = toy_task(n_test=N_TEST)
    base = noisy(labels, 0.25, seed=42)
    budget = {"submissions_per_hour": 1000, "submissions_total": 1000}
    with running_hub(tmp_path, feedback="ladder", **budget) as hub:
        hub.operator.register_task(task)
        answers, _ = attack(hub.researcher("mallory"), base, items=100)
    # one flip moves public accuracy by 0.001, never the 0.01 the Ladder asks of a new best
    assert set(answers) == {answers[0]}
