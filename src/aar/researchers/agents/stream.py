"""Claude Code's ``stream-json`` output, read as it arrives, written into the transcript.

    reader = StreamReader(transcript)
    box.exec(argv, on_stdout=reader.feed)      # each line becomes a transcript record
    reader.close()
    reader.result                              # the session's final ``result`` line, or None

Assistant messages become ``model`` records (text, tool calls), tool results become ``tool``
records (named by their call; aar's MCP tools lose their ``mcp__aar__`` prefix so the
campaign counts submissions the same way for every brain), and the ``result`` line becomes a
``session_end`` event with the session's cost and usage. Lines that are not JSON (a crash's
message) are kept as ``agent_output`` records. The hub's stored model calls stay the record of
what the model was asked and said; this is the agent's own account of its session.
"""

from __future__ import annotations

import json
from typing import Any

from aar.core.transcripts import Transcript

MCP_PREFIX = "mcp__aar__"
MAX_RECORDED = 4_000
"""Characters of a tool result or a stray line kept in the transcript."""


class LineSplitter:
    """Output cut into lines as it arrives; ``_line`` records each one."""

    def __init__(self, transcript: Transcript) -> None:
        self.transcript = transcript
        self.result: dict[str, Any] | None = None
        self.assistant_turns = 0
        self._buffer = b""

    def feed(self, chunk: bytes) -> None:
        """Record every complete line in ``chunk`` (with what an earlier chunk left over)."""
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            self._line(line.decode("utf-8", errors="replace").strip())

    def close(self) -> None:
        """Record a last line that had no newline."""
        rest, self._buffer = self._buffer, b""
        self._line(rest.decode("utf-8", errors="replace").strip())

    def _line(self, text: str) -> None:
        raise NotImplementedError

    def _event(self, text: str) -> dict[str, Any] | None:
        """``text`` as a JSON object; anything else (a crash's message) is kept as it is."""
        try:
            line = json.loads(text)
        except json.JSONDecodeError:
            line = None
        if isinstance(line, dict):
            return line
        self.transcript.append("agent_output", text=text[:MAX_RECORDED])
        return None


class StreamReader(LineSplitter):
    """Claude Code's ``stream-json`` (see the module docstring)."""

    def __init__(self, transcript: Transcript) -> None:
        super().__init__(transcript)
        self.init: dict[str, Any] | None = None
        self._tool_names: dict[str, str] = {}

    def _line(self, text: str) -> None:
        line = self._event(text) if text else None
        if line is None:
            return
        kind = line.get("type")
        if kind == "assistant":
            self._assistant(line.get("message") or {})
        elif kind == "user":
            self._tool_results(line.get("message") or {})
        elif kind == "result":
            self._result(line)
        elif kind == "system" and line.get("subtype") == "init":
            self.init = line
            self.transcript.append(
                "event", event="agent_init", model=line.get("model"), tools=line.get("tools"),
                mcp=line.get("mcp_servers"),
            )  # fmt: skip
        elif kind == "system" and line.get("subtype") == "api_retry":
            self.transcript.append("event", event="agent_retry", status=line.get("error_status"),
                                   attempt=line.get("attempt"))  # fmt: skip

    def _assistant(self, message: dict[str, Any]) -> None:
        self.assistant_turns += 1
        blocks = [b for b in message.get("content") or [] if isinstance(b, dict)]
        calls = []
        for block in blocks:
            if block.get("type") == "tool_use":
                name = tool_name(str(block.get("name")))
                self._tool_names[str(block.get("id"))] = name
                calls.append({"id": block.get("id"), "name": name,
                              "arguments": block.get("input"), "source": "native"})  # fmt: skip
        text = "\n\n".join(str(b.get("text")) for b in blocks if b.get("type") == "text")
        thinking = "\n\n".join(
            str(b.get("thinking")) for b in blocks if b.get("type") == "thinking"
        )
        self.transcript.append("model", text=text, thinking=thinking or None, tool_calls=calls,
                               model=message.get("model"))  # fmt: skip

    def _tool_results(self, message: dict[str, Any]) -> None:
        content = message.get("content")
        if not isinstance(content, list):
            return
        for block in content:
            if isinstance(block, dict) and block.get("type") == "tool_result":
                name = self._tool_names.get(str(block.get("tool_use_id")), "(unknown)")
                result = _text(block.get("content"))[:MAX_RECORDED]
                self.transcript.append("tool", name=name, is_error=bool(block.get("is_error")),
                                       result=result)  # fmt: skip

    def _result(self, line: dict[str, Any]) -> None:
        self.result = line
        self.transcript.append(
            "event", event="session_end", subtype=line.get("subtype"),
            is_error=bool(line.get("is_error")), turns=line.get("num_turns"),
            result=str(line.get("result") or "")[:MAX_RECORDED],
            cost_usd=line.get("total_cost_usd"), usage=_usage(line.get("usage")),
            denials=len(line.get("permission_denials") or []),
        )  # fmt: skip


def tool_name(name: str) -> str:
    return name.removeprefix(MCP_PREFIX)


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(part.get("text")) for part in content if isinstance(part, dict) and "text" in part
        )
    return json.dumps(content)


def _usage(usage: object) -> dict[str, int]:
    """The session's tokens in the transcript's usage form (``aar.core.usage`` names)."""
    if not isinstance(usage, dict):
        return {}
    names = {"input_tokens": "input_tokens", "output_tokens": "output_tokens",
             "cache_read_input_tokens": "cache_read_tokens",
             "cache_creation_input_tokens": "cache_write_tokens"}  # fmt: skip
    return {ours: int(usage.get(theirs) or 0) for theirs, ours in names.items()}


class LineReader(LineSplitter):
    """Any agent's plain output: each line a transcript record, the last ones its result."""

    def __init__(self, transcript: Transcript) -> None:
        super().__init__(transcript)
        self._last: list[str] = []

    def close(self) -> None:
        super().close()
        self.result = {"subtype": "output", "is_error": False, "result": "\n".join(self._last)}

    def _line(self, text: str) -> None:
        if text:
            self.transcript.append("agent_output", text=text[:MAX_RECORDED])
            self._last = [*self._last[-9:], text[:500]]
