"""The end of a campaign: verify the ranked entries on sealed data, run them on held-out tasks.

    results = end_checks(config, layout, state, operator)   # also saved to verify/results.json

1. The ranking: each researcher's entry is the leaderboard group it declared final, else its
   best by public PGR (the hub's ``/ranking``; quarantined scorings are out). The private
   half only orders the chosen entries, so selecting among submissions cannot inflate it.
2. Verification of the entries that carry a snapshot, best private PGR first, until
   ``verify_top_k`` are verified or twice that many were re-run (claims that fail cannot
   crowd honest ones out of the checks):
   - agreement: the recipe re-run on the public bundle must reproduce the scorings the claim
     is the mean of (the entry's scorings not quarantined, one re-run per seed), at least
     ``end.agreement`` of each vector; a declared final that is quarantined is no part of the
     claim and is not compared. An entry with scorings on many seeds has only the
     ``end.agreement_reruns`` seeds of its best private PGR re-run: the scorings left out
     score no higher than one that was reproduced, so they cannot lift the mean above it;
   - the sealed set: the campaign builds one bundle per ``verify_seeds`` seed (labeled set and
     pool redrawn, teacher, ceiling and gold-only student retrained, test set = the sealed
     items no researcher ever saw), registers them on the hub as the sealed task
     ``sealed-TASK``, re-runs the recipe and ``vanilla`` on each, and the hub scores each seed
     against that seed's baselines: PGR mean ± SE over seeds.
   Entries come out ``verified``, ``not reproduced`` (the check that failed is named) or
   ``failed`` (the re-run broke).
3. Generalization: each held-out task (default ``toy`` for any other task) is published only
   now, with fresh secret options, as ``heldout-TASK``; the verified recipes and ``vanilla``
   run on it.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from aar.campaign.config import CampaignConfig
from aar.campaign.layout import CampaignLayout
from aar.campaign.publish import publish, publish_sealed, secret_options
from aar.campaign.state import CampaignState
from aar.campaign.verify import Rerunner, agreement, judge
from aar.core.errors import AarError, ConfigError
from aar.core.pgr import Estimate, estimate
from aar.core.provenance import code_provenance
from aar.core.reproduce import Recipe
from aar.hub.client import HubClient
from aar.hub.schemas import RankingRowOperator, Score, ScoringOperator

RESULTS_VERSION = 2


class Verification(BaseModel):
    researcher: str
    method: str
    snapshot_id: str
    status: str
    claimed: Score
    sealed: Score | None = None
    """PGR on the sealed set, mean ± SE over the verification seeds."""
    sealed_pgr: dict[int, float] = Field(default_factory=dict)
    agreement: float | None = None
    """The least share of a submitted vector the re-run reproduced, over the entry's scorings."""
    agreement_scoring: int | None = None
    """The scoring that share is of."""
    seeds: list[int]
    detail: str = ""
    seconds: dict[str, float] = Field(default_factory=dict)
    """Wall seconds of its re-runs: ``agreement`` (public bundle) and ``sealed`` (all seeds)."""


class SealedReference(BaseModel):
    """What the sealed set gives for the campaign's own references (vanilla, gold-only)."""

    name: str
    pgr: Score | None
    detail: str = ""
    seconds: float | None = None


class HeldOut(BaseModel):
    task: str
    researcher: str
    method: str
    snapshot_id: str | None
    pgr: Score | None
    detail: str = ""


class EndResults(BaseModel):
    version: int = RESULTS_VERSION
    verifications: list[Verification] = []
    references: list[SealedReference] = []
    heldout: list[HeldOut] = []
    not_checked: str | None = None
    """Why no entry was verified, when the campaign itself could not (no sealed set)."""
    sealed_bundles_seconds: float | None = None
    """Wall seconds to build the sealed bundles (teacher, ceiling, gold-only per seed), once."""
    environment: dict[str, str] = Field(default_factory=lambda: dict(code_provenance()))

    @classmethod
    def load(cls, path: Path) -> EndResults | None:
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        if data.get("version") != RESULTS_VERSION:  # results of older checks are redone
            return None
        return cls.model_validate(data)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.model_dump_json(indent=1))


