"""What differs between the Anthropic and OpenAI wire formats, for the gateway.

    api = VENDORS["anthropic"]
    api.upstream_path("v1/messages")              # "/v1/messages" under the upstream's root
    VENDORS["openai"].upstream_path("v1/responses")   # "/responses": Codex CLI's API
    api.error(402, "billing_error", "budget spent")  # a JSONResponse the vendor's clients read
    meter = api.meter()                           # reads usage from a reply or an SSE stream
    meter.feed(chunk); meter.usage, meter.model

Usage follows ``aar.core.usage``: ``input_tokens`` without cache reads and writes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi.responses import JSONResponse

from aar.core.usage import Usage

NO_RETRY = {"x-should-retry": "false"}
"""Both vendors' clients (and Claude Code) take this header's word over the status code."""


@dataclass
class Meter:
    """Model and usage of one call, read from a JSON reply or fed an SSE stream piece by piece."""

    model: str | None = None
    usage: Usage | None = None
    complete: bool = False
    """Whether the stream reached its final event (a reply read whole always has)."""
    text_chars: int = 0
    _buffer: bytes = b""

    def read_reply(self, body: Mapping[str, Any]) -> None:
        self.model = str(body.get("model") or "") or None
        wire = body.get("usage")
        self.usage = self.usage_of(wire) if isinstance(wire, Mapping) else None
        self.complete = True

    def feed(self, chunk: bytes) -> None:
        """Read the SSE events complete in ``chunk`` (plus what an earlier chunk left over)."""
        self._buffer += chunk
        *events, self._buffer = self._buffer.replace(b"\r\n", b"\n").split(b"\n\n")
        for event in events:
            data = b"\n".join(
                line[5:].strip() for line in event.split(b"\n") if line.startswith(b"data:")
            )
            if data == b"[DONE]":
                self.complete = True
            elif data:
                try:
                    payload = json.loads(data)
                except json.JSONDecodeError:
                    continue
                if isinstance(payload, dict):
                    self.read_event(payload)

    def read_event(self, payload: dict[str, Any]) -> None:
        raise NotImplementedError

    def usage_of(self, wire: Mapping[str, Any]) -> Usage:
        raise NotImplementedError


def _int(mapping: Mapping[str, Any] | None, key: str) -> int:
    value = (mapping or {}).get(key)
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


@dataclass
class AnthropicMeter(Meter):
    def usage_of(self, wire: Mapping[str, Any]) -> Usage:
        return Usage(
            input_tokens=_int(wire, "input_tokens"),
            output_tokens=_int(wire, "output_tokens"),
            cache_read_tokens=_int(wire, "cache_read_input_tokens"),
            cache_write_tokens=_int(wire, "cache_creation_input_tokens"),
        )

    def read_event(self, payload: dict[str, Any]) -> None:
        kind = payload.get("type")
        if kind == "message_start" and isinstance(payload.get("message"), dict):
            message = payload["message"]
            self.model = str(message.get("model") or "") or self.model
            self.usage = self.usage_of(message.get("usage") or {})
        elif kind == "message_delta" and isinstance(payload.get("usage"), dict):
            # the delta's counts are cumulative; fields it leaves out keep message_start's
            start = self.usage or Usage()
            delta = payload["usage"]
            self.usage = Usage(
                input_tokens=_int(delta, "input_tokens") or start.input_tokens,
                output_tokens=_int(delta, "output_tokens"),
                cache_read_tokens=_int(delta, "cache_read_input_tokens") or start.cache_read_tokens,
                cache_write_tokens=(
                    _int(delta, "cache_creation_input_tokens") or start.cache_write_tokens
                ),
            )
        elif kind == "content_block_delta" and isinstance(payload.get("delta"), dict):
            delta = payload["delta"]
            piece = delta.get("text") or delta.get("thinking") or delta.get("partial_json") or ""
            self.text_chars += len(str(piece))
        elif kind == "message_stop":
            self.complete = True


RESPONSE_ENDS = ("response.completed", "response.incomplete", "response.failed")
"""The Responses API's last event of a stream, each with the whole response and its usage."""
TEXT_DELTAS = (
    "response.output_text.delta",
    "response.function_call_arguments.delta",
    "response.reasoning_summary_text.delta",
    "response.reasoning_text.delta",
)


@dataclass
class OpenAIMeter(Meter):
    """Chat Completions (usage in ``prompt_tokens``) and Responses (in ``input_tokens``)."""

    def usage_of(self, wire: Mapping[str, Any]) -> Usage:
        if "input_tokens" in wire:
            return _responses_usage(wire)
        details = wire.get("prompt_tokens_details")
        details = details if isinstance(details, Mapping) else {}
        read, written = _int(details, "cached_tokens"), _int(details, "cache_write_tokens")
        return Usage(
            input_tokens=max(0, _int(wire, "prompt_tokens") - read - written),
            output_tokens=_int(wire, "completion_tokens"),
            cache_read_tokens=read,
            cache_write_tokens=written,
        )

    def read_event(self, payload: dict[str, Any]) -> None:
        kind = payload.get("type")
        if isinstance(kind, str) and kind.startswith("response."):
            self._read_responses_event(kind, payload)
            return
        self.model = str(payload.get("model") or "") or self.model
        if isinstance(payload.get("usage"), dict):
            self.usage = self.usage_of(payload["usage"])
        for choice in payload.get("choices") or ():
            delta = choice.get("delta") if isinstance(choice, dict) else None
            if isinstance(delta, dict):
                self.text_chars += len(str(delta.get("content") or ""))
                for call in delta.get("tool_calls") or ():
                    arguments = (call.get("function") or {}).get("arguments") or ""
                    self.text_chars += len(str(arguments))

    def _read_responses_event(self, kind: str, payload: dict[str, Any]) -> None:
        response = payload.get("response")
        if isinstance(response, dict):
            self.model = str(response.get("model") or "") or self.model
        if kind in TEXT_DELTAS:
            self.text_chars += len(str(payload.get("delta") or ""))
        elif kind in RESPONSE_ENDS and isinstance(response, dict):
            wire = response.get("usage")
            self.usage = self.usage_of(wire) if isinstance(wire, Mapping) else self.usage
            self.complete = True


