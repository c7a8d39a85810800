"""ASGI middleware: rate limits, a body-size limit and the audit record of every request.

``RateLimit`` is the outermost layer: a refused request costs a hash and a dict look-up, never
reaches the body limit, the audit middleware or the database, and is counted in the
``rate_limited`` audit rows of ``aar.hub.ratelimit.RefusalTally`` instead of a row of its own.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aar.hub.models import utcnow
from aar.hub.ratelimit import Refusal
from aar.hub.state import HubState


class RateLimit:
    """Answers 429 with Retry-After when the caller's bucket is empty (``aar.hub.ratelimit``)."""

    def __init__(self, app: ASGIApp, state: Callable[[], HubState]) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        hub = self.state()
        limits = hub.rate_limits
        client = scope.get("client")
        peer = client[0] if client and client[0] else "unix-socket"
        caller = limits.identify(scope["headers"], peer)
        refusal = limits.admit(caller, scope["method"], scope["path"])
        if refusal is not None:
            action = f"{scope['method']} {scope['path']}"[:200]
            for row in limits.tally.add(caller, action, refusal):
                hub.audit.record(row)
            await _too_many(send, refusal)
            return
        state = scope.setdefault("state", {})
        try:
            await self.app(scope, receive, send)
        finally:
            limits.learn(caller, state.get("actor"))


async def _too_many(send: Send, refusal: Refusal) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", b"application/json"),
                (b"retry-after", refusal.retry_after_header.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": json.dumps(refusal.body()).encode()})


class BodyTooLargeError(Exception):
    pass


class BodyLimit:
    """Refuses bodies over ``limit_for(path)`` bytes with 413, declared or streamed."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app, self.limit_for = app, limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(send, limit)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLargeError
            return message

        try:
            await self.app(scope, counted, send)
        except BodyTooLargeError:
            await _too_large(send, limit)


async def _too_large(send: Send, limit: int) -> None:
    message = f"request body is larger than the limit of {limit} bytes"
    # "error" in the shape both LLM vendors' clients read, for calls through the gateway
    error = {"type": "request_too_large", "message": message, "code": "request_too_large"}
    body = json.dumps({"detail": message, "type": "error", "error": error}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Audit:
    """Appends (who, what, when, status, duration) for every HTTP request to the audit log."""

    def __init__(self, app: ASGIApp, state: Callable[[], HubState]) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status, started = 500, time.perf_counter()

        async def watched(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            entry = _entry(scope, status, (time.perf_counter() - started) * 1000)
            entry["at"] = utcnow()
            self.state().audit.record(entry)


def _entry(scope: Scope, status: int, duration_ms: float) -> dict[str, Any]:
    """The audit row of one request; handlers name the caller (``request.state.actor``) and
    may say what it did (``request.state.audit_detail``: the dashboard's forms do, since
    their answer is a redirect whatever happened)."""
    query = scope.get("query_string", b"").decode(errors="replace")
    action = f"{scope['method']} {scope['path']}" + (f"?{query}" if query else "")
    state = scope.get("state", {})
    return {
        "actor": state.get("actor", "anonymous"),
        "kind": "request",
        "action": action[:256],
        "status": status,
        "duration_ms": duration_ms,
        "detail": dict(state.get("audit_detail", {})),
    }
