"""The operator's dashboard session: login cookies, the CSRF token of its forms, one-off messages.

Logging in sets two cookies, both HttpOnly and SameSite=Strict: the operator's token (what
authenticates every page) and a random session id made at that login. Every form carries a
CSRF token, ``HMAC-SHA256(key=operator token, message=session id)``, in a hidden field, and
a POST whose field does not match is refused (403) before it touches anything.

Why both: SameSite=Strict already keeps other sites' forms from sending the cookies, but
not every browser or proxy honours it; the token needs the operator's token to compute,
which another site cannot read. Nothing is stored on the server, and a new login makes a
new session id, so the forms of an older session stop working.

After a form the dashboard redirects (303) to a page that shows one message, passed in a
short-lived cookie (``flash``) that the page clears.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated, Any
from urllib.parse import quote, unquote

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from aar.hub.deps import db_session
from aar.hub.models import Account
from aar.hub.security import OPERATOR_COOKIE, hash_token
from aar.hub.state import OPERATOR

COOKIE = OPERATOR_COOKIE
SESSION_COOKIE = "aar_session"
FLASH_COOKIE = "aar_flash"
CSRF_FIELD = "csrf"
PATH = "/dashboard"
FLASH_MAX_CHARS = 500


class LoginRequired(Exception):  # noqa: N818 (control flow, turned into a redirect)
    pass


class CsrfRefused(Exception):  # noqa: N818 (control flow, turned into a 403 page)
    pass


class ActionRefused(Exception):  # noqa: N818 (control flow, turned into a redirect)
    """An operator action that could not apply: its transaction is rolled back, and the
    operator is sent back to ``back`` with ``message``."""

    def __init__(self, message: str, back: str) -> None:
        super().__init__(message)
        self.message, self.back = message, back


# --- login ---------------------------------------------------------------------------------


def operator_by_token(session: Session, token: str) -> Account | None:
    account = session.scalar(select(Account).where(Account.token_hash == hash_token(token)))
    return account if account is not None and account.role == OPERATOR else None


def start_session(response: Response, token: str) -> None:
    """Log in: the token and a fresh session id go into HttpOnly, SameSite=Strict cookies."""
    for name, value in ((COOKIE, token), (SESSION_COOKIE, secrets.token_urlsafe(32))):
        response.set_cookie(name, value, httponly=True, samesite="strict")


def dashboard_operator(
    request: Request, session: Annotated[Session, Depends(db_session)]
) -> Account:
    """The operator behind the session cookies; anyone else goes to the login page."""
    token = request.cookies.get(COOKIE, "")
    account = operator_by_token(session, token) if token else None
    if account is None or not request.cookies.get(SESSION_COOKIE):
        raise LoginRequired
    request.state.actor = account.name
    return account


Operator = Annotated[Account, Depends(dashboard_operator)]


# --- CSRF ----------------------------------------------------------------------------------


def csrf_token(request: Request) -> str:
    """The token every form of this session carries (empty without a session)."""
    token, session_id = request.cookies.get(COOKIE, ""), request.cookies.get(SESSION_COOKIE, "")
    if not token or not session_id:
        return ""
    return hmac.new(token.encode(), session_id.encode(), hashlib.sha256).hexdigest()


def form_operator(
    request: Request, operator: Operator, csrf: Annotated[str, Form()] = ""
) -> Account:
    """The operator, for a form POST that carries this session's CSRF token."""
    expected = csrf_token(request)
    if not expected or not hmac.compare_digest(csrf.encode(), expected.encode()):
        raise CsrfRefused
    return operator


OperatorForm = Annotated[Account, Depends(form_operator)]


def csrf_refused_page(request: Request) -> HTMLResponse:
    request.state.audit_detail = {"refused": "missing or wrong CSRF token"}
    return HTMLResponse(
        "<h1>Refused</h1><p>This form is out of date or did not come from the dashboard. "
        '<a href="/dashboard">Reload the dashboard</a> and try again.</p>',
        status_code=403,
    )


# --- one-off messages ----------------------------------------------------------------------


def redirect_with_message(back: str, message: str, *, error: bool = False) -> RedirectResponse:
    response = RedirectResponse(back, status_code=303)
    value = quote(("error:" if error else "ok:") + message[:FLASH_MAX_CHARS], safe="")
    response.set_cookie(
        FLASH_COOKIE, value, max_age=60, path=PATH, httponly=True, samesite="strict"
    )
    return response


def read_message(request: Request) -> dict[str, Any] | None:
    """The message left for this page: ``{"error": bool, "text": str}``, or None."""
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    kind, _, text = unquote(raw).partition(":")
    return {"error": kind == "error", "text": text}


def clear_message(response: Response) -> None:
    response.delete_cookie(FLASH_COOKIE, path=PATH, httponly=True, samesite="strict")


def refused_redirect(request: Request, error: ActionRefused) -> RedirectResponse:
    detail = getattr(request.state, "audit_detail", None) or {}
    request.state.audit_detail = {**detail, "refused": error.message}
    return redirect_with_message(error.back, error.message, error=True)
