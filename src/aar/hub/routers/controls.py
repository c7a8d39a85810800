"""The operator's controls on the dashboard: plain HTML forms, each answered with a redirect.

    POST /dashboard/researchers                 name (a new researcher account)
    POST /dashboard/researchers/{name}/status   status=active|paused|stopped
    POST /dashboard/researchers/{name}/budget   per_hour, total, add_total (blank: unchanged)
    POST /dashboard/forum/guidance              title, body, tags (comma-separated)
    POST /dashboard/forum/{post_id}/quarantine  reason
    POST /dashboard/forum/{post_id}/release
    POST /dashboard/scorings/{scoring_id}/clear reason (lifts a flagged scoring's quarantine)

Every form needs the operator's session and its CSRF token (``aar.hub.dashboard_session``).
Each action validates its input with the API's own schema and runs the API's own function
(``accounts.change_account``, ``forum.store_post``, ``forum.set_quarantine``,
``submissions.clear_scoring``), so the
dashboard and the API cannot disagree. The answer is a 303 back to the page with a message.
A refused action (unknown name, bad input) raises ``ActionRefused``: the request's
transaction rolls back, so nothing changes. The audit log records each request as usual,
with what the form asked and whether it was refused in ``detail``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from aar.hub.dashboard_session import ActionRefused, OperatorForm, redirect_with_message
from aar.hub.deps import SessionDep, StateDep
from aar.hub.routers.accounts import change_account, create_account
from aar.hub.routers.forum import PostCreate, QuarantineCreate, set_quarantine, store_post
from aar.hub.routers.submissions import clear_scoring
from aar.hub.schemas import AccountCreate, AccountUpdate, ClearCreate

router = APIRouter(prefix="/dashboard", tags=["dashboard"], include_in_schema=False)
OVERVIEW, FORUM, FLAGS = "/dashboard", "/dashboard/forum", "/dashboard/flags"
DONE = {"active": "resumed", "paused": "paused", "stopped": "stopped"}
FormText = Annotated[str, Form()]
M = TypeVar("M", bound=BaseModel)


@router.post("/researchers")
def add_researcher(
    request: Request,
    operator: OperatorForm,
    session: SessionDep,
    state: StateDep,
    name: FormText = "",
) -> Response:
    """Create a researcher account. A running campaign adopts it (with a token of its own)
    and starts it; its token is not shown here, since the campaign replaces it anyway."""

    def act() -> str:
        created = create_account(
            _parsed(AccountCreate, {"name": name}, OVERVIEW), operator, session, state
        )
        return f"researcher {created.name} added (a running campaign starts it)"

    return _run(request, OVERVIEW, {"add researcher": name[:64]}, act)


@router.post("/researchers/{name}/status")
def set_status(
    name: str,
    request: Request,
    _op: OperatorForm,
    session: SessionDep,
    state: StateDep,
    status: FormText = "",
) -> Response:
    """Pause, resume (``active``) or stop a researcher."""

    def act() -> str:
        update = _parsed(AccountUpdate, {"status": status}, OVERVIEW)
        account = change_account(session, state.settings, name, update)
        return f"{account.name} {DONE.get(account.status, account.status)}"

    return _run(request, OVERVIEW, {"researcher": name, "status": status}, act)


@router.post("/researchers/{name}/budget")
def set_budget(
    name: str,
    request: Request,
    _op: OperatorForm,
    session: SessionDep,
    state: StateDep,
    per_hour: FormText = "",
    total: FormText = "",
    add_total: FormText = "",
) -> Response:
    """Set the hourly or total budget, or extend (cut, when negative) the total."""
    fields = {"per_hour": per_hour, "total": total, "add_total": add_total}
    given = {key: value.strip() for key, value in fields.items() if value.strip()}

    def act() -> str:
        if not given:
            raise ActionRefused("nothing to change: fill in per hour, total or add", OVERVIEW)
        account = change_account(
            session, state.settings, name, _parsed(AccountUpdate, given, OVERVIEW)
        )
        budget = account.budget
        return (
            f"{account.name}: {budget.per_hour} per hour, {budget.total} in total "
            f"({budget.used_total} used)"
        )

    return _run(request, OVERVIEW, {"researcher": name, "budget": given}, act)


@router.post("/forum/guidance")
def post_guidance(
    request: Request,
    operator: OperatorForm,
    session: SessionDep,
    title: FormText = "",
    body: FormText = "",
    tags: FormText = "",
) -> Response:
    """Post guidance to the forum: researchers see it as a ``guidance`` post by the operator."""
    fields = {"kind": "guidance", "title": title, "body": body, "tags": _tags(tags)}

    def act() -> str:
        post = store_post(_parsed(PostCreate, fields, FORUM), session, operator)
        return f"guidance posted: {post.title}"

    return _run(request, FORUM, {"guidance": title[:200]}, act)


@router.post("/forum/{post_id}/quarantine")
def quarantine(
    post_id: str,
    request: Request,
    operator: OperatorForm,
    session: SessionDep,
    reason: FormText = "",
) -> Response:
    """Hide a post from researchers, with the reason."""

    def act() -> str:
        checked = _parsed(QuarantineCreate, {"reason": reason}, FORUM)
        set_quarantine(session, post_id, operator, checked.reason)
        return f"post {post_id} quarantined"

    return _run(request, FORUM, {"quarantine": post_id, "reason": reason[:200]}, act)


@router.post("/forum/{post_id}/release")
def release(
    post_id: str, request: Request, operator: OperatorForm, session: SessionDep
) -> Response:
    """Show a quarantined post to researchers again."""

    def act() -> str:
        set_quarantine(session, post_id, operator, None)
        return f"post {post_id} released"

    return _run(request, FORUM, {"release": post_id}, act)


@router.post("/scorings/{scoring_id}/clear")
def clear(
    scoring_id: int,
    request: Request,
    operator: OperatorForm,
    session: SessionDep,
    reason: FormText = "",
) -> Response:
    """Put a quarantined scoring back on the leaderboards, with the reason (the flag stays)."""

    def act() -> str:
        checked = _parsed(ClearCreate, {"reason": reason}, FLAGS)
        clear_scoring(session, scoring_id, operator, checked.reason)
        return f"scoring #{scoring_id} cleared"

    return _run(request, FLAGS, {"clear": scoring_id, "reason": reason[:200]}, act)


# --- helpers -------------------------------------------------------------------------------


def _run(request: Request, back: str, asked: dict[str, Any], act: Callable[[], str]) -> Response:
    """Do ``act`` and go back with its message; the API's refusals become ``ActionRefused``.

    The refusal is raised, not returned, so the request's transaction rolls back: some
    actions write before they find out (the forum numbers a change before it looks up the
    post), and a refused action must leave nothing behind.
    """
    request.state.audit_detail = {"dashboard": asked}
    try:
        message = act()
    except HTTPException as error:
        raise ActionRefused(str(error.detail), back) from error
    return redirect_with_message(back, message)


def _parsed(model: type[M], fields: dict[str, Any], back: str) -> M:
    """``fields`` checked by the API's schema; its first complaint is the operator's message."""
    try:
        return model.model_validate(fields)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "form"
        what = first["msg"].removeprefix("Value error, ")
        raise ActionRefused(f"{where}: {what}", back) from None


def _tags(text: str) -> list[str]:
    return [tag for tag in re.split(r"[,\s]+", text.strip().lower()) if tag]
