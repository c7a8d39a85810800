"""The leaderboard, built only from the hub's own scorings.

Rows group scorings by (researcher, method, snapshot) with the mean PGR, its standard error
over the group's seeds and the count. Quarantined scorings are left out of every view until
the operator clears them. Researchers get the public view, computed from the same shown
numbers each of them was already told (under the Ladder rule, only released scores); the
operator also sees private PGR and cleared flags, and ``view=private`` sorts by private PGR.
The final ranking, one chosen group per researcher, is ``aar.hub.routers.ranking``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, HTTPException
from sqlalchemy import select
from sqlalchemy.orm import Session

from aar.core.pgr import estimate
from aar.hub.deps import AccountDep, SessionDep, StateDep
from aar.hub.models import Account, Scoring
from aar.hub.routers.tasks import TaskInfo, is_operator, task_info
from aar.hub.schemas import LeaderboardRowOperator, LeaderboardRowPublic, Score
from aar.hub.scoring import round_to, shown_public
from aar.hub.state import HubState

router = APIRouter(tags=["leaderboard"])
GroupKey = tuple[str, str, str | None]
"""(researcher, method, snapshot id)"""


def score_of(values: list[float], resolution: float | None = None) -> Score:
    e = estimate(values)
    if resolution is None:
        return Score(mean=e.mean, se=e.se, n=e.n)
    se = None if e.se is None else round_to(e.se, resolution / 10)
    return Score(mean=round_to(e.mean, resolution / 10), se=se, n=e.n)


def visible_groups(
    session: Session, task_id: int, *, released_only: bool = False
) -> dict[GroupKey, list[Scoring]]:
    """The task's scorings that are not quarantined, grouped, each group in id order."""
    query = (
        select(Scoring, Account.name)
        .join(Account)
        .where(Scoring.task_id == task_id, Scoring.quarantined.is_(False))
        .order_by(Scoring.id)
    )
    if released_only:
        query = query.where(Scoring.released)
    groups: dict[GroupKey, list[Scoring]] = defaultdict(list)
    for scoring, researcher in session.execute(query).all():
        groups[(researcher, scoring.method, scoring.snapshot_id)].append(scoring)
    return groups


def shown_pgr(info: TaskInfo, scoring: Scoring, resolution: float) -> float:
    """The public PGR the researcher was shown for ``scoring`` (had it been released)."""
    return shown_public(scoring.public_acc, info.weak[0], info.ceiling[0], resolution)[1]


def public_score(info: TaskInfo, members: Iterable[Scoring], resolution: float) -> Score:
    return score_of([shown_pgr(info, s, resolution) for s in members], resolution)


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
    operator = is_operator(account)
    if view == "private" and not operator:
        raise HTTPException(403, "the private view is for the operator only")
    info = task_info(session, state.task_cache, name, operator=operator)
    groups = visible_groups(session, info.id, released_only=not operator)
    board = [_row(state, info, key, members, operator) for key, members in groups.items()]
    if view == "private":
        private = [r for r in board if isinstance(r, LeaderboardRowOperator)]
        return sorted(private, key=lambda r: -r.private_pgr.mean)
    return sorted(board, key=lambda r: -r.public_pgr.mean)


def _row(
    state: HubState, info: TaskInfo, key: GroupKey, members: list[Scoring], operator: bool
) -> LeaderboardRowPublic:
    researcher, method, snapshot = key
    public = public_score(info, members, state.settings.score_resolution)
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
        private_pgr=score_of([s.private_pgr for s in members]),
        flagged=sum(s.flagged for s in members),
    )
