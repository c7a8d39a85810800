"""The LLM gateway's endpoints: model calls forwarded for researchers, the record for operators.

    POST /llm/{upstream}/v1/messages               Anthropic Messages (stream or not)
    POST /llm/{upstream}/v1/messages/count_tokens
    POST /llm/{upstream}/v1/chat/completions       OpenAI Chat Completions (stream or not)
    POST /llm/{upstream}/v1/responses              OpenAI Responses (stream or not; Codex CLI)
    GET  /llm/usage                                the caller's own spend and limits
    GET  /llm/upstreams                            operator: where it forwards, which models
    GET  /llm/calls?researcher=&after=&limit=      operator: the calls, newest last
    GET  /llm/calls/{id}                           operator: one call with its bodies

Tools the vendor would run itself (web search, code execution, remote MCP) are refused
(``aar.hub.gateway.hosted``): they would give a sandbox without network the internet.
A researcher's key is its hub token, sent as ``x-api-key`` or ``Authorization: Bearer`` (as
the official clients send a key). Every refusal comes in the vendor's error shape with
``x-should-retry: false`` (except a busy or paused researcher's, which may be retried), so an
agent shows the reason as it is.
"""

from __future__ import annotations

import gzip
import json
import time
from typing import Any

import anyio
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from aar.hub.deps import AccountDep, OperatorDep, SessionDep
from aar.hub.gateway.config import GATEWAY_PREFIX
from aar.hub.gateway.forward import Outgoing, forward, store
from aar.hub.gateway.hosted import vendor_side_work
from aar.hub.gateway.ledger import Caller, CallRecord, Refused, admit, spend_of
from aar.hub.gateway.service import Gateway, Ticket
from aar.hub.gateway.vendors import VENDORS, Vendor, is_responses, refusal
from aar.hub.models import Account, ModelCall, ModelCallPayload
from aar.hub.schemas import GatewayUpstream, ModelCallDetail, ModelCallPublic, ModelSpend
from aar.hub.security import bearer
from aar.hub.state import HubState

router = APIRouter(prefix=GATEWAY_PREFIX, tags=["gateway"])


@router.get("/usage", response_model=ModelSpend)
def usage(account: AccountDep) -> ModelSpend:
    """The caller's model spend through the gateway, and its limits (None: none)."""
    return spend_of(account)


@router.get("/upstreams", response_model=list[GatewayUpstream])
def upstreams(_op: OperatorDep, request: Request) -> list[GatewayUpstream]:
    """The upstreams researchers may call and their models (none: the hub has no gateway)."""
    gateway: Gateway | None = request.app.state.hub.gateway
    if gateway is None:
        return []
    return [
        GatewayUpstream(name=u.name, api=u.api, models=list(u.models),
                        holds_key=gateway.keys[u.name] is not None or u.missing_key() is None)
        for u in gateway.config.upstreams
    ]  # fmt: skip


@router.get("/calls", response_model=list[ModelCallPublic])
def calls(
    _op: OperatorDep,
    session: SessionDep,
    researcher: str | None = None,
    after: int = Query(0, ge=0, description="only calls with a larger id"),
    limit: int = Query(100, ge=1, le=1000),
) -> list[ModelCallPublic]:
    """Model calls in id order (page with ``after``), with who made them."""
    query = select(ModelCall, Account.name).join(Account).where(ModelCall.id > after)
    if researcher is not None:
        query = query.where(Account.name == researcher)
    rows = session.execute(query.order_by(ModelCall.id).limit(limit)).all()
    return [_public(call, name) for call, name in rows]


@router.get("/calls/{call_id}", response_model=ModelCallDetail)
def call_detail(call_id: int, _op: OperatorDep, session: SessionDep) -> ModelCallDetail:
    """One call with its request and response bodies (a stream as its SSE text)."""
    row = session.execute(
        select(ModelCall, Account.name).join(Account).where(ModelCall.id == call_id)
    ).one_or_none()
    if row is None:
        raise HTTPException(404, f"no model call {call_id}")
    payload = session.get(ModelCallPayload, call_id)
    request = _inflate(payload.request_gz) if payload else None
    response = _inflate(payload.response_gz) if payload else None
    base = _public(*row).model_dump()
    return ModelCallDetail(**base, request=request, response=response)


