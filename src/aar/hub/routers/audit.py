"""The audit log: every request is recorded by the app's middleware; researchers append the
tool calls they make; the operator reads and exports it. Nothing updates or deletes a row
(the database refuses it too).

Rows an account writes itself are its claims, not the hub's records: they are always kind
``tool_call`` with ``detail["claimed"] = True`` and the writer as actor, whatever the body
says (its fields are nested under ``arguments``/``result``, never at the top of ``detail``),
and the operator's views show them as ``claimed_by`` that account. Only the hub writes kind
``request`` (one per HTTP request) and ``rate_limited`` (refused requests, one row per caller
per interval)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from sqlalchemy import select

from aar.hub.deps import AccountDep, OperatorDep, SessionDep, StateDep
from aar.hub.models import AuditEntry
from aar.hub.schemas import AuditEntryOperator, ToolCallCreate

router = APIRouter(tags=["audit"])


@router.post("/audit/tool-calls", status_code=201)
def record_tool_call(
    body: ToolCallCreate, account: AccountDep, session: SessionDep
) -> dict[str, int]:
    """Append one tool call (name, arguments, result summary, tokens, wall time), marked as
    claimed by the caller."""
    entry = AuditEntry(
        actor=account.name,
        kind="tool_call",
        action=body.tool,
        status=0,
        duration_ms=body.wall_ms,
        detail={
            "claimed": True,
            "arguments": body.arguments,
            "result": body.result_summary,
            "tokens": body.tokens,
        },
    )
    session.add(entry)
    session.flush()
    return {"id": entry.id}


@router.get("/audit", response_model=list[AuditEntryOperator])
def read_audit(
    _op: OperatorDep,
    session: SessionDep,
    state: StateDep,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    actor: str | None = None,
    kind: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[AuditEntry]:
    """Entries with id > ``after``, oldest first (page with the last id you saw)."""
    state.audit.flush()
    query = select(AuditEntry).where(AuditEntry.id > after)
    if actor is not None:
        query = query.where(AuditEntry.actor == actor)
    if kind is not None:
        query = query.where(AuditEntry.kind == kind)
    return list(session.scalars(query.order_by(AuditEntry.id).limit(min(max(limit, 1), 10_000))))


@router.get("/audit/export")
def export_audit(_op: OperatorDep, state: StateDep) -> StreamingResponse:
    """The whole log as JSON lines."""
    state.audit.flush()

    def lines() -> Iterator[str]:
        with state.sessions() as session:
            for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.id)).yield_per(
                1000
            ):
                row = AuditEntryOperator.model_validate(entry).model_dump(mode="json")
                yield json.dumps(row) + "\n"

    return StreamingResponse(lines(), media_type="application/x-ndjson")
