"""Submissions: score a full prediction vector on both halves, answer with the public half only.

The answer is the public accuracy rounded to the hub's resolution and the PGR computed from
that rounded accuracy and the task's published (rounded) weak and ceiling: no counts, no
per-item feedback, nothing about the private half. With ``feedback="ladder"`` a score is
released only when it beats the researcher's best released score on the task by
``ladder_margin``; otherwise the answer repeats that best (``released`` is False).

Each researcher has an hourly and a total budget (HTTP 429 beyond it). A ``snapshot_id`` must
name one of the submitter's own snapshots (422). Every submission passes the rules of
``aar.hub.flags``; one that trips any is flagged and quarantined (out of the leaderboards and
the ranking) until the operator clears it with ``POST /scorings/{id}/clear``. The answer does
not say so.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Connection, func, insert, select
from sqlalchemy.orm import Session

from aar.hub.budgets import budget_of, exhausted
from aar.hub.db import lock_account
from aar.hub.deps import OperatorDep, SessionDep, in_one_hop
from aar.hub.flags import Candidate, Half, History, Rules, flag_reasons
from aar.hub.models import Account, Scoring, Task, utcnow
from aar.hub.routers.snapshots import lookup_snapshot
from aar.hub.routers.tasks import TaskInfo, task_info
from aar.hub.schemas import (
    ClearCreate,
    ScoringDetailOperator,
    ScoringOperator,
    SubmissionCreate,
    SubmissionPublic,
)
from aar.hub.scoring import from_bytes, half_accuracies, pgr_value, round_to, shown_public, to_bytes
from aar.hub.settings import HubSettings
from aar.hub.state import HubState

router = APIRouter(tags=["submissions"])


class BudgetExhausted(HTTPException):
    def __init__(self, reason: str, resets_at: datetime | None) -> None:
        when = f"; it resets at {resets_at.isoformat()}" if resets_at else "; it does not reset"
        super().__init__(429, reason + when)
        self.resets_at = resets_at


def budget_response(error: BudgetExhausted) -> JSONResponse:
    headers = {}
    if error.resets_at is not None:
        seconds = max(1, int((error.resets_at - utcnow()).total_seconds()) + 1)
        headers["Retry-After"] = str(seconds)
    resets = error.resets_at.isoformat() if error.resets_at else None
    return JSONResponse({"detail": error.detail, "resets_at": resets}, 429, headers=headers)


@router.post(
    "/tasks/{name}/submissions",
    response_model=SubmissionPublic,
    status_code=201,
    responses={429: {"description": "budget exhausted; Retry-After says when it resets"}},
)
async def submit(name: str, body: SubmissionCreate, request: Request) -> SubmissionPublic:
    """Score predictions for the task's test set (never the pool)."""
    work = partial(_submit, request.app.state.hub, name, body)
    return await in_one_hop(request, work, write=True, role="researcher")


def _submit(
    state: HubState, name: str, body: SubmissionCreate, session: Session, account: Account
) -> SubmissionPublic:
    task = task_info(session, state.task_cache, name, operator=False)
    predictions = _validated(body.predictions, task)
    snapshot_flag = _checked_snapshot(session, body.snapshot_id, account)
    settings = state.settings
    # Core statements on the session's connection: the ORM's unit of work costs more than
    # the whole scoring on this, the hub's busiest path.
    connection = session.connection()
    with state.account_lock(account.id):
        lock_account(connection, account.id)
        budget = budget_of(connection, account, settings)
        refusal = exhausted(connection, account, budget)
        if refusal is not None:
            raise BudgetExhausted(*refusal)
        row = _scored(task, account, body, predictions)
        candidate = _candidate(task, row, predictions, body.snapshot_id, snapshot_flag)
        history = state.earlier.history(connection, account.id, task.id)
        row |= _flags(candidate, history, Rules.of(settings))
        shown_acc, released = _released(connection, account, task, row["public_acc"], settings)
        row["released"] = released
        insert_scoring = insert(Scoring).returning(Scoring.id)
        scoring_id = connection.execute(insert_scoring, row).scalar_one()
    accuracy, pgr = shown_public(
        shown_acc, task.weak[0], task.ceiling[0], settings.score_resolution
    )
    return SubmissionPublic(
        id=scoring_id,
        task=task.name,
        method=body.method,
        seed=body.seed,
        public_accuracy=accuracy,
        public_pgr=pgr,
        released=released,
        created_at=row["created_at"],
        budget=budget.model_copy(
            update={
                "used_this_hour": budget.used_this_hour + 1,
                "used_total": budget.used_total + 1,
            }
        ),
    )