@router.post("/{upstream_name}/{path:path}")
async def call_model(upstream_name: str, path: str, request: Request) -> Response:
    """Forward a model call for the researcher whose token is its key (module docstring)."""
    started = time.perf_counter()
    hub: HubState = request.app.state.hub
    gateway = hub.gateway
    if gateway is None:
        raise HTTPException(404, "this hub has no LLM gateway (aar serve --gateway FILE)")
    upstream = gateway.upstream(upstream_name)
    if upstream is None:
        names = ", ".join(u.name for u in gateway.config.upstreams)
        return refusal(VENDORS["anthropic"], "not_found", f"no upstream {upstream_name!r}; "
                       f"this hub forwards to: {names}")  # fmt: skip
    vendor = VENDORS[upstream.api]
    target = vendor.upstream_path(path)
    if target is None:
        return refusal(vendor, "not_found", f"the gateway does not forward /{path}")
    if gateway.keys[upstream.name] is None and (missing := upstream.missing_key()):
        return refusal(vendor, "no_key", missing)
    body = await request.body()
    parsed = _parse(vendor, path, body)
    if isinstance(parsed, Response):
        return parsed
    verdict = await _admit(hub, gateway, _key(request))
    request.state.actor = verdict.name or "anonymous"
    model, stream = str(parsed["model"]), parsed.get("stream") is True
    problem, ticket = _take_turn(gateway, verdict, upstream.allows(model), model, upstream_name)
    if problem is not None:
        situation, message = problem
        return await _refuse(hub, gateway, vendor, verdict, upstream_name, path, model, stream,
                             situation, message)  # fmt: skip
    assert isinstance(verdict, Caller)
    if vendor.name == "openai" and stream and not is_responses(path):
        # Chat Completions report a stream's usage only when asked; Responses always do
        parsed["stream_options"] = {**(parsed.get("stream_options") or {}), "include_usage": True}
        body = json.dumps(parsed).encode()
    outgoing = Outgoing(
        caller=verdict, upstream=upstream_name, vendor=vendor, path=path,
        url=upstream.url + target, headers=_headers(request, vendor, gateway.keys[upstream.name]),
        body=body, model=model, stream=stream, timeout_s=upstream.timeout_s, started=started,
        ticket=ticket,
    )  # fmt: skip
    try:
        return await forward(gateway, hub, outgoing)
    except Exception:
        outgoing.release()  # forward releases on every path it returns by; this is the rest
        raise


def _take_turn(
    gateway: Gateway, verdict: Caller | Refused, allowed: bool, model: str, upstream: str
) -> tuple[tuple[str, str] | None, Ticket | None]:
    """Why the call stops here (situation, message), or its place among the calls in flight."""
    if isinstance(verdict, Refused):
        return (verdict.situation, verdict.message), None
    if not allowed:
        return ("forbidden", f"model {model!r} is not offered through upstream {upstream!r}"), None
    ticket = gateway.enter(verdict.account_id)
    if ticket is None:
        limit = gateway.config.concurrency
        return (
            "busy",
            f"{verdict.name} already has {limit} model calls in flight (the limit)",
        ), None
    return None, ticket


def _parse(vendor: Vendor, path: str, body: bytes) -> dict[str, Any] | Response:
    """The request as JSON, or the vendor's 400 naming what is wrong with it."""
    try:
        parsed = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return refusal(vendor, "invalid", "the request body is not valid JSON")
    if not isinstance(parsed, dict):
        return refusal(vendor, "invalid", "the request body must be a JSON object")
    if not isinstance(parsed.get("model"), str) or not parsed["model"]:
        return refusal(vendor, "invalid", "model: a model name (string) is required")
    if is_responses(path):
        if not isinstance(parsed.get("input"), str | list):
            return refusal(vendor, "invalid", "input: a string or a list of items is required")
    elif not isinstance(parsed.get("messages"), list):
        return refusal(vendor, "invalid", "messages: a list of messages is required")
    if problem := vendor_side_work(parsed):
        return refusal(vendor, "forbidden", problem)
    return parsed


def _key(request: Request) -> str | None:
    return request.headers.get("x-api-key") or bearer(request.headers.get("authorization", ""))


async def _admit(hub: HubState, gateway: Gateway, token: str | None) -> Caller | Refused:
    def check() -> Caller | Refused:
        with hub.sessions.begin() as session:
            return admit(session, token, gateway.config)

    return await anyio.to_thread.run_sync(check)


async def _refuse(
    hub: HubState, gateway: Gateway, vendor: Vendor, verdict: Caller | Refused,
    upstream: str, path: str, model: str, stream: bool, situation: str, message: str,
) -> Response:  # fmt: skip
    """Answer a refusal and keep a row of it (when the caller is a known account)."""
    answer = refusal(vendor, situation, message, retry=situation == "busy")
    if situation == "busy":
        answer.headers["retry-after"] = "5"
    if verdict.account_id is not None:  # an unknown key has no account to keep it under
        call = CallRecord(upstream=upstream, path=path, model=model, stream=stream,
                          status=answer.status_code, error=message)  # fmt: skip
        await store(gateway, hub, verdict.account_id, call, b"", bytes(answer.body))
    return answer


def _headers(request: Request, vendor: Vendor, key: str | None) -> dict[str, str]:
    """The client's vendor headers (version, betas) with the upstream's key in place of its own."""
    headers = {"content-type": "application/json"}
    for name in vendor.passed_headers:
        if name in request.headers:
            headers[name] = request.headers[name]
    return headers | vendor.auth_headers(key)


def _public(call: ModelCall, researcher: str) -> ModelCallPublic:
    return ModelCallPublic(
        id=call.id, researcher=researcher, at=call.at, upstream=call.upstream, path=call.path,
        model=call.model, stream=call.stream, status=call.status,
        input_tokens=call.input_tokens, output_tokens=call.output_tokens,
        cache_read_tokens=call.cache_read_tokens, cache_write_tokens=call.cache_write_tokens,
        cost_usd=call.cost_usd, metered=call.metered, duration_ms=call.duration_ms,
        first_byte_ms=call.first_byte_ms, error=call.error,
    )  # fmt: skip


def _inflate(data: bytes) -> Any:
    text = gzip.decompress(data).decode(errors="replace")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