def results_path(layout: CampaignLayout) -> Path:
    return layout.verify / "results.json"


def sealed_name(task: str) -> str:
    return f"sealed-{task}"


def score_of(found: Estimate | None) -> Score | None:
    return None if found is None else Score(mean=found.mean, se=found.se, n=found.n)


def end_checks(
    config: CampaignConfig,
    layout: CampaignLayout,
    state: CampaignState,
    operator: HubClient,
    say: Any = print,
) -> EndResults:
    """Verification and held-out runs (done once; a resumed campaign reuses saved results)."""
    if (saved := EndResults.load(results_path(layout))) is not None:
        return saved
    r = config.researchers
    runner = Rerunner(operator, r.sandbox, layout.verify, allow_unsafe=r.allow_unsafe,
                      python=r.sandbox_python())  # fmt: skip
    sealed = SealedCheck(config, layout, state, runner, say)
    verifications, references = sealed.run()
    heldout = [
        h
        for task in config.heldout
        for h in held_out(config, state, runner, task, verifications, say)
    ]
    results = EndResults(
        verifications=verifications, references=references, heldout=heldout,
        sealed_bundles_seconds=sealed.bundle_seconds, not_checked=sealed.not_checked,
    )  # fmt: skip
    results.save(results_path(layout))
    state.save(layout.state)
    return results


def candidates(config: CampaignConfig, operator: HubClient) -> list[RankingRowOperator]:
    """The ranked entries with a snapshot, best private PGR first, at most twice
    ``verify_top_k`` (the most that are re-run)."""
    rows = [row for row in operator.ranking(config.task) if row.snapshot_id]
    rows.sort(key=lambda row: row.private_pgr.mean, reverse=True)
    return rows[: 2 * config.end.verify_top_k]


def finite_estimate(values: list[float]) -> Estimate | None:
    """Mean ± SE of the finite ``values`` (a seed whose ceiling is not above its weak teacher
    has no PGR); None when none is."""
    finite = [v for v in values if math.isfinite(v)]
    return estimate(finite) if finite else None


def verify_in_order(
    rows: list[RankingRowOperator],
    verify: Callable[[RankingRowOperator], Verification],
    wanted: int,
) -> list[Verification]:
    """``verify`` each row in order until ``wanted`` of them come out verified."""
    done: list[Verification] = []
    for row in rows:
        if sum(v.status == "verified" for v in done) >= wanted:
            break
        done.append(verify(row))
    return done


def compared_scorings(scorings: list[ScoringOperator], seeds: int) -> list[ScoringOperator]:
    """The scorings of a claim that its agreement check compares: best private PGR first, those
    on its first ``seeds`` distinct seeds. Each one left out scores no higher than one that is
    compared, so it cannot lift the claim's mean above a reproduced score."""
    kept: list[ScoringOperator] = []
    chosen_seeds: set[int] = set()
    for scoring in sorted(scorings, key=lambda s: (-s.private_pgr, s.id)):
        if scoring.seed not in chosen_seeds and len(chosen_seeds) >= seeds:
            continue
        chosen_seeds.add(scoring.seed)
        kept.append(scoring)
    return kept


