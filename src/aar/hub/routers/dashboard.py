"""The operator's dashboard: server-rendered pages (Jinja2 templates, SVG charts, plain forms).

    /dashboard/login      paste the operator token (kept in an HttpOnly, SameSite cookie)
    /dashboard            researchers, their status and budget use, with pause, resume, stop
                          and budget forms; tasks; flags
    /dashboard/tasks/X    the final ranking, leaderboards (public and private), PGR over time
    /dashboard/forum      posts, with quarantine and release, and the operator's guidance form
    /dashboard/flags      flagged scorings (aar.hub.flags), quarantined or cleared, with a
                          Clear form per quarantined one
    /dashboard/researchers/X   a researcher's transcript (TRANSCRIPTS/X.jsonl), newest first

Every page needs the operator's session (``aar.hub.dashboard_session``); anything else is
sent to the login page. The forms post to ``aar.hub.routers.controls``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from sqlalchemy import Integer, func, select, true

from aar.core.transcripts import read_transcript
from aar.hub.budgets import budget_of
from aar.hub.charts import pgr_over_time
from aar.hub.dashboard_session import (
    Operator,
    clear_message,
    csrf_token,
    operator_by_token,
    read_message,
    start_session,
)
from aar.hub.deps import SessionDep, StateDep
from aar.hub.models import Account, ModelCall, Post, Scoring, Task, utcnow
from aar.hub.routers.leaderboard import leaderboard
from aar.hub.routers.ranking import ranking
from aar.hub.state import OPERATOR

router = APIRouter(prefix="/dashboard", tags=["dashboard"], include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent.parent / "templates"))
TRANSCRIPT_ROWS = 300
MODEL_CALL_ROWS = 20


def render(request: Request, template: str, context: dict[str, Any]) -> Response:
    """A page with this session's CSRF token for its forms and the message left for it."""
    message = read_message(request)
    context = {**context, "csrf": csrf_token(request), "message": message}
    response = templates.TemplateResponse(request, template, context)
    if message is not None:  # shown once
        clear_message(response)
    return response


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, error: str = "") -> Response:
    return templates.TemplateResponse(request, "login.html", {"error": error})


@router.post("/login")
def login(token: Annotated[str, Form()], session: SessionDep) -> Response:
    if operator_by_token(session, token.strip()) is None:
        return RedirectResponse("/dashboard/login?error=not+the+operator+token", status_code=303)
    response = RedirectResponse("/dashboard", status_code=303)
    start_session(response, token.strip())
    return response


@router.get("", response_class=HTMLResponse)
def overview(
    request: Request, operator: Operator, session: SessionDep, state: StateDep
) -> Response:
    researchers = []
    for account in session.scalars(
        select(Account).where(Account.role != OPERATOR).order_by(Account.name)
    ):
        stats = session.execute(
            select(
                func.max(Scoring.public_pgr).filter(Scoring.quarantined.is_(False)),
                func.count(),
                func.sum(Scoring.flagged.cast(Integer)),
            ).where(Scoring.account_id == account.id)
        ).one()
        researchers.append(
            {
                "account": account,
                "budget": budget_of(session, account, state.settings),
                "best": stats[0],
                "scorings": stats[1],
                "flagged": stats[2] or 0,
            }
        )
    tasks = session.scalars(select(Task).order_by(Task.name)).all()
    flags, quarantined = session.execute(
        select(func.count(), func.count().filter(Scoring.quarantined)).where(
            Scoring.flagged == true()
        )
    ).one()
    context = {"researchers": researchers, "tasks": tasks, "now": utcnow()}
    return render(request, "overview.html", {**context, "flags": flags, "quarantined": quarantined})


@router.get("/tasks/{name}", response_class=HTMLResponse)
def task_page(
    name: str, request: Request, operator: Operator, session: SessionDep, state: StateDep
) -> Response:
    public = leaderboard(name, operator, session, state, view="public")
    private = leaderboard(name, operator, session, state, view="private")
    final = ranking(name, operator, session, state)
    series: dict[str, list[Any]] = defaultdict(list)
    rows = session.execute(
        select(Account.name, Scoring.created_at, Scoring.public_pgr)
        .join(Account)
        .join(Task)
        .where(Task.name == name)
        .order_by(Scoring.created_at)
    ).all()
    for researcher, at, value in rows:
        series[researcher].append((at, value))
    return render(
        request,
        "task.html",
        {
            "name": name,
            "public": public,
            "private": private,
            "ranking": final,
            "chart": Markup(pgr_over_time(dict(series))),
        },
    )


@router.get("/forum", response_class=HTMLResponse)
def forum_page(request: Request, operator: Operator, session: SessionDep) -> Response:
    posts = session.execute(
        select(Post, Account.name).join(Account).order_by(Post.created_at.desc()).limit(200)
    ).all()
    return render(request, "forum.html", {"posts": posts})


@router.get("/researchers/{name}", response_class=HTMLResponse)
def researcher_page(
    name: str, request: Request, operator: Operator, session: SessionDep, state: StateDep
) -> Response:
    account = session.scalar(select(Account).where(Account.name == name))
    if account is None:
        raise HTTPException(404, f"no researcher named {name!r}")
    path = state.settings.resolved_transcripts_dir / f"{account.name}.jsonl"
    steps = read_transcript(path) if path.is_file() else []
    context = {
        "account": account,
        "path": path,
        "steps": [transcript_row(step) for step in reversed(steps[-TRANSCRIPT_ROWS:])],
        "total": len(steps),
        "dollars": sum(float(s.get("cost_usd") or 0) for s in steps),
        "model_steps": sum(1 for s in steps if s.get("kind") == "model"),
        "calls": session.scalars(
            select(ModelCall)
            .where(ModelCall.account_id == account.id)
            .order_by(ModelCall.id.desc())
            .limit(MODEL_CALL_ROWS)
        ).all(),
    }
    return render(request, "researcher.html", context)


def transcript_row(step: dict[str, Any]) -> dict[str, str]:
    """One transcript line as a table row: when, what, and a short summary."""
    kind = str(step.get("kind", "?"))
    if kind == "tool":
        what = f"{step.get('name')}({_short(step.get('arguments'), 160)})"
        summary = ("error: " if step.get("is_error") else "") + _short(step.get("result"), 300)
    elif kind == "model":
        calls = ", ".join(str(c.get("name")) for c in step.get("tool_calls") or [])
        what = f"model → {calls or 'text'}"
        summary = f"${float(step.get('cost_usd') or 0):.4f}  " + _short(step.get("text"), 300)
    else:
        what = str(step.get("event", kind))
        summary = _short({k: v for k, v in step.items() if k not in {"step", "at", "kind"}}, 300)
    return {"step": str(step.get("step", "")), "at": str(step.get("at", ""))[:19],
            "kind": kind, "what": what, "summary": summary}  # fmt: skip


def _short(value: Any, limit: int) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@router.get("/flags", response_class=HTMLResponse)
def flags_page(request: Request, operator: Operator, session: SessionDep) -> Response:
    rows = session.execute(
        select(Scoring, Account.name, Task.name)
        .join(Account)
        .join(Task)
        .where(Scoring.flagged)
        .order_by(Scoring.id.desc())
        .limit(500)
    ).all()
    return render(request, "flags.html", {"rows": rows})
