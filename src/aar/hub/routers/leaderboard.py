"""The leaderboard, built only from the hub's own scorings.

Rows group scorings by (researcher, method, snapshot) with the mean PGR, its standard error
over the group's seeds and the count. Researchers get the public view, computed from the
same rounded numbers each of them was already shown; the operator also sees private PGR and
flags, and ``view=private`` ranks by private PGR: the final ranking.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, HTTPException
from sqlalchemy import select

from aar.core.pgr import estimate
from aar.hub.deps import AccountDep, SessionDep, StateDep
from aar.hub.models import Account, Scoring
from aar.hub.routers.tasks import find_task
from aar.hub.schemas import LeaderboardRowOperator, LeaderboardRowPublic, Score
from aar.hub.scoring import round_to
from aar.hub.state import OPERATOR

router = APIRouter(tags=["leaderboard"])


def _score(values: list[float], resolution: float | None = None) -> Score:
    e = estimate(values)
    if resolution is None:
        return Score(mean=e.mean, se=e.se, n=e.n)
    se = None if e.se is None else round_to(e.se, resolution / 10)
    return Score(mean=round_to(e.mean, resolution / 10), se=se, n=e.n)


@router.get(
    "/tasks/{name}/leaderboard",
    response_model=list[LeaderboardRowOperator] | list[LeaderboardRowPublic],
)
def leaderboard(
    name: str,
    account: AccountDep,
    session: SessionDep,
    state: StateDep,
    view: Literal["public", "private"] = "public",
) -> list[LeaderboardRowOperator] | list[LeaderboardRowPublic]:
    """Best first: by public PGR, or by private PGR with ``view=private`` (operator only)."""
    operator = account.role == OPERATOR
    if view == "private" and not operator:
        raise HTTPException(403, "the private view is for the operator only")
    task = find_task(session, name)
    rows = session.execute(
        select(Scoring, Account.name).join(Account).where(Scoring.task_id == task.id)
    ).all()
    groups: dict[tuple[str, str, str | None], list[Scoring]] = defaultdict(list)
    for scoring, researcher in rows:
        groups[(researcher, scoring.method, scoring.snapshot_id)].append(scoring)
    resolution = state.settings.score_resolution
    board = [_row(key, members, resolution, operator) for key, members in groups.items()]
    if view == "private":
        private = [r for r in board if isinstance(r, LeaderboardRowOperator)]
        return sorted(private, key=lambda r: -r.private_pgr.mean)
    return sorted(board, key=lambda r: -r.public_pgr.mean)


def _row(
    key: tuple[str, str, str | None], members: list[Scoring], resolution: float, operator: bool
) -> LeaderboardRowPublic:
    researcher, method, snapshot = key
    public = _score([round_to(s.public_pgr, resolution) for s in members], resolution)
    last_at: datetime = max(s.created_at for s in members)
    if not operator:
        return LeaderboardRowPublic(
            researcher=researcher,
            method=method,
            snapshot_id=snapshot,
            public_pgr=public,
            last_at=last_at,
        )
    return LeaderboardRowOperator(
        researcher=researcher,
        method=method,
        snapshot_id=snapshot,
        public_pgr=public,
        last_at=last_at,
        private_pgr=_score([s.private_pgr for s in members]),
        flagged=sum(s.flagged for s in members),
    )
