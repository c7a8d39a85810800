"""Which entries the end checks re-run, and which scorings of an entry its agreement compares.

The re-runs themselves are exercised in tests/test_hack_replay_verify.py; these are the two
rules that bound their number: entries are verified best private PGR first until enough come
out verified (so refuted claims cannot crowd honest ones out of the checks), and an entry
with scorings on many seeds has only its best few seeds re-run.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aar.campaign.config import CampaignConfig, EndConfig
from aar.campaign.finish import (
    Verification,
    candidates,
    compared_scorings,
    finite_estimate,
    verify_in_order,
)
from aar.hub.schemas import RankingRowOperator, Score, ScoringOperator
from tests.hubkit import running_hub, toy_task, with_errors


def row(researcher: str, private: float) -> RankingRowOperator:
    score = Score(mean=private, se=0.01, n=1)
    return RankingRowOperator(
        researcher=researcher, method="m", snapshot_id=f"snap-{researcher}", public_pgr=score,
        private_pgr=score, chosen_by="public", final_scoring_id=None,
    )  # fmt: skip


def verifier(honest: set[str], calls: list[str]) -> Callable[[RankingRowOperator], Verification]:
    def verify(entry: RankingRowOperator) -> Verification:
        calls.append(entry.researcher)
        status = "verified" if entry.researcher in honest else "not reproduced"
        return Verification(
            researcher=entry.researcher, method=entry.method, snapshot_id="s", status=status,
            claimed=entry.private_pgr, seeds=[1001],
        )  # fmt: skip

    return verify


def test_at_most_twice_verify_top_k_entries_with_a_snapshot_are_candidates(
    tmp_path: Path,
) -> None:
    """Ten researchers, each with a snapshot and one entry, one without a snapshot: with
    ``verify_top_k = 2`` the four best by private PGR are the ones the checks may re-run."""
    task, labels = toy_task()
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "method.py").write_text("print('a method')\n")
    with running_hub(tmp_path / "hub") as hub:
        hub.operator.register_task(task)
        for i in range(10):
            researcher = hub.researcher(f"r{i}")
            snapshot = researcher.upload_snapshot(tmp_path / "work").id
            # private errors fall with i: r9 is the best entry by private PGR
            vector = with_errors(labels, 30, 60 - 5 * i, seed=i)
            researcher.submit("toy", vector, method="m", snapshot_id=snapshot)
        hub.researcher("ghost").submit("toy", with_errors(labels, 30, 12, seed=0), method="m")
        ranking = hub.operator.ranking("toy")
        config = CampaignConfig(task="toy", end=EndConfig(verify_top_k=2))
        chosen = candidates(config, hub.operator)
    assert ranking[0].researcher == "ghost"  # the best private PGR, and nothing to re-run
    assert [row.researcher for row in chosen] == ["r9", "r8", "r7", "r6"]
    assert all(row.snapshot_id for row in chosen)


def test_refuted_claims_at_the_top_do_not_use_up_the_verified_places() -> None:
    rows = [row(name, 0.9 - i / 10) for i, name in enumerate("abcdef")]
    calls: list[str] = []
    done = verify_in_order(rows, verifier({"c", "d", "e", "f"}, calls), wanted=2)
    assert calls == ["a", "b", "c", "d"]  # two refuted, then two verified, and no more
    assert [v.status for v in done] == ["not reproduced"] * 2 + ["verified"] * 2


def test_verification_stops_when_the_rows_run_out() -> None:
    rows = [row(name, 0.5) for name in "ab"]
    calls: list[str] = []
    done = verify_in_order(rows, verifier(set(), calls), wanted=3)
    assert calls == ["a", "b"]
    assert all(v.status == "not reproduced" for v in done)


def scoring(id_: int, seed: int, private: float) -> ScoringOperator:
    return ScoringOperator(
        id=id_, task="toy", researcher="r", method="m", description="", seed=seed,
        snapshot_id="s", public_accuracy=0.8, private_accuracy=0.8, public_pgr=private,
        private_pgr=private, flagged=False, flag_reason=None, quarantined=False,
        cleared_by=None, cleared_at=None, clear_reason=None, created_at=datetime.now(UTC),
    )  # fmt: skip


def test_agreement_compares_the_best_scorings_seeds_and_every_scoring_on_them() -> None:
    # one entry submitted on 6 seeds (two scorings on seed 3): only 2 seeds are re-run
    scorings = [
        scoring(1, seed=1, private=0.30), scoring(2, seed=2, private=0.55),
        scoring(3, seed=3, private=0.50), scoring(4, seed=4, private=0.20),
        scoring(5, seed=3, private=0.10), scoring(6, seed=5, private=0.45),
        scoring(7, seed=6, private=0.52),
    ]  # fmt: skip
    kept = compared_scorings(scorings, seeds=2)
    assert [s.id for s in kept] == [2, 7]
    left_out = [s for s in scorings if s not in kept]
    assert max(s.private_pgr for s in left_out) <= min(s.private_pgr for s in kept)
    kept = compared_scorings(scorings, seeds=3)
    assert [s.id for s in kept] == [2, 7, 3, 5]  # seed 3's other scoring costs no re-run


def test_every_scoring_is_compared_when_the_seeds_fit() -> None:
    scorings = [scoring(i, seed=i % 2, private=0.1 * i) for i in range(1, 6)]
    assert {s.id for s in compared_scorings(scorings, seeds=3)} == {1, 2, 3, 4, 5}


def test_a_seed_without_a_pgr_is_left_out_of_the_sealed_estimate() -> None:
    """The hub answers NaN for a seed whose ceiling is not above its weak teacher: it must
    neither make a claim verified (NaN compares false) nor break the saved results."""
    found = finite_estimate([0.2, math.nan, 0.4])
    assert found is not None
    assert (found.mean, found.n) == (pytest.approx(0.3), 2)
    assert finite_estimate([math.nan, math.inf]) is None
