"""Codex CLI's ``exec --json`` events, read as they arrive, written into the transcript.

    reader = CodexReader(transcript)
    box.exec(argv, on_stdout=reader.feed)      # each finished item becomes a record
    reader.close()
    reader.result                              # how the session's last turn ended, or None

Each finished item becomes what aar's own loop would write: an ``agent_message`` a ``model``
record with its text (the reasoning before it as its thinking), a command, an MCP tool call,
a file change or a web search a ``model`` record with that one tool call followed by its
``tool`` record (commands are named ``shell``; aar's MCP tools keep their own names, so the
campaign counts submissions the same way for every brain). ``turn.completed`` and
``turn.failed`` end the session's result (its usage, or its error); ``error`` events and lines
that are not JSON are kept as ``agent_output``. The assistant turns counted here are the
model records, so a step budget holds for Codex as for the others.
"""

from __future__ import annotations

import json
from typing import Any

from aar.core.transcripts import Transcript
from aar.researchers.agents.stream import MAX_RECORDED, LineSplitter, tool_name


class CodexReader(LineSplitter):
    """Codex's ``exec --json`` events (see the module docstring)."""

    def __init__(self, transcript: Transcript) -> None:
        super().__init__(transcript)
        self._thinking: list[str] = []

    def _line(self, text: str) -> None:
        line = self._event(text) if text else None
        if line is None:
            return
        kind = line.get("type")
        if kind == "item.completed":
            self._item(line.get("item") or {})
        elif kind in ("turn.completed", "turn.failed"):
            self._turn_end(line)
        elif kind not in ("thread.started", "turn.started", "item.started", "item.updated"):
            self.transcript.append("agent_output", text=text[:MAX_RECORDED])

    def _item(self, item: dict[str, Any]) -> None:
        kind = item.get("type")
        if kind == "reasoning":
            self._thinking.append(str(item.get("text") or ""))
        elif kind == "agent_message":
            self._model(str(item.get("text") or ""), [])
        elif kind in TOOLS:
            name, arguments, result, failed = TOOLS[str(kind)](item)
            call = {"id": item.get("id"), "name": name, "arguments": arguments,
                    "source": "native"}  # fmt: skip
            self._model("", [call])
            self.transcript.append("tool", name=name, is_error=failed,
                                   result=result[:MAX_RECORDED])  # fmt: skip
        else:
            self.transcript.append("agent_output", text=json.dumps(item)[:MAX_RECORDED])

    def _model(self, text: str, calls: list[dict[str, Any]]) -> None:
        self.assistant_turns += 1
        thinking, self._thinking = "\n\n".join(self._thinking) or None, []
        self.transcript.append("model", text=text, thinking=thinking, tool_calls=calls)

    def _turn_end(self, line: dict[str, Any]) -> None:
        failed = line["type"] == "turn.failed"
        error = str((line.get("error") or {}).get("message") or "")
        usage = line.get("usage")
        self.result = {"subtype": "turn", "is_error": failed, "result": error}
        self.transcript.append(
            "event", event="session_end", subtype="turn_failed" if failed else "turn",
            is_error=failed, result=error[:MAX_RECORDED],
            usage=_usage(usage if isinstance(usage, dict) else {}),
        )  # fmt: skip


def _usage(usage: dict[str, Any]) -> dict[str, int]:
    """Codex's turn usage in the transcript's form (its input counts the cached part)."""
    cached = int(usage.get("cached_input_tokens") or 0)
    return {
        "input_tokens": max(int(usage.get("input_tokens") or 0) - cached, 0),
        "output_tokens": int(usage.get("output_tokens") or 0),
        "cache_read_tokens": cached,
    }


def _command(item: dict[str, Any]) -> tuple[str, Any, str, bool]:
    code = item.get("exit_code")
    output = str(item.get("aggregated_output") or "")
    return "shell", {"command": item.get("command")}, output, code not in (0, None)


def _mcp(item: dict[str, Any]) -> tuple[str, Any, str, bool]:
    result = item.get("result") or {}
    content = result.get("content") if isinstance(result, dict) else None
    text = "\n".join(
        str(part.get("text")) for part in content or [] if isinstance(part, dict)
    ) or str((item.get("error") or {}).get("message") or "")
    failed = item.get("error") is not None
    return tool_name(str(item.get("tool"))), item.get("arguments"), text, failed


def _file_change(item: dict[str, Any]) -> tuple[str, Any, str, bool]:
    return "apply_patch", {"changes": item.get("changes")}, "", item.get("status") == "failed"


def _web_search(item: dict[str, Any]) -> tuple[str, Any, str, bool]:
    return "web_search", {"query": item.get("query")}, "", False


TOOLS = {
    "command_execution": _command,
    "mcp_tool_call": _mcp,
    "file_change": _file_change,
    "web_search": _web_search,
}
"""Codex's item types that are tool calls: item → (name, arguments, result, failed)."""
