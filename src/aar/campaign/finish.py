"""The end of a campaign: verify the top results, run the best on held-out tasks, rank.

    results = end_checks(config, layout, operator)   # also saved to verify/results.json

1. Verification: the ``verify_top_k`` leaderboard rows with the best public PGR that carry a
   snapshot are re-run from their snapshots on ``verify_seeds`` (weak labels of seeds no
   researcher saw, same split) and marked ``verified``, ``not reproduced`` or ``failed``.
2. Generalization: each held-out task (default: ``toy`` for any other task) is registered on
   the hub only now, when no researcher runs, as ``heldout-TASK``; the verified recipes (or,
   if none verified, the re-runnable top rows) and ``vanilla`` run on it.
3. The final ranking is the leaderboard by private PGR; the report shows it with these marks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from aar.campaign.config import CampaignConfig
from aar.campaign.layout import CampaignLayout
from aar.campaign.publish import fresh_bundle, publish
from aar.campaign.verify import Outcome, Rerunner, judge
from aar.core.errors import AarError
from aar.core.reproduce import Recipe
from aar.hub.client import HubClient
from aar.hub.schemas import LeaderboardRowOperator, Score


class Verification(BaseModel):
    researcher: str
    method: str
    snapshot_id: str
    status: str
    claimed: Score
    fresh: Score | None
    seeds: list[int]
    detail: str = ""


class HeldOut(BaseModel):
    task: str
    researcher: str
    method: str
    snapshot_id: str | None
    pgr: Score | None
    detail: str = ""


class EndResults(BaseModel):
    verifications: list[Verification] = []
    heldout: list[HeldOut] = []

    @classmethod
    def load(cls, path: Path) -> EndResults | None:
        return cls.model_validate_json(path.read_text()) if path.exists() else None

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.model_dump_json(indent=1))


def results_path(layout: CampaignLayout) -> Path:
    return layout.verify / "results.json"


def end_checks(
    config: CampaignConfig, layout: CampaignLayout, operator: HubClient, say: Any = print
) -> EndResults:
    """Verification and held-out runs (done once; a resumed campaign reuses saved results)."""
    if (saved := EndResults.load(results_path(layout))) is not None:
        return saved
    r = config.researchers
    runner = Rerunner(operator, r.sandbox, layout.verify, allow_unsafe=r.allow_unsafe)
    verifications = verify_top(config, layout, runner, operator, say)
    heldout = [
        h
        for task in config.heldout
        for h in held_out(config, runner, operator, task, verifications, say)
    ]
    results = EndResults(verifications=verifications, heldout=heldout)
    results.save(results_path(layout))
    return results


def ranked_rows(config: CampaignConfig, operator: HubClient) -> list[LeaderboardRowOperator]:
    """Rows with a snapshot, best public PGR first (what researchers could see and claim)."""
    rows = [row for row in operator.private_leaderboard(config.task) if row.snapshot_id]
    return sorted(rows, key=lambda row: row.public_pgr.mean, reverse=True)


def verify_top(
    config: CampaignConfig, layout: CampaignLayout, runner: Rerunner, operator: HubClient, say: Any
) -> list[Verification]:
    """Re-run the top ``verify_top_k`` distinct recipes (the same recipe shared by several
    researchers is re-run once, under the best row that claims it)."""
    seeds, k = list(config.end.verify_seeds), config.end.verify_top_k
    chosen: dict[str, tuple[LeaderboardRowOperator, Recipe | None, str]] = {}
    for row in ranked_rows(config, operator):
        if len(chosen) == k:
            break
        assert row.snapshot_id is not None
        folder = runner.folder(f"snapshot-{row.snapshot_id}")
        try:
            recipe: Recipe | None = runner.recipe_of(row.snapshot_id, folder)
            key, error = recipe.to_json() if recipe else "", ""
        except AarError as err:
            recipe, key, error = None, row.snapshot_id, str(err)
        chosen.setdefault(key, (row, recipe, error))
    if not chosen:
        return []
    say(f"verifying the top {len(chosen)} results on fresh seeds {seeds} ...")
    bundle = fresh_bundle(config.task, config.task_options, seeds, config.split_seed,
                          layout.verify / "fresh-bundle")  # fmt: skip
    return [_verify(config, runner, *found, bundle, seeds) for found in chosen.values()]


def _verify(
    config: CampaignConfig,
    runner: Rerunner,
    row: LeaderboardRowOperator,
    recipe: Recipe | None,
    error: str,
    bundle: Path,
    seeds: list[int],
) -> Verification:
    assert row.snapshot_id is not None
    folder = runner.folder(f"snapshot-{row.snapshot_id}")
    outcome = (
        runner.run(recipe, folder, config.task, bundle, seeds) if recipe else Outcome(error=error)
    )
    fresh = outcome.score
    status = judge(row.private_pgr, fresh, config.end.tolerance) if not outcome.error else "failed"
    return Verification(
        researcher=row.researcher, method=row.method, snapshot_id=row.snapshot_id,
        status=status, claimed=row.private_pgr,
        fresh=Score(mean=fresh.mean, se=fresh.se, n=fresh.n) if fresh else None,
        seeds=seeds, detail=outcome.error or "",
    )  # fmt: skip


def _rerun(
    runner: Rerunner,
    snapshot_id: str | None,
    folder: Path,
    task: str,
    bundle: Path,
    seeds: list[int],
) -> Outcome:
    try:
        if snapshot_id is None:
            folder.mkdir(parents=True, exist_ok=True)
            recipe = Recipe.library("vanilla")
        else:
            recipe = runner.recipe_of(snapshot_id, folder)
    except AarError as err:
        return Outcome(error=str(err))
    return runner.run(recipe, folder, task, bundle, seeds)


def held_out(
    config: CampaignConfig,
    runner: Rerunner,
    operator: HubClient,
    task: str,
    verifications: list[Verification],
    say: Any,
) -> list[HeldOut]:
    name, seeds = f"heldout-{task}", list(range(config.end.heldout_seeds))
    bundle = runner.work / "heldout" / task
    if name not in {t.name for t in operator.tasks()}:
        publish(operator, task, {}, seeds=seeds, split_seed=0, bundle_dir=bundle, name=name)
    candidates = [v for v in verifications if v.status == "verified"] or verifications
    say(f"running {len(candidates)} methods and vanilla on the held-out task {task} ...")
    runs: list[tuple[str, str, str | None]] = [("campaign", "vanilla", None)]
    runs += [(v.researcher, v.method, v.snapshot_id) for v in candidates]
    found = []
    for researcher, method, snapshot in runs:
        folder = runner.folder("heldout", f"{task}-{snapshot or 'vanilla'}")
        outcome = _rerun(runner, snapshot, folder, name, bundle, seeds)
        score = outcome.score
        found.append(HeldOut(
            task=task, researcher=researcher, method=method, snapshot_id=snapshot,
            pgr=Score(mean=score.mean, se=score.se, n=score.n) if score else None,
            detail=outcome.error or "",
        ))  # fmt: skip
    return found
