"""Tool calls a model wrote as text, and their results written back as text.

    calls = parse_text_calls(completion_text, {"read_file", "shell"})
    # (ToolCall("call_...", "read_file", {"path": "a.txt"}, ..., from_text=True), ...)
    tool_use_blocks(calls)                    # for the history: ToolUseBlock(..., from_text=True)
    names = text_call_names(history)          # {call id: tool name} of the text calls
    text_results(user_message.content, names) # '<tool_response>\\nread_file result:\\n...'

Models behind a server without a tool-call parser (llama.cpp without ``--jinja``, vLLM
without ``--enable-auto-tool-choice``) write their calls into the message instead. The forms
read, in this order (the first form found wins, so no call is read twice):

1. tags: Hermes/Qwen ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>`` (a missing
   closing tag is tolerated) and Llama 3.1 ``<function=NAME>{...}</function>``;
2. fenced code blocks (```` ```json ````, ```` ```tool_call ```` or plain) holding an object
   with ``name`` and ``arguments`` (or ``parameters``, as Llama 3.x writes), or a list of them;
3. a bare JSON object (or list of them) that is the whole message.

Tags say plainly that the model meant a call, and so does a message that is nothing but an
object with ``name`` and ``arguments``: there a call to a tool that does not exist is still a
call (the toolbox then lists the tools there are), and tagged JSON that does not parse is a
call with ``arguments=None`` and an ``error`` the model reads. In code blocks only objects
naming an offered tool count, so a JSON example in an explanation is not run.
``arguments`` given as a JSON string are decoded; ``{"function": {...}}`` wrappers are
unwrapped; ``<think>`` sections are skipped. Every call gets a fresh id. Pure functions, no I/O.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from aar.researchers.providers.base import (
    Block,
    Message,
    ToolCall,
    ToolResultBlock,
    ToolUseBlock,
    parse_arguments,
)

_THINK = re.compile(r"<think>.*?(?:</think>|\Z)", re.S)
# A tag ends at its closing tag, at the next opening tag, or at the end of the text.
_TAGGED = re.compile(
    r"<tool_call>(?P<call>.*?)(?:</tool_call>|(?=<tool_call>)|\Z)"
    r"|<function=(?P<name>[^>\s]+)>(?P<args>.*?)(?:</function>|(?=<function=)|\Z)",
    re.S,
)
_FENCE = "```"
_FENCE_OPEN = re.compile(r"```[ \t]*(?P<lang>[\w-]*)[ \t]*\n?")
_FENCE_LANGS = {"", "json", "tool_call", "tool_calls"}
_NAME = re.compile(r'"name"\s*:\s*"(?P<name>[^"]+)"')
_DECODER = json.JSONDecoder()
_SHAPE = '<tool_call>{"name": TOOL, "arguments": {...}}</tool_call>'


def parse_text_calls(text: str, tools: Collection[str]) -> tuple[ToolCall, ...]:
    """The tool calls written in ``text`` (see the module docstring); ``tools`` are the names
    offered to the model."""
    text = _THINK.sub("", text)
    return _tagged(text) or _fenced(text, tools) or _bare(text, tools)


def tool_response(name: str, content: str, *, is_error: bool = False) -> str:
    """One tool result as a model that writes Hermes-style calls reads it: the content raw in
    the tags, as Qwen's own chat template puts it, after the tool's name. Not JSON: a small
    model shown JSON results copies their shape into its next call."""
    status = "ERROR" if is_error else "result"
    return f"<tool_response>\n{name} {status}:\n{content}\n</tool_response>"


def tool_use_blocks(calls: Sequence[ToolCall]) -> tuple[ToolUseBlock, ...]:
    """The history blocks of calls read from text (marked, so they go back as text)."""
    return tuple(ToolUseBlock(c.id, c.name, c.arguments or {}, from_text=True) for c in calls)


def text_call_names(messages: Sequence[Message]) -> dict[str, str]:
    """Call id → tool name of every call in ``messages`` that was read from text."""
    return {
        block.id: block.name
        for message in messages
        for block in message.content
        if isinstance(block, ToolUseBlock) and block.from_text
    }


def text_results(blocks: Sequence[Block], names: Mapping[str, str]) -> str:
    """The results among ``blocks`` that answer text calls (ids in ``names``), as text."""
    return "\n".join(
        tool_response(names[b.tool_use_id], b.content, is_error=b.is_error)
        for b in blocks
        if isinstance(b, ToolResultBlock) and b.tool_use_id in names
    )


# --- the forms -------------------------------------------------------------------------------


def _tagged(text: str) -> tuple[ToolCall, ...]:
    calls: list[ToolCall] = []
    for match in _TAGGED.finditer(text):
        if match["name"] is not None:
            calls.append(_function_tag(match["name"], match["args"]))
        else:
            calls.extend(_tool_call_tag(match["call"]))
    return tuple(calls)


def _tool_call_tag(body: str) -> list[ToolCall]:
    inner = body.strip()
    opening = _FENCE_OPEN.match(inner)  # some models fence the JSON inside the tags
    inner = inner[opening.end() :] if opening else inner
    values, _ = _json_values(inner, 0)
    if not values:
        found = _NAME.search(inner)
        problem = f"the JSON in <tool_call> tags does not parse ({_json_error(inner)})"
        return [_broken(found["name"] if found else "", inner, f"{problem}; write {_SHAPE}")]
    return [_tagged_item(_unwrapped(item), inner) for item in _items(values)]


def _tagged_item(item: Any, body: str) -> ToolCall:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        return _broken("", body, f"a <tool_call> holds one JSON object: {_SHAPE}")
    return _call(item["name"], item.get("arguments", item.get("parameters", {})))


def _function_tag(name: str, body: str) -> ToolCall:
    if not body.strip():
        return _call(name, {})
    values, _ = _json_values(body, 0)
    if not values:
        problem = f"the arguments in <function={name}> do not parse ({_json_error(body)})"
        return _broken(name, body, f"{problem}; write a JSON object")
    return _call(name, values[0])


def _fenced(text: str, tools: Collection[str]) -> tuple[ToolCall, ...]:
    """Calls in code blocks; the JSON decoder finds a block's end, so a fence inside a JSON
    string (a file being written) does not cut the block."""
    calls: list[ToolCall] = []
    position = 0
    while (opening := _FENCE_OPEN.search(text, position)) is not None:
        values: list[Any] = []
        end = opening.end()
        if opening["lang"].lower() in _FENCE_LANGS:
            values, end = _json_values(text, opening.end())
        if values and (end == len(text) or text.startswith(_FENCE, end)):
            calls.extend(_offered(values, tools))
        else:  # not JSON: skip the block's content up to its closing fence
            end = text.find(_FENCE, opening.end())
            end = len(text) if end == -1 else end
        position = end + len(_FENCE)
    return tuple(calls)


def _bare(text: str, tools: Collection[str]) -> tuple[ToolCall, ...]:
    """A message that is nothing but call-shaped JSON meant a call, even to a tool that does
    not exist (the toolbox then lists the real ones)."""
    values, end = _json_values(text, 0)
    return _offered(values, None) if values and end == len(text) else ()


# --- pieces ----------------------------------------------------------------------------------


def _json_values(text: str, position: int) -> tuple[list[Any], int]:
    """The JSON values one after another from ``position`` (whitespace between), and where
    they stop: at the end, or at the first text that is not JSON."""
    values: list[Any] = []
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position == len(text) or text.startswith(_FENCE, position):
            return values, position
        try:
            value, position = _DECODER.raw_decode(text, position)
        except json.JSONDecodeError:
            return _with_closed_tail(text, position, values)
        values.append(value)


def _with_closed_tail(text: str, position: int, values: list[Any]) -> tuple[list[Any], int]:
    """Small models often stop one or two closing braces short of the end of their call, or
    end it with stray punctuation: the rest of the segment (to a fence or the end), without
    that punctuation and closed, if that makes it JSON."""
    end = text.find(_FENCE, position)
    end = len(text) if end == -1 else end
    # Qwen2.5-Coder-0.5B also ended one call with ")" where "}" belonged.
    tail = text[position:end].rstrip().rstrip(");,.").rstrip()
    closers = _missing_closers(tail)
    if closers:
        try:
            values = [*values, json.loads(tail + closers)]
            return values, end
        except json.JSONDecodeError:
            pass
    return values, position


def _missing_closers(fragment: str) -> str:
    """The brackets that would close ``fragment`` ("" if it is inside a string or unbalanced)."""
    opened: list[str] = []
    in_string = escaped = False
    for char in fragment:
        if in_string:
            escaped, in_string = (False, True) if escaped else (char == "\\", char != '"')
        elif char == '"':
            in_string = True
        elif char in "{[":
            opened.append("}" if char == "{" else "]")
        elif char in "}]" and (not opened or opened.pop() != char):
            return ""
    return "" if in_string else "".join(reversed(opened))


def _json_error(text: str) -> str:
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        return str(error)
    return "not a JSON object"


def _offered(values: list[Any], tools: Collection[str] | None) -> tuple[ToolCall, ...]:
    """The objects among ``values`` (or in lists among them) that call an offered tool (any
    tool when ``tools`` is None)."""
    calls = []
    for item in map(_unwrapped, _items(values)):
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str) or (tools is not None and name not in tools):
            continue
        if "arguments" in item or "parameters" in item:
            calls.append(_call(name, item.get("arguments", item.get("parameters"))))
    return tuple(calls)


def _items(values: list[Any]) -> list[Any]:
    """The values, with lists (several calls at once) opened."""
    return [item for value in values for item in (value if isinstance(value, list) else [value])]


def _unwrapped(item: Any) -> Any:
    """``{"type": "function", "function": {"name": ...}}`` (the OpenAI wire shape) → its
    inner object."""
    if isinstance(item, dict) and "name" not in item and isinstance(item.get("function"), dict):
        return item["function"]
    return item


def _call(name: str, arguments: Any) -> ToolCall:
    if isinstance(arguments, str):  # arguments as a JSON string, as the OpenAI wire has them
        parsed, problem = parse_arguments(arguments)
        return ToolCall(_new_id(), name, parsed, arguments, problem, from_text=True)
    raw = json.dumps(arguments, ensure_ascii=False)
    if arguments is None:
        return ToolCall(_new_id(), name, {}, raw, from_text=True)
    if not isinstance(arguments, dict):
        problem = f"the arguments must be a JSON object, not {type(arguments).__name__}"
        return _broken(name, raw, problem)
    return ToolCall(_new_id(), name, arguments, raw, from_text=True)


def _broken(name: str, raw: str, problem: str) -> ToolCall:
    return ToolCall(_new_id(), name, None, raw.strip(), problem, from_text=True)


def _new_id() -> str:
    return f"call_{uuid.uuid4().hex[:16]}"