def _responses_usage(wire: Mapping[str, Any]) -> Usage:
    details = wire.get("input_tokens_details")
    read = _int(details if isinstance(details, Mapping) else {}, "cached_tokens")
    return Usage(
        input_tokens=max(0, _int(wire, "input_tokens") - read),
        output_tokens=_int(wire, "output_tokens"),
        cache_read_tokens=read,
    )


@dataclass(frozen=True)
class Vendor:
    """One wire format: its paths, its errors, its usage."""

    name: str
    paths: Mapping[str, str]
    """Gateway path under ``/llm/{upstream}/`` → path under the upstream's root."""
    passed_headers: tuple[str, ...] = field(default=())

    def upstream_path(self, path: str) -> str | None:
        return self.paths.get(path.strip("/"))

    def meter(self) -> Meter:
        return AnthropicMeter() if self.name == "anthropic" else OpenAIMeter()

    def auth_headers(self, key: str | None) -> dict[str, str]:
        if key is None:
            return {}
        return (
            {"x-api-key": key} if self.name == "anthropic" else {"authorization": f"Bearer {key}"}
        )

    def stream_error(self, message: str, path: str = "") -> bytes:
        """The event a vendor sends when a stream fails midway; clients raise on it."""
        if self.name == "anthropic":
            body = {"type": "error", "error": {"type": "api_error", "message": message}}
            return b"\n\nevent: error\ndata: " + json.dumps(body).encode() + b"\n\n"
        if is_responses(path):
            error = {"code": "server_error", "message": message}
            response = {"object": "response", "status": "failed", "error": error}
            failed = {"type": "response.failed", "sequence_number": 0, "response": response}
            return b"\n\nevent: response.failed\ndata: " + json.dumps(failed).encode() + b"\n\n"
        body = {"error": {"message": message, "type": "upstream_error", "code": None}}
        return b"\n\ndata: " + json.dumps(body).encode() + b"\n\n"

    def error(
        self, status: int, kind: str, message: str, headers: Mapping[str, str] | None = None
    ) -> JSONResponse:
        """An error in the shape this vendor's clients parse and show."""
        if self.name == "anthropic":
            body: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": message}}
        else:
            body = {"error": {"message": message, "type": kind, "param": None, "code": kind}}
        return JSONResponse(body, status, headers=dict(headers or {}))


ANTHROPIC = Vendor(
    "anthropic",
    {"v1/messages": "/v1/messages", "v1/messages/count_tokens": "/v1/messages/count_tokens"},
    passed_headers=("anthropic-version", "anthropic-beta"),
)
RESPONSES = "v1/responses"


def is_responses(path: str) -> bool:
    """Whether a gateway path is OpenAI's Responses API (not Chat Completions)."""
    return path.strip("/") == RESPONSES


OPENAI = Vendor("openai", {"v1/chat/completions": "/chat/completions", RESPONSES: "/responses"})
VENDORS: Mapping[str, Vendor] = {"anthropic": ANTHROPIC, "openai": OPENAI}

# Error kinds by situation, per vendor: (status, type).
REFUSALS: Mapping[str, Mapping[str, tuple[int, str]]] = {
    "anthropic": {
        "auth": (401, "authentication_error"),
        "forbidden": (403, "permission_error"),
        "budget": (402, "billing_error"),
        "busy": (429, "rate_limit_error"),
        "invalid": (400, "invalid_request_error"),
        "not_found": (404, "not_found_error"),
        "too_large": (413, "request_too_large"),
        "upstream": (502, "api_error"),
        "no_key": (503, "api_error"),
        "timeout": (504, "timeout_error"),
    },
    "openai": {
        "auth": (401, "invalid_api_key"),
        "forbidden": (403, "permission_denied"),
        "budget": (429, "insufficient_quota"),
        "busy": (429, "rate_limit_exceeded"),
        "invalid": (400, "invalid_request_error"),
        "not_found": (404, "model_not_found"),
        "too_large": (413, "request_too_large"),
        "upstream": (502, "upstream_error"),
        "no_key": (503, "upstream_error"),
        "timeout": (504, "timeout"),
    },
}


def refusal(vendor: Vendor, situation: str, message: str, retry: bool = False) -> JSONResponse:
    """The vendor-shaped answer to a call the gateway will not forward."""
    status, kind = REFUSALS[vendor.name][situation]
    headers = {} if retry else NO_RETRY
    return vendor.error(status, kind, f"aar gateway: {message}", headers)
