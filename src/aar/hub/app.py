"""The FastAPI application, built by ``create_app(settings)``.

Nothing happens at import: the database engine, the schema upgrade and the operator's first
token are made when the app starts (its lifespan). Errors are JSON ``{"detail": "..."}``
with a 4xx status that names the problem.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from aar import __version__
from aar.hub.dashboard_session import (
    ActionRefused,
    CsrfRefused,
    LoginRequired,
    csrf_refused_page,
    refused_redirect,
)
from aar.hub.gateway.config import GATEWAY_PREFIX
from aar.hub.middleware import Audit, BodyLimit, RateLimit
from aar.hub.routers import (
    accounts,
    audit,
    controls,
    dashboard,
    dashboard_load,
    forum,
    gateway,
    leaderboard,
    ranking,
    snapshots,
    stats,
    submissions,
    tasks,
)
from aar.hub.routers.submissions import BudgetExhausted, budget_response
from aar.hub.settings import HubSettings
from aar.hub.state import HubState

ROUTERS = (
    accounts,
    tasks,
    submissions,
    leaderboard,
    ranking,
    forum,
    snapshots,
    audit,
    stats,
    dashboard,
    dashboard_load,
    controls,
    gateway,
)


def create_app(settings: HubSettings) -> FastAPI:
    state = HubState(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.start()
        yield
        if state.gateway is not None:
            await state.gateway.aclose()
        state.close()

    app = FastAPI(title="aar hub", version=__version__, lifespan=lifespan)
    app.state.hub = state
    for module in ROUTERS:
        app.include_router(module.router)
    _add_error_handlers(app)
    app.add_middleware(Audit, state=lambda: state)
    app.add_middleware(BodyLimit, limit_for=lambda path: _limit(settings, path))
    app.add_middleware(RateLimit, state=lambda: state)  # outermost: refusals cost least

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """Liveness: no token needed."""
        return {"status": "ok", "version": __version__}

    return app


def _limit(settings: HubSettings, path: str) -> int:
    if settings.gateway is not None and path.startswith(GATEWAY_PREFIX + "/"):
        return settings.gateway.max_body_bytes
    return (
        settings.snapshot_max_bytes
        if path.rstrip("/").endswith("/snapshots")
        else settings.max_body_bytes
    )


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, error: RequestValidationError) -> JSONResponse:
        problems = error.errors()
        first = problems[0] if problems else {"loc": (), "msg": "invalid request", "type": ""}
        if first.get("type") == "json_invalid":
            detail = "request body is not valid JSON"
        elif tuple(first["loc"]) == ("body",):
            detail = "request body must be a JSON object (Content-Type: application/json)"
        else:
            where = ".".join(str(p) for p in first["loc"] if p != "body") or "body"
            detail = f"{where}: {first['msg']}"
        # Echo where and what, never the input itself (it may be huge, or NaN).
        errors = [{k: p[k] for k in ("loc", "msg", "type") if k in p} for p in problems]
        return JSONResponse({"detail": detail, "errors": jsonable_encoder(errors)}, 422)

    @app.exception_handler(LoginRequired)
    async def to_login(_request: Request, _error: LoginRequired) -> RedirectResponse:
        return RedirectResponse("/dashboard/login", status_code=303)

    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, _error: CsrfRefused) -> HTMLResponse:
        return csrf_refused_page(request)

    @app.exception_handler(ActionRefused)
    async def action_refused(request: Request, error: ActionRefused) -> RedirectResponse:
        return refused_redirect(request, error)

    @app.exception_handler(BudgetExhausted)
    async def over_budget(_request: Request, error: BudgetExhausted) -> JSONResponse:
        return budget_response(error)
