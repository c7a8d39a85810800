"""Submission budgets per researcher: a rolling hour and a total, operator-adjustable."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from aar.hub.models import Account, Scoring, utcnow
from aar.hub.schemas import BudgetPublic
from aar.hub.settings import HubSettings

HOUR = timedelta(hours=1)


def budget_of(
    session: Session | Connection, account: Account, settings: HubSettings
) -> BudgetPublic:
    since = utcnow() - HOUR
    counts = select(func.count(), func.count().filter(Scoring.created_at >= since))
    used_total, used_hour = session.execute(counts.where(Scoring.account_id == account.id)).one()
    return BudgetPublic(
        per_hour=account.per_hour or settings.submissions_per_hour,
        total=account.total or settings.submissions_total,
        used_this_hour=used_hour,
        used_total=used_total,
    )


def exhausted(
    session: Session | Connection, account: Account, budget: BudgetPublic
) -> tuple[str, datetime | None] | None:
    """Why the next submission is refused and when that resets (None: it is allowed)."""
    if budget.used_total >= budget.total:
        return f"total budget of {budget.total} submissions used", None
    if budget.used_this_hour >= budget.per_hour:
        oldest = session.scalar(
            select(func.min(Scoring.created_at)).where(
                Scoring.account_id == account.id, Scoring.created_at >= utcnow() - HOUR
            )
        )
        resets = (oldest or utcnow()) + HOUR
        return f"hourly budget of {budget.per_hour} submissions used", resets
    return None