class SealedCheck:
    """Agreement and the sealed re-runs of the top entries, and the campaign's references."""

    def __init__(
        self,
        config: CampaignConfig,
        layout: CampaignLayout,
        state: CampaignState,
        runner: Rerunner,
        say: Any,
    ) -> None:
        self.config, self.layout, self.state = config, layout, state
        self.runner, self.say = runner, say
        self.operator = runner.operator
        self.seeds = list(config.end.verify_seeds)
        self.name = sealed_name(config.task)
        self.bundle_seconds: float | None = None
        self.not_checked: str | None = None
        self._scorings: list[ScoringOperator] | None = None  # the task's, fetched once
        self._library_runs: dict[str, dict[int, float]] = {}  # library recipe → sealed PGRs

    def run(self) -> tuple[list[Verification], list[SealedReference]]:
        chosen = candidates(self.config, self.operator)
        if not chosen:
            return [], []
        wanted = self.config.end.verify_top_k
        self.say(f"verifying up to {wanted} of {len(chosen)} entries on the sealed set "
                 f"(seeds {self.seeds}) ...")  # fmt: skip
        started = time.perf_counter()
        try:
            bundles = self._sealed_bundles()
        except AarError as err:  # the campaign's failure: its entries stay unchecked, not failed
            self.not_checked = f"no sealed set: {err}"
            self.say(f"verification skipped: {self.not_checked}")
            return [], []
        self.bundle_seconds = time.perf_counter() - started
        verifications = verify_in_order(chosen, lambda row: self._verify(row, bundles), wanted)
        return verifications, self._references(bundles)

    def _sealed_bundles(self) -> dict[int, Path]:
        c = self.config
        secret = self.state.secret_options.get(c.task)
        if secret is None and secret_options(c.task):
            # without them the sealed set would be drawn with default seeds: items a
            # researcher may have seen, rather than the ones the task held back
            raise ConfigError(
                f"the campaign does not hold {c.task}'s secret options (the hub had the task "
                "before the campaign started): give --task-secrets, the file aar hub "
                "publish-task wrote"
            )
        return publish_sealed(
            self.operator, c.task, c.task_options, split_seed=c.split_seed, seeds=self.seeds,
            secret=secret or {}, folder=self.layout.verify / "sealed", name=self.name,
        )  # fmt: skip

    def _failed(self, row: RankingRowOperator, why: str) -> Verification:
        assert row.snapshot_id is not None
        return Verification(
            researcher=row.researcher, method=row.method, snapshot_id=row.snapshot_id,
            status="failed", claimed=row.private_pgr, seeds=self.seeds, detail=why,
        )  # fmt: skip

    def _verify(self, row: RankingRowOperator, bundles: dict[int, Path]) -> Verification:
        assert row.snapshot_id is not None
        folder = self.runner.folder(f"snapshot-{row.snapshot_id}")
        started = time.perf_counter()
        try:
            recipe = self.runner.recipe_of(row.snapshot_id, folder)
            scoring, agreed = self._agreement(row, recipe, folder)
            agreed_at = time.perf_counter()
            per_seed = self._sealed_pgr(recipe, folder, bundles)
        except AarError as err:
            return self._failed(row, str(err))
        seconds = {"agreement": agreed_at - started, "sealed": time.perf_counter() - agreed_at}
        sealed = finite_estimate(list(per_seed.values()))
        status, why = judge(row.private_pgr, sealed, agreed, self.config.end, row.private_noise)
        return Verification(
            researcher=row.researcher, method=row.method, snapshot_id=row.snapshot_id,
            status=status, claimed=row.private_pgr, sealed=score_of(sealed),
            sealed_pgr=per_seed, agreement=agreed, agreement_scoring=scoring,
            seeds=self.seeds, detail=why, seconds=seconds,
        )  # fmt: skip

    def _agreement(
        self, row: RankingRowOperator, recipe: Recipe, folder: Path
    ) -> tuple[int, float]:
        """(scoring id, agreement) of the entry's least reproduced scoring.

        Every scoring of the claim is compared, not one: a researcher could otherwise add a
        vector the recipe produces (another seed, or a quarantined copy declared final) beside
        one it does not, and have the mean of both verified."""
        bundle, task = self.layout.bundle(self.config.task), self.config.task
        claimed = compared_scorings(self._claimed_scorings(row), self.config.end.agreement_reruns)
        reruns: dict[int, list[int]] = {}
        found = []
        for scoring in claimed:
            submitted = self.operator.scoring(scoring.id)
            if submitted.seed not in reruns:
                reruns[submitted.seed] = self.runner.predict(
                    recipe, folder, bundle, task, submitted.seed
                )
            found.append((agreement(reruns[submitted.seed], submitted.predictions), scoring.id))
        agreed, scoring_id = min(found)
        return scoring_id, agreed

    def _claimed_scorings(self, row: RankingRowOperator) -> list[ScoringOperator]:
        """The entry's scorings that are not quarantined: those its private PGR is the mean of."""
        if self._scorings is None:
            self._scorings = self.operator.scorings(task=self.config.task, quarantined=False)
        mine = [
            s
            for s in self._scorings
            if (s.researcher, s.method, s.snapshot_id) == (row.researcher, row.method,
                                                             row.snapshot_id)
        ]  # fmt: skip
        if not mine:
            raise ConfigError(f"{row.researcher}'s entry has no scoring left to compare")
        return mine

    def _sealed_pgr(
        self, recipe: Recipe, folder: Path, bundles: dict[int, Path]
    ) -> dict[int, float]:
        """Sealed PGR per seed. A library recipe does not read its snapshot's files (its
        command keeps them off sys.path), so entries sharing one are re-run once."""
        if recipe.method is None:
            return self._run_sealed(recipe, folder, bundles)
        key = recipe.to_json()
        if key not in self._library_runs:
            self._library_runs[key] = self._run_sealed(recipe, folder, bundles)
        return dict(self._library_runs[key])

    def _run_sealed(
        self, recipe: Recipe, folder: Path, bundles: dict[int, Path]
    ) -> dict[int, float]:
        found = {}
        for seed, bundle in bundles.items():
            labels = self.runner.predict(recipe, folder, bundle, self.name, seed)
            pgr = self.operator.evaluate(self.name, labels, seed=seed).pgr
            if math.isfinite(pgr):  # NaN where a seed's ceiling is not above its weak teacher
                found[seed] = pgr
        return found

    def _references(self, bundles: dict[int, Path]) -> list[SealedReference]:
        """Vanilla re-run on the sealed bundles, for the report to compare against."""
        folder = self.runner.folder("reference-vanilla")
        folder.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        try:
            per_seed = self._sealed_pgr(Recipe.library("vanilla"), folder, bundles)
        except AarError as err:
            return [SealedReference(name="vanilla", pgr=None, detail=str(err))]
        pgr = score_of(finite_estimate(list(per_seed.values())))
        return [SealedReference(name="vanilla", pgr=pgr, seconds=time.perf_counter() - started)]


