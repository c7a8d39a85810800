"""The fake LLM server's OpenAI Responses API (``POST /v1/responses``): the reply and its stream.

    response = responses_object(reply, model)        # the plain answer, a ``response`` object
    events = responses_stream(response, chunks=3)     # the same as encoded SSE events

Codex CLI speaks this API. A reply's thinking becomes a ``reasoning`` item (its summary), its
text a ``message`` item with one ``output_text`` part, each tool call a ``function_call`` item
(``call_id`` from the call's id, and its ``namespace`` when it has one). Usage follows the
API: ``input_tokens`` is the whole prompt, with ``input_tokens_details.cached_tokens`` inside.
A reply stopped by ``max_tokens`` is ``incomplete`` (``max_output_tokens``).

The stream is ``event: TYPE`` / ``data: JSON`` pairs, each with its ``sequence_number``:
``response.created`` and ``response.in_progress`` (no output yet), then per item
``response.output_item.added``, its parts and deltas, and ``response.output_item.done``, then
``response.completed`` (or ``response.incomplete``) with the whole response and its usage.
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from aar.core.usage import Usage
from aar.researchers.providers.wire_stream import pieces

if TYPE_CHECKING:
    from aar.researchers.providers.wire import FakeReply

RESPONSES_PATH = "/v1/responses"


def responses_object(reply: FakeReply, model: str) -> dict[str, Any]:
    """The ``response`` object of a 200 ``FakeReply``."""
    output: list[dict[str, Any]] = []
    if reply.thinking is not None:
        summary = [{"type": "summary_text", "text": reply.thinking}]
        output.append({"type": "reasoning", "id": _id("rs"), "summary": summary})
    if reply.text:
        part = {"type": "output_text", "text": reply.text, "annotations": []}
        output.append({"type": "message", "id": _id("msg"), "status": "completed",
                       "role": "assistant", "content": [part]})  # fmt: skip
    for index, call in enumerate(reply.tool_calls):
        raw = call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments)
        item = {"type": "function_call", "id": _id("fc"), "call_id": call.id or f"call_{index}",
                "name": call.name, "arguments": raw, "status": "completed"}  # fmt: skip
        output.append(item | ({"namespace": call.namespace} if call.namespace else {}))
    cut = reply.stop_reason == "max_tokens"
    return {
        "id": _id("resp"), "object": "response", "created_at": 0,
        "status": "incomplete" if cut else "completed",
        "incomplete_details": {"reason": "max_output_tokens"} if cut else None,
        "error": None, "model": model, "output": output, "instructions": None,
        "metadata": {}, "parallel_tool_calls": True, "tool_choice": "auto", "tools": [],
        "temperature": None, "top_p": None, "usage": _usage(reply.usage),
    }  # fmt: skip


def _usage(usage: Usage) -> dict[str, Any]:
    prompt = usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": usage.cache_read_tokens},
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt + usage.output_tokens,
    }


def _id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


def responses_stream(response: dict[str, Any], chunks: int) -> list[bytes]:
    """``response`` as the Responses API streams it, encoded SSE events in order."""
    opening = {**response, "status": "in_progress", "output": [], "usage": None,
               "incomplete_details": None}  # fmt: skip
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": opening},
        {"type": "response.in_progress", "response": opening},
    ]
    for index, item in enumerate(response["output"]):
        events += _item_events(index, item, chunks)
    end = "response.incomplete" if response["status"] == "incomplete" else "response.completed"
    events.append({"type": end, "response": response})
    return [
        f"event: {event['type']}\ndata: {json.dumps({**event, 'sequence_number': n})}\n\n".encode()
        for n, event in enumerate(events)
    ]


def _item_events(index: int, item: dict[str, Any], chunks: int) -> list[dict[str, Any]]:
    """``output_item.added``, what fills the item in, and ``output_item.done``."""
    where = {"item_id": item["id"], "output_index": index}
    if item["type"] == "message":
        empty = {**item, "status": "in_progress", "content": []}
        middle = _text_events(where, item["content"][0]["text"], chunks)
    elif item["type"] == "function_call":
        empty = {**item, "status": "in_progress", "arguments": ""}
        raw = item["arguments"]
        middle = [{"type": "response.function_call_arguments.delta", **where, "delta": p}
                  for p in pieces(raw, chunks)]  # fmt: skip
        middle.append({"type": "response.function_call_arguments.done", **where,
                       "name": item["name"], "arguments": raw})  # fmt: skip
    else:
        empty = {**item, "summary": []}
        middle = _summary_events(where, item["summary"][0]["text"], chunks)
    return [
        {"type": "response.output_item.added", "output_index": index, "item": empty},
        *middle,
        {"type": "response.output_item.done", "output_index": index, "item": item},
    ]


def _text_events(where: dict[str, Any], text: str, chunks: int) -> list[dict[str, Any]]:
    at = {**where, "content_index": 0}
    part = {"type": "output_text", "text": "", "annotations": []}
    return [
        {"type": "response.content_part.added", **at, "part": part},
        *({"type": "response.output_text.delta", **at, "delta": p, "logprobs": []}
          for p in pieces(text, chunks)),
        {"type": "response.output_text.done", **at, "text": text, "logprobs": []},
        {"type": "response.content_part.done", **at, "part": {**part, "text": text}},
    ]  # fmt: skip


def _summary_events(where: dict[str, Any], text: str, chunks: int) -> list[dict[str, Any]]:
    at = {**where, "summary_index": 0}
    part = {"type": "summary_text", "text": ""}
    return [
        {"type": "response.reasoning_summary_part.added", **at, "part": part},
        *({"type": "response.reasoning_summary_text.delta", **at, "delta": p}
          for p in pieces(text, chunks)),
        {"type": "response.reasoning_summary_text.done", **at, "text": text},
        {"type": "response.reasoning_summary_part.done", **at, "part": {**part, "text": text}},
    ]  # fmt: skip
