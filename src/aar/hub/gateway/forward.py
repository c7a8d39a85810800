"""Forward one admitted call to its upstream, meter it, store it: plain or streamed (SSE).

    response = await forward(gateway, hub, outgoing)

A streamed reply is read from the upstream by a task of its own, which hands each piece to
the client and keeps reading to the end even when the client goes away: the upstream bills
the whole reply, so the gateway meters it. A stream that ends before its usage event is
charged an estimate (``metered="estimated"``) rather than nothing.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import suppress
from dataclasses import dataclass, replace

import anyio
import httpx
from fastapi.responses import Response, StreamingResponse

from aar.core.usage import Usage
from aar.hub.gateway.ledger import Caller, CallRecord, record
from aar.hub.gateway.service import Gateway, Ticket
from aar.hub.gateway.vendors import Meter, Vendor, refusal
from aar.hub.state import HubState

PASSED_BACK = ("content-type", "request-id", "x-request-id", "retry-after", "retry-after-ms",
               "x-should-retry")  # fmt: skip
PASSED_BACK_PREFIXES = ("anthropic-", "openai-", "x-ratelimit-")
CHARS_PER_TOKEN = 3.0
"""A generous guess for text the upstream never counted (a cut stream)."""


@dataclass(frozen=True)
class Outgoing:
    caller: Caller
    upstream: str
    vendor: Vendor
    path: str
    url: str
    headers: dict[str, str]
    body: bytes
    model: str
    stream: bool
    timeout_s: float
    started: float
    ticket: Ticket | None = None

    def release(self) -> None:
        """The call is over: the researcher may start another."""
        if self.ticket is not None:
            self.ticket.release()


async def forward(gateway: Gateway, hub: HubState, out: Outgoing) -> Response:
    """Send ``out`` upstream and answer with what comes back (metered and stored)."""
    request = gateway.client().build_request(
        "POST", out.url, content=out.body, headers=out.headers,
        timeout=httpx.Timeout(out.timeout_s, connect=10.0),
    )  # fmt: skip
    try:
        upstream = await gateway.client().send(request, stream=True)
    except httpx.TimeoutException:
        return await _failed(gateway, hub, out, "timeout", "the upstream did not answer in time")
    except httpx.HTTPError as error:
        return await _failed(gateway, hub, out, "upstream", f"upstream unreachable: {error}")
    first_byte = _ms_since(out.started)
    kind = upstream.headers.get("content-type", "")
    if upstream.status_code == 200 and "text/event-stream" in kind:
        return _streamed(gateway, hub, out, upstream, first_byte)
    return await _whole(gateway, hub, out, upstream, first_byte)


async def _whole(
    gateway: Gateway, hub: HubState, out: Outgoing, upstream: httpx.Response, first_byte: float
) -> Response:
    try:
        content = await upstream.aread()
    except httpx.HTTPError as error:
        return await _failed(gateway, hub, out, "upstream", f"upstream broke off: {error}")
    finally:
        await upstream.aclose()
    meter = out.vendor.meter()
    if upstream.status_code == 200:
        # a reply that is not JSON is stored as it came and charged by estimate
        with suppress(json.JSONDecodeError, AttributeError):
            meter.read_reply(json.loads(content))
    call = _call(gateway, out, meter, upstream.status_code, content, first_byte)
    try:
        await store(gateway, hub, out.caller.account_id, call, out.body, content)
    finally:
        out.release()
    return Response(content, upstream.status_code, headers=_passed_back(upstream.headers))


def _streamed(
    gateway: Gateway, hub: HubState, out: Outgoing, upstream: httpx.Response, first_byte: float
) -> StreamingResponse:
    pieces: asyncio.Queue[bytes | None] = asyncio.Queue()

    async def pump() -> None:
        meter, seen = out.vendor.meter(), bytearray()
        error = None
        try:
            async for chunk in upstream.aiter_bytes():
                meter.feed(chunk)
                seen += chunk
                pieces.put_nowait(chunk)
        except httpx.HTTPError as broken:
            error = f"upstream stream broke off: {broken}"
            # in the vendor's words, so the client raises rather than take a cut reply as whole
            pieces.put_nowait(out.vendor.stream_error(f"aar gateway: {error}", out.path))
        finally:
            pieces.put_nowait(None)
            await upstream.aclose()
            call = _call(gateway, out, meter, 200, bytes(seen), first_byte)
            try:
                ended = replace(call, error=error or call.error)
                await store(gateway, hub, out.caller.account_id, ended, out.body, bytes(seen))
            finally:
                out.release()

    gateway.spawn(pump())

    async def relay() -> AsyncIterator[bytes]:
        while (piece := await pieces.get()) is not None:
            yield piece

    return StreamingResponse(relay(), 200, headers=_passed_back(upstream.headers))


def _call(
    gateway: Gateway, out: Outgoing, meter: Meter, status: int, content: bytes, first_byte: float
) -> CallRecord:
    usage, metered = meter.usage, "reported"
    if status == 200 and (usage is None or not meter.complete):
        usage, metered = _estimate(out, meter), "estimated"
    usage = usage or Usage()
    model = meter.model or out.model
    error = None if status < 400 else content[:2000].decode(errors="replace")
    return CallRecord(
        upstream=out.upstream, path=out.path, model=model, stream=out.stream, status=status,
        usage=usage, cost_usd=gateway.prices.cost(model, usage) if status == 200 else 0.0,
        metered=metered if status == 200 else "none", duration_ms=_ms_since(out.started),
        first_byte_ms=first_byte, error=error,
    )  # fmt: skip


def _estimate(out: Outgoing, meter: Meter) -> Usage:
    """What a reply without its usage (or cut before it) is charged: what it did report,
    else the request's size, plus the text that arrived."""
    reported = meter.usage or Usage()
    prompt = reported.prompt_tokens or round(len(out.body) / CHARS_PER_TOKEN)
    output = max(reported.output_tokens, round(meter.text_chars / CHARS_PER_TOKEN))
    if reported.prompt_tokens:
        return replace(reported, output_tokens=output)
    return Usage(input_tokens=prompt, output_tokens=output)


async def store(
    gateway: Gateway, hub: HubState, account_id: int, call: CallRecord, request: bytes,
    response: bytes,
) -> None:  # fmt: skip
    """Write the call and its bodies (on a worker thread, holding the write turn)."""
    payload = (request, response) if gateway.config.store_payloads else None

    def write() -> None:
        with hub.write_turn(), hub.sessions.begin() as session:
            record(session, account_id, call, payload)

    await anyio.to_thread.run_sync(write, limiter=hub.lock_waiters())


async def _failed(
    gateway: Gateway, hub: HubState, out: Outgoing, situation: str, message: str
) -> Response:
    answer = refusal(out.vendor, situation, message, retry=True)
    call = CallRecord(
        upstream=out.upstream, path=out.path, model=out.model, stream=out.stream,
        status=answer.status_code, duration_ms=_ms_since(out.started), error=message,
    )  # fmt: skip
    try:
        await store(gateway, hub, out.caller.account_id, call, out.body, bytes(answer.body))
    finally:
        out.release()
    return answer


def _passed_back(headers: httpx.Headers) -> dict[str, str]:
    return {
        key: value
        for key, value in headers.items()
        if key in PASSED_BACK or key.startswith(PASSED_BACK_PREFIXES)
    }


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000
