"""The final ranking, and the results researchers declare final.

    POST /tasks/{name}/final    {"scoring_id": N}   a researcher picks one of its scorings
    GET  /tasks/{name}/ranking                       (operator) one row per researcher

Each researcher's entry is one leaderboard group (researcher, method, snapshot): the group
holding its declared final, else its best group by mean public PGR (ties: the group with more
scorings, then the newer). Quarantined scorings are left out; a declared final whose group has
none left falls back to the public choice. The private half never chooses, so selecting
among many submissions cannot inflate it: it only sorts the chosen rows.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from fastapi import APIRouter, HTTPException
from sqlalchemy import select
from sqlalchemy.orm import Session

from aar.hub.db import lock_account
from aar.hub.deps import OperatorDep, ResearcherDep, SessionDep, StateDep
from aar.hub.flags import Half, pgr_se
from aar.hub.models import Account, Final, Scoring, utcnow
from aar.hub.routers.leaderboard import GroupKey, public_score, score_of, visible_groups
from aar.hub.routers.tasks import TaskInfo, task_info
from aar.hub.schemas import FinalCreate, FinalPublic, RankingRowOperator, Score

router = APIRouter(tags=["ranking"])


@router.post("/tasks/{name}/final", response_model=FinalPublic)
def declare_final(
    name: str, body: FinalCreate, account: ResearcherDep, session: SessionDep, state: StateDep
) -> FinalPublic:
    """Declare one of your scorings on the task final; a later declaration replaces it."""
    info = task_info(session, state.task_cache, name, operator=False)
    scoring = session.get(Scoring, body.scoring_id)
    if scoring is None or scoring.account_id != account.id or scoring.task_id != info.id:
        raise HTTPException(
            422, f"scoring #{body.scoring_id} is not one of your scorings on task {info.name}"
        )
    with state.account_lock(account.id):
        lock_account(session.connection(), account.id)
        final = session.get(Final, (info.id, account.id))
        if final is None:
            final = Final(task_id=info.id, account_id=account.id, scoring_id=scoring.id)
            session.add(final)
        final.scoring_id, final.declared_at = scoring.id, utcnow()
        session.flush()
    return FinalPublic(
        task=info.name,
        scoring_id=scoring.id,
        method=scoring.method,
        snapshot_id=scoring.snapshot_id,
        declared_at=final.declared_at,
    )


@router.get("/tasks/{name}/ranking", response_model=list[RankingRowOperator])
def ranking(
    name: str, _op: OperatorDep, session: SessionDep, state: StateDep
) -> list[RankingRowOperator]:
    """One row per researcher, its chosen group's public and private PGR, by private PGR."""
    info = task_info(session, state.task_cache, name, operator=True)
    resolution = state.settings.score_resolution
    mine: dict[str, dict[GroupKey, list[Scoring]]] = defaultdict(dict)
    for key, members in visible_groups(session, info.id).items():
        mine[key[0]][key] = members
    finals = _finals(session, info)
    rows = []
    for researcher, groups in mine.items():
        publics = {key: public_score(info, members, resolution) for key, members in groups.items()}
        final = finals.get(researcher)
        if final is not None and final[1] in groups:
            key, chosen_by = final[1], "final"
        else:
            key, chosen_by = _best_by_public(groups, publics), "public"
        rows.append(
            RankingRowOperator(
                researcher=researcher,
                method=key[1],
                snapshot_id=key[2],
                public_pgr=publics[key],
                private_pgr=score_of([s.private_pgr for s in groups[key]]),
                chosen_by=chosen_by,
                final_scoring_id=None if final is None else final[0],
                private_noise=_private_noise(info, groups[key]),
            )
        )
    return sorted(rows, key=lambda r: -r.private_pgr.mean)


def _private_noise(info: TaskInfo, members: list[Scoring]) -> float:
    """sqrt(a (1 − a) / n) / gap on the private half, at the group's mean private accuracy."""
    accuracy = float(np.mean([s.private_acc for s in members]))
    half = Half(accuracy=accuracy, pgr=0.0, n=info.n_test - info.n_public,
                gap=info.ceiling[1] - info.weak[1])  # fmt: skip
    return pgr_se(half) if half.gap > 0 and half.n > 0 else 0.0


def _finals(session: Session, info: TaskInfo) -> dict[str, tuple[int, GroupKey]]:
    """researcher → (declared scoring id, the group it belongs to)."""
    query = (
        select(Account.name, Scoring)
        .join(Final, Final.account_id == Account.id)
        .join(Scoring, Scoring.id == Final.scoring_id)
        .where(Final.task_id == info.id)
    )
    return {
        name: (scoring.id, (name, scoring.method, scoring.snapshot_id))
        for name, scoring in session.execute(query).all()
    }


def _best_by_public(
    groups: dict[GroupKey, list[Scoring]], publics: dict[GroupKey, Score]
) -> GroupKey:
    def order(key: GroupKey) -> tuple[float, int, int]:
        return publics[key].mean, publics[key].n, max(s.id for s in groups[key])

    return max(groups, key=order)
