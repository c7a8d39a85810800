"""Counts of what the hub holds (operator only): for dashboards, benchmarks and checks.

Besides the rows: ``flagged_snapshots`` (flagged by the upload scan), ``archive_checks`` (uploads
being checked or waiting for a worker now) and ``rate_limited`` (requests refused with 429 by
the rate limits since the hub started).
"""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import func, select

from aar.hub.deps import OperatorDep, SessionDep, StateDep
from aar.hub.models import Account, AuditEntry, Post, Scoring, Snapshot, Task

router = APIRouter(tags=["stats"])


@router.get("/stats")
def stats(_op: OperatorDep, session: SessionDep, state: StateDep) -> dict[str, int]:
    """How many accounts, tasks, scorings (and flagged ones), posts, snapshots, audit entries."""
    counts = {
        "accounts": select(func.count(Account.id)),
        "tasks": select(func.count(Task.id)),
        "scorings": select(func.count(Scoring.id)),
        "flagged": select(func.count(Scoring.id)).where(Scoring.flagged),
        "posts": select(func.count(Post.id)),
        "snapshots": select(func.count(Snapshot.id)),
        "flagged_snapshots": select(func.count(Snapshot.id)).where(
            Snapshot.flag_reason.is_not(None)
        ),
        "audit": select(func.count(AuditEntry.id)),
    }
    found = {name: session.scalar(query) or 0 for name, query in counts.items()}
    live = {
        "archive_checks": state.archive_checks.admitted,
        "rate_limited": state.rate_limits.tally.total,
    }
    return found | live
