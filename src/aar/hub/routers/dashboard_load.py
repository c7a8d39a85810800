"""The operator's dashboard pages about hostile load: snapshots with the scan's flags, and the
newest audit rows (tool calls a researcher claims, requests the rate limits refused).

    /dashboard/snapshots   the newest snapshots; flagged ones first, with the scan's reason
    /dashboard/audit       the newest audit rows; ?kind=tool_call|request|rate_limited

Same session and templates as ``aar.hub.routers.dashboard``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from aar.hub.dashboard_session import Operator
from aar.hub.deps import SessionDep, StateDep
from aar.hub.models import Account, AuditEntry, Snapshot
from aar.hub.routers.dashboard import render
from aar.hub.schemas import AuditEntryOperator

router = APIRouter(prefix="/dashboard", tags=["dashboard"], include_in_schema=False)
ROWS = 300


@router.get("/snapshots", response_class=HTMLResponse)
def snapshots_page(request: Request, operator: Operator, session: SessionDep) -> Response:
    newest = select(Snapshot, Account.name).join(Account, Snapshot.account_id == Account.id)
    rows = session.execute(newest.order_by(Snapshot.created_at.desc()).limit(ROWS)).all()
    flagged = [row for row in rows if row[0].flag_reason is not None]
    return render(request, "snapshots.html", {"flagged": flagged, "rows": rows})


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    operator: Operator,
    session: SessionDep,
    state: StateDep,
    kind: str | None = None,
) -> Response:
    state.audit.flush()
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(ROWS)
    if kind:
        query = query.where(AuditEntry.kind == kind)
    entries = [AuditEntryOperator.model_validate(e) for e in session.scalars(query)]
    return render(request, "audit.html", {"entries": entries, "kind": kind or ""})
