"""Submissions: score a full prediction vector on both halves, answer with the public half only.

The answer is the public accuracy and PGR rounded to the hub's resolution: no counts, no
per-item feedback, nothing about the private half. Each researcher has an hourly and a total
budget (HTTP 429 beyond it), and a submission within ``probe_distance`` flipped predictions
of one of the same researcher's earlier submissions is flagged for the operator.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Connection, insert, select, text
from sqlalchemy.orm import Session

from aar.hub.budgets import budget_of, exhausted
from aar.hub.deps import OperatorDep, SessionDep, in_one_hop
from aar.hub.models import Account, Scoring, Task, utcnow
from aar.hub.routers.tasks import TaskInfo, task_info
from aar.hub.schemas import ScoringOperator, SubmissionCreate, SubmissionPublic
from aar.hub.scoring import (
    half_accuracies,
    pgr_value,
    round_to,
    to_bytes,
)
from aar.hub.settings import HubSettings
from aar.hub.state import HubState

router = APIRouter(tags=["submissions"])
ACCOUNT_LOCK_SPACE = 0x6161_7273  # "aars": advisory locks per account (two-key form)


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
    task = task_info(session, state.task_cache, name)
    predictions = _validated(body.predictions, task)
    settings = state.settings
    # Core statements on the session's connection: the ORM's unit of work costs more than
    # the whole scoring on this, the hub's busiest path.
    connection = session.connection()
    with state.account_lock(account.id):
        _lock_account_across_processes(connection, account.id)
        budget = budget_of(connection, account, settings)
        refusal = exhausted(connection, account, budget)
        if refusal is not None:
            raise BudgetExhausted(*refusal)
        nearest = state.earlier.nearest(connection, account.id, task.id, predictions)
        row = _scored(task, account, body, predictions, _flag(predictions, nearest, settings))
        insert_scoring = insert(Scoring).returning(Scoring.id)
        scoring_id = connection.execute(insert_scoring, row).scalar_one()
    resolution = settings.score_resolution
    return SubmissionPublic(
        id=scoring_id,
        task=task.name,
        method=body.method,
        seed=body.seed,
        public_accuracy=round_to(row["public_acc"], resolution),
        public_pgr=round_to(row["public_pgr"], resolution),
        created_at=row["created_at"],
        budget=budget.model_copy(
            update={
                "used_this_hour": budget.used_this_hour + 1,
                "used_total": budget.used_total + 1,
            }
        ),
    )


def _lock_account_across_processes(connection: Connection, account_id: int) -> None:
    """On PostgreSQL, hold the account's advisory lock until the transaction ends, so hub
    processes sharing the database cannot both pass a budget check for the last submission."""
    if connection.dialect.name == "postgresql":
        lock = text("SELECT pg_advisory_xact_lock(:space, :account)")
        connection.execute(lock, {"space": ACCOUNT_LOCK_SPACE, "account": account_id})


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


def _flag(
    predictions: np.ndarray, nearest: tuple[int, int] | None, settings: HubSettings
) -> str | None:
    """Why the operator should look at this submission: a probe, or a trivial answer prior."""
    reasons = []
    if nearest is not None and nearest[1] <= settings.probe_distance:
        reasons.append(
            f"label probing? {nearest[1]} flipped prediction(s) from scoring #{nearest[0]}"
        )
    counts = np.bincount(predictions)
    if counts.max() >= settings.trivial_fraction * len(predictions):
        share = counts.max() / len(predictions)
        reasons.append(f"trivial prior? {share:.0%} of predictions are label {counts.argmax()}")
    return "; ".join(reasons) or None


def _scored(
    task: TaskInfo,
    account: Account,
    body: SubmissionCreate,
    predictions: np.ndarray,
    reason: str | None,
) -> dict[str, Any]:
    """The new ``scorings`` row: both halves scored, with the operator's flag if any."""
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
        "flagged": reason is not None,
        "flag_reason": reason,
        "created_at": utcnow(),
    }


@router.get("/scorings", response_model=list[ScoringOperator])
def list_scorings(
    _op: OperatorDep,
    session: SessionDep,
    task: str | None = None,
    flagged: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[ScoringOperator]:
    """Every scoring with both halves and flags (operator only), newest first."""
    query = select(Scoring, Task.name, Account.name).join(Task).join(Account)
    if task is not None:
        query = query.where(Task.name == task)
    if flagged is not None:
        query = query.where(Scoring.flagged == flagged)
    rows = session.execute(query.order_by(Scoring.id.desc()).limit(min(max(limit, 1), 5000))).all()
    return [
        ScoringOperator(
            id=s.id,
            task=t,
            researcher=r,
            method=s.method,
            description=s.description,
            seed=s.seed,
            snapshot_id=s.snapshot_id,
            public_accuracy=s.public_acc,
            private_accuracy=s.private_acc,
            public_pgr=s.public_pgr,
            private_pgr=s.private_pgr,
            flagged=s.flagged,
            flag_reason=s.flag_reason,
            created_at=s.created_at,
        )
        for s, t, r in rows
    ]
