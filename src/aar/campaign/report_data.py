"""Collecting a campaign's summary: the hub's records, the state, transcripts and end checks.

    summary = collect_summary(config, layout, state, operator, end_results, hub.upstreams)
    write_report(summary, layout.report)

Scores come only from the hub's own scoring (never from what a researcher wrote). Model spend
is the hub gateway's meter for the groups whose calls it carried (``gateway_groups``), and the
transcripts' for researchers that call their vendor directly.
"""

from __future__ import annotations

import math
from collections.abc import Collection

from aar.campaign.config import CampaignConfig
from aar.campaign.finish import EndResults
from aar.campaign.layout import CampaignLayout
from aar.campaign.report.schema import (
    CampaignInfo,
    CampaignSummary,
    Cost,
    Flag,
    ForumPost,
    HeldoutRow,
    Incident,
    LeaderboardRow,
    Researcher,
    Score,
    Scoring,
    Vanilla,
    Verification,
    diversity_of,
)
from aar.campaign.spend import TranscriptMeter, metered_by_hub
from aar.campaign.state import CampaignState, now
from aar.hub.client import HubClient
from aar.hub.schemas import (
    LeaderboardRowOperator,
    ModelSpend,
    RankingRowOperator,
    ScoringOperator,
)

FORUM_DIGEST = 30


def collect_summary(
    config: CampaignConfig,
    layout: CampaignLayout,
    state: CampaignState,
    operator: HubClient,
    results: EndResults | None,
    gateway_groups: Collection[int | None] = (),
) -> CampaignSummary:
    scorings = [_scoring(s) for s in operator.scorings(task=config.task)]
    rows = operator.private_leaderboard(config.task)
    ranked = operator.ranking(config.task)
    models = {
        a.name: a.model
        for a in operator.accounts()
        if a.model is not None
        and a.name in state.researchers
        and state.researchers[a.name].group in gateway_groups
    }
    researchers = _researchers(config, layout, state, scorings, ranked, models)
    directions = {r.name: r.direction for r in researchers}
    return CampaignSummary(
        campaign=_info(config, layout, state),
        researchers=researchers,
        scorings=scorings,
        leaderboard=_leaderboard(ranked, rows, results),
        vanilla=_vanilla(rows),
        sealed_vanilla=_sealed_vanilla(results),
        not_checked=results.not_checked if results else None,
        heldout=_heldout(results),
        cost=_cost(config, researchers),
        flags=[
            Flag(
                scoring_id=s.id, researcher=s.researcher, reason=s.flag_reason or "flagged", at=s.at
            )
            for s in scorings
            if s.flagged
        ],
        incidents=[Incident(**i.model_dump()) for i in state.incidents],
        forum=_forum(operator),
        diversity=diversity_of(scorings, directions),
    )


def _info(config: CampaignConfig, layout: CampaignLayout, state: CampaignState) -> CampaignInfo:
    status = {"finished": "finished", "stopped": "stopped"}.get(state.status, "running")
    ended = state.ended_at
    return CampaignInfo(
        name=config.name or layout.root.name, dir=str(layout.root), task=config.task,
        status=status, started_at=state.created_at, ended_at=ended,
        wall_seconds=((ended or now()) - state.created_at).total_seconds(),
        config=config.model_dump(mode="json"),
    )  # fmt: skip


def _scoring(s: ScoringOperator) -> Scoring:
    return Scoring(
        id=s.id, researcher=s.researcher, method=s.method, seed=s.seed, at=s.created_at,
        public_pgr=s.public_pgr, private_pgr=s.private_pgr, flagged=s.flagged,
        flag_reason=s.flag_reason, quarantined=s.quarantined, snapshot_id=s.snapshot_id,
        description=s.description,
    )  # fmt: skip


def _researchers(
    config: CampaignConfig,
    layout: CampaignLayout,
    state: CampaignState,
    scorings: list[Scoring],
    ranked: list[RankingRowOperator],
    models: dict[str, ModelSpend],
) -> list[Researcher]:
    """Each researcher's record; ``models``: the gateway's meter of those whose calls it carried."""
    best_public: dict[str, float] = {}
    for s in scorings:
        if not s.quarantined:
            best_public[s.researcher] = max(best_public.get(s.researcher, -math.inf),
                                            _finite(s.public_pgr))  # fmt: skip
    entries = {row.researcher: row.private_pgr.mean for row in ranked}
    found = []
    for name, r in state.researchers.items():
        spent = metered_by_hub(TranscriptMeter(layout.transcript(name)).read(), models.get(name))
        own = config.researchers.settings(r.group)
        found.append(Researcher(
            name=name, brain=own.resolved_brain, model=own.model,
            direction=r.direction, status=r.status, reason=r.reason, restarts=r.restarts,
            steps=spent.steps, dollars=spent.dollars, tokens=spent.tokens,
            metered=name in models, tool_calls=dict(spent.tool_calls),
            tool_errors=spent.tool_errors, compactions=spent.compactions,
            submissions=sum(1 for s in scorings if s.researcher == name), hours=r.seconds / 3600,
            best_public_pgr=_or_none(best_public.get(name, -math.inf)),
            entry_private_pgr=_or_none(entries.get(name, -math.inf)),
        ))  # fmt: skip
    return found


