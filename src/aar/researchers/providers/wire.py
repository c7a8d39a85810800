"""A fake LLM server that speaks the Anthropic and OpenAI wire formats, for offline tests.

    with FakeLLMServer([FakeReply.overloaded(), FakeReply(text="hi")]) as server:
        provider = AnthropicProvider("claude-x", api_key="k", base_url=server.anthropic_base_url)
        provider.complete(...)        # the client retries the 529, then gets "hi"
        server.requests               # every request body the server received, in order

It is a real HTTP server on 127.0.0.1 (a free port, a background thread), so the official
clients run their own code: serialisation, retries, timeouts, error classes. It answers
``POST /v1/messages`` (Anthropic), ``POST /v1/chat/completions`` and ``POST /v1/responses``
(OpenAI's two APIs; the Responses one is in ``wire_responses``) from one queue of
``FakeReply``s, each rendered in the format of the endpoint that consumes it. A reply can be
an assistant turn (text, thinking, tool calls, malformed tool-call arguments, usage), an
error (status, error type, body in the vendor's shape, headers) and can be slow (``delay_s``).
Error replies carry ``retry-after-ms`` so the clients retry at once. When the queue is empty
the server answers 500 with ``x-should-retry: false``, so a test that sends one request too
many fails quickly with that message. ``POST /v1/messages/count_tokens`` answers outside the
queue, with ``count_tokens(body)`` (by default a quarter of the body's JSON length); those
requests go to ``counts``.

Usage on the wire follows each vendor: Anthropic reports uncached ``input_tokens`` beside
``cache_read_input_tokens`` and ``cache_creation_input_tokens``; OpenAI reports the whole prompt
in ``prompt_tokens``, with ``prompt_tokens_details.cached_tokens`` (and ``cache_write_tokens``)
inside it. String tool-call arguments go on the OpenAI wire as they are; on the Anthropic wire
(whose ``input`` is always an object) they are decoded first.

Streaming: a request whose body has ``"stream": true`` gets its 200 reply as server-sent events
(``text/event-stream``, one HTTP/1.1 chunk per event, flushed), the same message as the plain
answer cut into parts, the way each vendor sends it:

- Anthropic: ``event: NAME`` / ``data: JSON`` pairs: ``message_start`` (empty content, the input
  and cache tokens, ``output_tokens`` 1), then per content block ``content_block_start``, its
  ``content_block_delta``s (``thinking_delta``s then one ``signature_delta``; ``text_delta``s;
  ``input_json_delta``s whose ``partial_json`` pieces join to the tool input) and
  ``content_block_stop``, a ``ping`` after the first block's start, ``message_delta`` (stop reason
  and the final, cumulative usage) and ``message_stop``.
- OpenAI: ``data: JSON`` chunks (``chat.completion.chunk``): the role, ``reasoning_content`` and
  ``content`` pieces, each tool call as one delta with its id, type and name then its argument
  pieces, a chunk with ``finish_reason``; when the request asks for
  ``stream_options: {"include_usage": true}`` every chunk carries ``usage: null`` and one more
  chunk with no choices carries the usage; then ``data: [DONE]``.

``FakeReply(chunks=N)`` cuts each text, thinking and argument string into about N pieces;
``chunk_delay_s`` sleeps between events (not before the first, so a client sees the first event
at once); ``cut_after_events=N`` closes the connection after N events (pings and ``[DONE]``
count), before the final empty chunk, so the client meets a broken stream as it would a dropped
connection. Error replies and ``delay_s`` behave as without streaming (an error is a plain JSON
response), and streamed requests are recorded in ``requests`` like the others.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from aar.core.usage import Usage
from aar.researchers.providers.wire_responses import (
    RESPONSES_PATH,
    responses_object,
    responses_stream,
)
from aar.researchers.providers.wire_stream import anthropic_stream, openai_stream

ANTHROPIC_PATH = "/v1/messages"
ANTHROPIC_COUNT_PATH = "/v1/messages/count_tokens"
OPENAI_PATH = "/v1/chat/completions"

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    503: "api_error",
    529: "overloaded_error",
}
_OPENAI_FINISH = {"end_turn": "stop", "tool_use": "tool_calls", "max_tokens": "length"}


@dataclass(frozen=True)
class FakeToolCall:
    """A tool call in a reply; string ``arguments`` go on the wire as they are (malformed too)."""

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    id: str | None = None
    namespace: str | None = None
    """The tool group it belongs to (Responses API only: Codex's MCP tools are ``mcp__NAME``)."""


@dataclass(frozen=True)
class FakeReply:
    """One response: an assistant turn when ``status`` is 200, else an error body."""

    text: str = ""
    tool_calls: tuple[FakeToolCall, ...] = ()
    thinking: str | None = None
    usage: Usage = field(default_factory=lambda: Usage(input_tokens=10, output_tokens=5))
    stop_reason: str | None = None
    status: int = 200
    error_type: str | None = None
    error_message: str = "fake error"
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    # Streaming only (a request with "stream": true); see the module docstring.
    chunks: int = 3
    chunk_delay_s: float = 0.0
    cut_after_events: int | None = None

    @classmethod
    def error(cls, status: int, message: str = "fake error", **options: Any) -> FakeReply:
        """An error reply; retryable statuses ask for an immediate retry."""
        headers = {"retry-after-ms": "1", "retry-after": "1"}
        return cls(status=status, error_message=message, headers=headers, **options)

    @classmethod
    def rate_limited(cls) -> FakeReply:
        return cls.error(429, "Number of request tokens has exceeded your per-minute rate limit")

    @classmethod
    def overloaded(cls) -> FakeReply:
        return cls.error(529, "Overloaded")


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class FakeLLMServer:
    """The server; a context manager (see the module docstring)."""

    def __init__(self, replies: Iterable[FakeReply] = ()) -> None:
        self.replies: deque[FakeReply] = deque(replies)
        self.requests: list[RecordedRequest] = []
        # Anthropic's count_tokens: answered from the body, never from the script.
        self.counts: list[RecordedRequest] = []
        self.count_tokens: Callable[[dict[str, Any]], int] = _quarter_of_json
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(self))
        self._http.daemon_threads = True
        # shutdown() waits for the serve loop's next poll: the default 0.5 s cost every test that.
        poll = {"poll_interval": 0.02}
        self._thread = threading.Thread(target=self._http.serve_forever, kwargs=poll, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    def add(self, *replies: FakeReply) -> None:
        with self._lock:
            self.replies.extend(replies)

    def start(self) -> FakeLLMServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes slow replies still waiting
        if self._thread.is_alive():
            self._http.shutdown()
        self._http.server_close()
        if self._thread.is_alive():
            self._thread.join()

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _next(self, request: RecordedRequest) -> FakeReply | None:
        with self._lock:
            self.requests.append(request)
            return self.replies.popleft() if self.replies else None


def _handler_class(server: FakeLLMServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # Small SSE writes go out at once instead of waiting on the peer's delayed ACK.
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            headers = {k.lower(): v for k, v in self.headers.items()}
            if self.path == ANTHROPIC_COUNT_PATH:
                server.counts.append(RecordedRequest(self.path, headers, body))
                self._send(200, {"input_tokens": server.count_tokens(body)}, {})
                return
            if self.path not in (ANTHROPIC_PATH, OPENAI_PATH, RESPONSES_PATH):
                self._send(404, {"error": {"message": f"no route {self.path}"}}, {})
                return
            reply = server._next(RecordedRequest(self.path, headers, body))
            if reply is None:
                message = "fake server: no reply left in the script"
                self._send(500, _error_body(self.path, 500, "api_error", message), _NO_RETRY)
            else:
                if reply.delay_s and server._stopping.wait(reply.delay_s):
                    return
                model = str(body.get("model", ""))
                if reply.status == 200 and body.get("stream") is True:
                    self._stream(reply, _sse(self.path, reply, model, body))
                else:
                    self._send(*_render(self.path, reply, model))

        def _send(self, status: int, payload: dict[str, Any], headers: Mapping[str, str]) -> None:
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test): nobody is listening

        def _stream(self, reply: FakeReply, events: list[bytes]) -> None:
            """Send ``events`` one HTTP chunk each, flushed, ``reply.chunk_delay_s`` apart."""
            # Chunked HTTP/1.1, as the vendors send it: a connection closed before the last
            # (empty) chunk is then a broken stream to the client, not a short complete one.
            self.protocol_version = "HTTP/1.1"
            try:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream; charset=utf-8")
                self.send_header("cache-control", "no-cache")
                self.send_header("transfer-encoding", "chunked")
                self.send_header("connection", "close")
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                for sent, event in enumerate(events):
                    if sent == reply.cut_after_events:
                        return  # the connection closes with the body unfinished
                    if sent and reply.chunk_delay_s and server._stopping.wait(reply.chunk_delay_s):
                        return
                    self._write_chunk(event)
                self._write_chunk(b"")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client closed the stream early

        def _write_chunk(self, data: bytes) -> None:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        def log_message(self, format: str, *args: Any) -> None:
            pass  # tests read server.requests, not stderr

    return Handler


_NO_RETRY = {"x-should-retry": "false"}


def _render(
    path: str, reply: FakeReply, model: str
) -> tuple[int, dict[str, Any], Mapping[str, str]]:
    if reply.status != 200:
        kind = reply.error_type or _ERROR_TYPES.get(reply.status, "api_error")
        return (
            reply.status,
            _error_body(path, reply.status, kind, reply.error_message),
            reply.headers,
        )
    if path == ANTHROPIC_PATH:
        return 200, _anthropic_message(reply, model), reply.headers
    if path == RESPONSES_PATH:
        return 200, responses_object(reply, model), reply.headers
    return 200, _openai_completion(reply, model), reply.headers


def _error_body(path: str, status: int, kind: str, message: str) -> dict[str, Any]:
    if path == ANTHROPIC_PATH:
        return {"type": "error", "error": {"type": kind, "message": message}}
    code = "context_length_exceeded" if "context" in message.lower() else None
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _anthropic_message(reply: FakeReply, model: str) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if reply.thinking is not None:
        content.append({"type": "thinking", "thinking": reply.thinking, "signature": "sig-fake"})
    if reply.text:
        content.append({"type": "text", "text": reply.text})
    for i, call in enumerate(reply.tool_calls):
        content.append(
            {
                "type": "tool_use",
                "id": call.id or f"toolu_{i}",
                "name": call.name,
                "input": _anthropic_input(call.arguments),
            }
        )
    usage = reply.usage
    return {
        "id": f"msg_{uuid.uuid4().hex[:16]}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": reply.stop_reason or ("tool_use" if reply.tool_calls else "end_turn"),
        "stop_sequence": None,
        "usage": {
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "cache_read_input_tokens": usage.cache_read_tokens,
            "cache_creation_input_tokens": usage.cache_write_tokens,
        },
    }


def _anthropic_input(arguments: dict[str, Any] | str) -> Any:
    # The Messages API always sends an object; a raw string is decoded when it can be.
    if isinstance(arguments, dict):
        return arguments
    try:
        return json.loads(arguments)
    except json.JSONDecodeError:
        return arguments


def _openai_completion(reply: FakeReply, model: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
    if reply.thinking is not None:
        message["reasoning_content"] = reply.thinking
    if reply.tool_calls:
        message["tool_calls"] = [
            _openai_tool_call(i, call) for i, call in enumerate(reply.tool_calls)
        ]
    stop = reply.stop_reason or ("tool_use" if reply.tool_calls else "end_turn")
    usage = reply.usage
    prompt = usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:16]}",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": _OPENAI_FINISH.get(stop, stop),
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": usage.output_tokens,
            "total_tokens": prompt + usage.output_tokens,
            "prompt_tokens_details": {
                "cached_tokens": usage.cache_read_tokens,
                "cache_write_tokens": usage.cache_write_tokens,
            },
        },
    }


def _openai_tool_call(index: int, call: FakeToolCall) -> dict[str, Any]:
    raw = call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments)
    return {
        "id": call.id or f"call_{index}",
        "type": "function",
        "function": {"name": call.name, "arguments": raw},
    }


def _quarter_of_json(body: dict[str, Any]) -> int:
    return len(json.dumps(body)) // 4


def _sse(path: str, reply: FakeReply, model: str, body: dict[str, Any]) -> list[bytes]:
    """The whole stream for a 200 ``reply``: the non-streaming answer, in parts."""
    if path == ANTHROPIC_PATH:
        return anthropic_stream(_anthropic_message(reply, model), reply.chunks)
    if path == RESPONSES_PATH:
        return responses_stream(responses_object(reply, model), reply.chunks)
    usage = (body.get("stream_options") or {}).get("include_usage") is True
    return openai_stream(_openai_completion(reply, model), reply.chunks, include_usage=usage)
