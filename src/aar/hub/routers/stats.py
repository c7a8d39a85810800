"""Counts of what the hub holds (operator only): for dashboards, benchmarks and checks."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import func, select

from aar.hub.deps import OperatorDep, SessionDep
from aar.hub.models import Account, AuditEntry, Post, Scoring, Snapshot, Task

router = APIRouter(tags=["stats"])


@router.get("/stats")
def stats(_op: OperatorDep, session: SessionDep) -> dict[str, int]:
    """How many accounts, tasks, scorings (and flagged ones), posts, snapshots, audit entries."""
    counts = {
        "accounts": select(func.count(Account.id)),
        "tasks": select(func.count(Task.id)),
        "scorings": select(func.count(Scoring.id)),
        "flagged": select(func.count(Scoring.id)).where(Scoring.flagged),
        "posts": select(func.count(Post.id)),
        "snapshots": select(func.count(Snapshot.id)),
        "audit": select(func.count(AuditEntry.id)),
    }
    return {name: session.scalar(query) or 0 for name, query in counts.items()}