def _validated(values: list[int], task: TaskInfo) -> np.ndarray:
    if len(values) != task.n_test:
        raise HTTPException(
            422,
            f"predictions has {len(values)} entries; task {task.name} has {task.n_test} test items",
        )
    array = np.asarray(values, dtype=np.int64)
    if array.min() < 0 or array.max() >= task.n_classes:
        raise HTTPException(422, f"predictions has labels outside 0..{task.n_classes - 1}")
    return array


def _checked_snapshot(session: Session, snapshot_id: str | None, account: Account) -> str | None:
    """Why the named snapshot is flagged (None: it is not, or none is named); 422 unless it
    exists and the submitter uploaded it (a borrowed snapshot would pass for the
    submitter's verified work)."""
    if snapshot_id is None:
        return None
    found = lookup_snapshot(session, snapshot_id)
    if found is None:
        raise HTTPException(
            422,
            f"snapshot_id {snapshot_id!r} names no snapshot on this hub; upload your "
            "workspace as a snapshot first and name the id it gets",
        )
    if found.account_id != account.id:
        raise HTTPException(
            422,
            f"snapshot_id {snapshot_id!r} is another researcher's snapshot; name one of your "
            "own (upload your workspace, with theirs as its parent if you built on it)",
        )
    return found.flag_reason


def _scored(
    task: TaskInfo, account: Account, body: SubmissionCreate, predictions: np.ndarray
) -> dict[str, Any]:
    """The new ``scorings`` row, both halves scored (the flags are added after)."""
    pub, priv = half_accuracies(predictions, task.labels, task.public)
    return {
        "task_id": task.id,
        "account_id": account.id,
        "method": body.method,
        "description": body.description,
        "seed": body.seed,
        "snapshot_id": body.snapshot_id,
        "predictions": to_bytes(predictions),
        "public_acc": pub,
        "private_acc": priv,
        "public_pgr": pgr_value(pub, task.weak[0], task.ceiling[0]),
        "private_pgr": pgr_value(priv, task.weak[1], task.ceiling[1]),
        "created_at": utcnow(),
    }


def _candidate(
    task: TaskInfo,
    row: dict[str, Any],
    predictions: np.ndarray,
    snapshot_id: str | None,
    snapshot_flag: str | None,
) -> Candidate:
    n_public = task.n_public
    weak, ceiling = task.weak, task.ceiling
    return Candidate(
        predictions=predictions,
        public=Half(row["public_acc"], row["public_pgr"], n_public, ceiling[0] - weak[0]),
        private=Half(
            row["private_acc"], row["private_pgr"], task.n_test - n_public, ceiling[1] - weak[1]
        ),
        gold_only=task.gold_only,
        snapshot_id=snapshot_id,
        snapshot_flag=snapshot_flag,
    )


def _flags(candidate: Candidate, history: History, rules: Rules) -> dict[str, Any]:
    """The new scoring's flag columns (every flag quarantines) and its nearest earlier one."""
    nearest = history.nearest(candidate.predictions)
    reasons = flag_reasons(candidate, history, nearest, rules)
    found = nearest[0] >= 0
    return {
        "nearest_id": int(history.ids[nearest[0]]) if found else None,
        "nearest_flips": nearest[1] if found else None,
        "flagged": bool(reasons),
        "flag_reason": "; ".join(reasons) or None,
        "quarantined": bool(reasons),
    }


def _released(
    connection: Connection, account: Account, task: TaskInfo, accuracy: float, settings: HubSettings
) -> tuple[float, bool]:
    """The public accuracy the answer shows, and whether it is this submission's own.

    Rounded feedback shows every score. The Ladder (Blum & Hardt 2015) shows a score only
    when it beats the researcher's best released one on the task by ``ladder_margin``, and
    otherwise repeats that best: a run of submissions that do not improve tells nothing.
    """
    if settings.feedback == "rounded":
        return accuracy, True
    best = connection.scalar(
        select(func.max(Scoring.public_acc)).where(
            Scoring.account_id == account.id, Scoring.task_id == task.id, Scoring.released
        )
    )
    if best is None:
        return accuracy, True
    shown_best = round_to(best, settings.score_resolution)
    if accuracy >= shown_best + settings.ladder_margin - 1e-12:
        return accuracy, True
    return best, False