def _finite(value: float) -> float:
    return value if math.isfinite(value) else -math.inf


def _or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _score(score: Score | object) -> Score:
    return Score.model_validate(score, from_attributes=True)


def _leaderboard(
    ranked: list[RankingRowOperator],
    rows: list[LeaderboardRowOperator],
    results: EndResults | None,
) -> list[LeaderboardRow]:
    """Each researcher's ranked entry with its flags and what verification found."""
    checks = {v.snapshot_id: v for v in (results.verifications if results else [])}
    flagged = {(r.researcher, r.method, r.snapshot_id): r.flagged for r in rows}
    entries = []
    for row in ranked:
        check = checks.get(row.snapshot_id or "")
        verification = None
        if check is not None:
            verification = Verification(status=check.status, seeds=check.seeds,
                                        sealed=_score(check.sealed) if check.sealed else None,
                                        agreement=check.agreement, detail=check.detail)  # fmt: skip
        elif row.snapshot_id is None:
            verification = Verification(status="no snapshot")
        entries.append(LeaderboardRow(
            researcher=row.researcher, method=row.method, snapshot_id=row.snapshot_id,
            public=_score(row.public_pgr), private=_score(row.private_pgr),
            flagged=flagged.get((row.researcher, row.method, row.snapshot_id), 0),
            chosen_by=row.chosen_by, verification=verification,
        ))  # fmt: skip
    return entries


def _sealed_vanilla(results: EndResults | None) -> Score | None:
    for reference in results.references if results else []:
        if reference.name == "vanilla" and reference.pgr is not None:
            return _score(reference.pgr)
    return None


def _vanilla(rows: list[LeaderboardRowOperator]) -> Vanilla | None:
    """Vanilla's reference: every vanilla row's scorings pooled (weighted by their counts)."""
    mine = [r for r in rows if r.method == "vanilla"]
    if not mine:
        return None

    def pooled(scores: list[Score]) -> Score:
        n = sum(s.n for s in scores)
        return Score(mean=sum(s.mean * s.n for s in scores) / n, se=None, n=n)

    return Vanilla(public=pooled([_score(r.public_pgr) for r in mine]),
                   private=pooled([_score(r.private_pgr) for r in mine]))  # fmt: skip


def _heldout(results: EndResults | None) -> list[HeldoutRow]:
    if results is None:
        return []
    vanilla = {h.task: h.pgr for h in results.heldout if h.snapshot_id is None and h.pgr}
    rows = []
    for h in results.heldout:
        if h.pgr is None and not h.detail:
            continue
        rows.append(HeldoutRow(
            task=h.task, researcher=h.researcher, method=h.method, snapshot_id=h.snapshot_id,
            pgr=_score(h.pgr) if h.pgr else Score(mean=math.nan, n=0),
            vanilla=_score(vanilla[h.task]) if h.task in vanilla else None, detail=h.detail,
        ))  # fmt: skip
    return rows


def _cost(config: CampaignConfig, researchers: list[Researcher]) -> Cost:
    hours = sum(r.hours for r in researchers)
    gpus = config.executor.gpus
    return Cost(
        dollars=sum(r.dollars for r in researchers), tokens=sum(r.tokens for r in researchers),
        researcher_hours=hours, gpu_hours=hours * gpus if gpus else None,
    )  # fmt: skip


def _forum(operator: HubClient) -> list[ForumPost]:
    """The digest: the most voted posts first, then the newest (posts come newest first)."""
    posts = sorted(operator.list_posts(limit=200), key=lambda p: -int(p.get("score", 0)))
    return [
        ForumPost(
            id=str(p["id"]),
            kind=str(p["kind"]),
            title=str(p["title"]),
            author=str(p["author"]),
            at=p["created_at"],
            votes=int(p.get("score", 0)),
            quarantined=bool(p.get("quarantined", False)),
        )
        for p in posts[:FORUM_DIGEST]
    ]
