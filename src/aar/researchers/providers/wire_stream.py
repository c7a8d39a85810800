"""Server-sent event streams of the fake LLM server's replies, in both vendors' formats.

    anthropic_stream(message, chunks=3)                       # encoded SSE events, in order
    openai_stream(completion, chunks=3, include_usage=True)

Each stream is built from the same message dict as the non-streaming answer (``wire``), so
the two never drift apart: text, thinking and tool-call arguments are cut into about
``chunks`` deltas each.
"""

from __future__ import annotations

import json
from typing import Any


def pieces(text: str, count: int) -> list[str]:
    """``text`` cut into at most ``count`` consecutive pieces (none when it is empty)."""
    size = max(1, -(-len(text) // max(1, count)))
    return [text[i : i + size] for i in range(0, len(text), size)]


def anthropic_stream(message: dict[str, Any], chunks: int) -> list[bytes]:
    """The Messages stream of ``message`` as encoded SSE events, in sending order."""
    return [
        f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()
        for name, data in _anthropic_events(message, chunks)
    ]


def openai_stream(completion: dict[str, Any], chunks: int, *, include_usage: bool) -> list[bytes]:
    """The ``chat.completion.chunk`` stream of ``completion``, ``[DONE]`` last."""
    parts = _openai_chunks(completion, chunks, include_usage=include_usage)
    return [f"data: {json.dumps(part)}\n\n".encode() for part in parts] + [b"data: [DONE]\n\n"]


def _anthropic_events(message: dict[str, Any], chunks: int) -> list[tuple[str, dict[str, Any]]]:
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None}
    start["usage"] = {**message["usage"], "output_tokens": 1}
    blocks = [
        event
        for index, block in enumerate(message["content"])
        for event in _anthropic_block_events(index, block, chunks)
    ]
    delta = {"stop_reason": message["stop_reason"], "stop_sequence": None}
    # message_delta's usage is cumulative: the final counts, input and cache ones included.
    end = {"type": "message_delta", "delta": delta, "usage": message["usage"]}
    return [
        ("message_start", {"type": "message_start", "message": start}),
        *blocks[:1],  # the API sends its ping after the first content_block_start
        ("ping", {"type": "ping"}),
        *blocks[1:],
        ("message_delta", end),
        ("message_stop", {"type": "message_stop"}),
    ]


def _anthropic_block_events(
    index: int, block: dict[str, Any], chunks: int
) -> list[tuple[str, dict[str, Any]]]:
    """``content_block_start``, its deltas and ``content_block_stop`` for one content block."""
    kind = block["type"]
    if kind == "text":
        start: dict[str, Any] = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": p} for p in pieces(block["text"], chunks)]
    elif kind == "thinking":
        start = {"type": "thinking", "thinking": "", "signature": ""}
        deltas = [
            {"type": "thinking_delta", "thinking": p} for p in pieces(block["thinking"], chunks)
        ]
        deltas.append({"type": "signature_delta", "signature": block["signature"]})
    else:
        start = {**block, "input": {}}
        raw = json.dumps(block["input"])
        deltas = [{"type": "input_json_delta", "partial_json": p} for p in pieces(raw, chunks)]
    events = [
        (
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": start},
        )
    ]
    events += [
        ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
        for delta in deltas
    ]
    events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    return events


def _openai_chunks(
    completion: dict[str, Any], chunks: int, *, include_usage: bool
) -> list[dict[str, Any]]:
    """The ``chat.completion.chunk`` objects of ``completion``, in parts."""
    model = completion["model"]
    choice = completion["choices"][0]
    message = choice["message"]
    head: dict[str, Any] = {
        "id": completion["id"],
        "object": "chat.completion.chunk",
        "created": completion["created"],
        "model": model,
        "system_fingerprint": None,
    }
    if include_usage:
        head["usage"] = None  # every chunk says so; only the extra last one carries usage

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            **head,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }

    deltas = _openai_deltas(message, chunks)
    parts = [chunk(delta) for delta in deltas] + [chunk({}, choice["finish_reason"])]
    if include_usage:
        parts.append({**head, "choices": [], "usage": completion["usage"]})
    return parts


def _openai_deltas(message: dict[str, Any], chunks: int) -> list[dict[str, Any]]:
    """The message's deltas: role first, then reasoning, text and tool calls in pieces."""
    text = message["content"]
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": "" if text else None}]
    reasoning = message.get("reasoning_content") or ""
    deltas += [{"reasoning_content": p} for p in pieces(reasoning, chunks)]
    deltas += [{"content": p} for p in pieces(text or "", chunks)]
    for index, call in enumerate(message.get("tool_calls", [])):
        deltas += [{"tool_calls": [d]} for d in _openai_tool_deltas(index, call, chunks)]
    return deltas


def _openai_tool_deltas(index: int, call: dict[str, Any], chunks: int) -> list[dict[str, Any]]:
    """A tool call's deltas: id, type and name first (sent once: the client joins repeats), then
    the arguments in pieces."""
    function = call["function"]
    first = {
        "index": index,
        "id": call["id"],
        "type": "function",
        "function": {"name": function["name"], "arguments": ""},
    }
    rest = [
        {"index": index, "function": {"arguments": p}}
        for p in pieces(function["arguments"], chunks)
    ]
    return [first, *rest]