def held_out(
    config: CampaignConfig,
    state: CampaignState,
    runner: Rerunner,
    task: str,
    verifications: list[Verification],
    say: Any,
) -> list[HeldOut]:
    name, seeds = f"heldout-{task}", list(range(config.end.heldout_seeds))
    operator = runner.operator
    bundle = runner.work / "heldout" / task
    if name not in {t.name for t in operator.tasks()}:
        # Fresh secrets: the toy task regenerates every label from its data seed.
        secret = state.secret_options.setdefault(name, secret_options(task))
        publish(operator, task, {}, seeds=seeds, split_seed=0, bundle_dir=bundle, name=name,
                secret=secret)  # fmt: skip
    chosen = [v for v in verifications if v.status == "verified"] or verifications
    say(f"running {len(chosen)} methods and vanilla on the held-out task {task} ...")
    runs: list[tuple[str, str, str | None]] = [("campaign", "vanilla", None)]
    runs += [(v.researcher, v.method, v.snapshot_id) for v in chosen]
    found = []
    for researcher, method, snapshot in runs:
        folder = runner.folder("heldout", f"{task}-{snapshot or 'vanilla'}")
        score, detail = _heldout_score(runner, snapshot, folder, name, bundle, seeds)
        found.append(HeldOut(task=task, researcher=researcher, method=method,
                             snapshot_id=snapshot, pgr=score, detail=detail))  # fmt: skip
    return found


def _heldout_score(
    runner: Rerunner, snapshot: str | None, folder: Path, name: str, bundle: Path, seeds: list[int]
) -> tuple[Score | None, str]:
    try:
        if snapshot is None:
            folder.mkdir(parents=True, exist_ok=True)
            recipe = Recipe.library("vanilla")
        else:
            recipe = runner.recipe_of(snapshot, folder)
        values = [
            runner.operator.evaluate(
                name, runner.predict(recipe, folder, bundle, name, seed), seed=seed
            ).pgr
            for seed in seeds
        ]
    except AarError as err:
        return None, str(err)
    return score_of(finite_estimate(values)), ""