# --- the operator's view -------------------------------------------------------------------


@router.get("/scorings", response_model=list[ScoringOperator])
def list_scorings(
    _op: OperatorDep,
    session: SessionDep,
    task: str | None = None,
    flagged: bool | None = None,
    quarantined: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    before: Annotated[
        int | None, Query(ge=1, le=2**62, description="only scorings with a lower id")
    ] = None,
) -> list[ScoringOperator]:
    """Every scoring with both halves, flags and quarantine (operator only), newest first;
    page with ``before`` set to the last id of the previous page."""
    query = select(Scoring, Task.name, Account.name).join(Task).join(Account)
    if before is not None:
        query = query.where(Scoring.id < before)
    if task is not None:
        query = query.where(Task.name == task)
    if flagged is not None:
        query = query.where(Scoring.flagged == flagged)
    if quarantined is not None:
        query = query.where(Scoring.quarantined == quarantined)
    rows = session.execute(query.order_by(Scoring.id.desc()).limit(limit)).all()
    return [operator_view(s, t, r) for s, t, r in rows]


@router.get("/scorings/{scoring_id}", response_model=ScoringDetailOperator)
def get_scoring(scoring_id: int, _op: OperatorDep, session: SessionDep) -> ScoringDetailOperator:
    """One scoring with its prediction vector (operator only)."""
    scoring, task, researcher = _find_scoring(session, scoring_id)
    view = operator_view(scoring, task, researcher)
    predictions = [int(v) for v in from_bytes(scoring.predictions)]
    return ScoringDetailOperator(**view.model_dump(), predictions=predictions)


@router.post("/scorings/{scoring_id}/clear", response_model=ScoringOperator)
def clear(
    scoring_id: int, body: ClearCreate, request: Request, operator: OperatorDep, session: SessionDep
) -> ScoringOperator:
    """Lift a scoring's quarantine, with the reason; its flag stays (operator only)."""
    request.state.audit_detail = {"clear": scoring_id, "reason": body.reason[:200]}
    return clear_scoring(session, scoring_id, operator, body.reason)


def clear_scoring(
    session: Session, scoring_id: int, operator: Account, reason: str
) -> ScoringOperator:
    """Put a quarantined scoring back on the leaderboards (the API and the dashboard share
    this); 404 for an unknown id, 409 if it is not quarantined."""
    scoring, task, researcher = _find_scoring(session, scoring_id)
    if not scoring.quarantined:
        raise HTTPException(409, f"scoring #{scoring_id} is not quarantined")
    scoring.quarantined = False
    scoring.cleared_by, scoring.cleared_at, scoring.clear_reason = operator.name, utcnow(), reason
    session.flush()
    return operator_view(scoring, task, researcher)


def _find_scoring(session: Session, scoring_id: int) -> tuple[Scoring, str, str]:
    query = select(Scoring, Task.name, Account.name).join(Task).join(Account)
    found = session.execute(query.where(Scoring.id == scoring_id)).first()
    if found is None:
        raise HTTPException(404, f"no scoring #{scoring_id}")
    scoring, task, researcher = found
    return scoring, task, researcher


def operator_view(scoring: Scoring, task: str, researcher: str) -> ScoringOperator:
    return ScoringOperator(
        id=scoring.id,
        task=task,
        researcher=researcher,
        method=scoring.method,
        description=scoring.description,
        seed=scoring.seed,
        snapshot_id=scoring.snapshot_id,
        public_accuracy=scoring.public_acc,
        private_accuracy=scoring.private_acc,
        public_pgr=scoring.public_pgr,
        private_pgr=scoring.private_pgr,
        flagged=scoring.flagged,
        flag_reason=scoring.flag_reason,
        quarantined=scoring.quarantined,
        cleared_by=scoring.cleared_by,
        cleared_at=scoring.cleared_at,
        clear_reason=scoring.clear_reason,
        created_at=scoring.created_at,
    )
