"""A provider that replays a script: for tests and offline demos, no network, no key.

    provider = ScriptedProvider([
        Turn(tool_calls=(ScriptedCall("read_file", {"path": "README.md"}),)),
        "Done: the README describes the task.",                # a plain text turn
    ])
    provider.complete(system, history, tools)   # the first turn, then the second, then an error
    provider.requests                           # what the caller sent, call by call

Instead of a list it takes a function ``(system, messages, tools) -> Turn | str | Completion``
that answers each call. ``ScriptedProvider.from_file`` reads a JSON list of turns::

    [{"tool_calls": [{"name": "read_file", "arguments": {"path": "README.md"}}]},
     {"text": "Done.", "usage": {"input_tokens": 1200, "output_tokens": 30}}]

A call's ``arguments`` given as a string are taken as the model's raw JSON, so a script can
send malformed arguments the way a real model sometimes does. With ``text_tool_calls=True``
a turn without ``tool_calls`` is read for calls written in its text, as the OpenAI-compatible
provider reads them (``textcalls``). When the script runs out, ``complete`` raises
``ScriptExhaustedError``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pydantic import ConfigDict, TypeAdapter, ValidationError, with_config

from aar.core.prices import PriceTable
from aar.core.usage import Usage
from aar.researchers.providers.base import (
    Block,
    Completion,
    Message,
    Provider,
    ProviderConfigError,
    ProviderError,
    TextBlock,
    ThinkingBlock,
    ToolCall,
    ToolSpec,
    ToolUseBlock,
    parse_arguments,
)
from aar.researchers.providers.textcalls import parse_text_calls, tool_use_blocks


@with_config(ConfigDict(extra="forbid"))
@dataclass(frozen=True)
class ScriptedCall:
    """A tool call in a script; string ``arguments`` are raw JSON, possibly malformed."""

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    id: str | None = None


@with_config(ConfigDict(extra="forbid"))
@dataclass(frozen=True)
class Turn:
    """One scripted assistant turn; ``stop_reason`` defaults from whether it calls tools."""

    text: str = ""
    tool_calls: tuple[ScriptedCall, ...] = ()
    usage: Usage = field(default_factory=Usage)
    stop_reason: str | None = None
    thinking: str | None = None


@dataclass(frozen=True)
class ScriptedRequest:
    """What the caller passed to one ``complete`` call."""

    system: str
    messages: tuple[Message, ...]
    tools: tuple[ToolSpec, ...]
    max_tokens: int


Responder = Callable[[str, Sequence[Message], Sequence[ToolSpec]], "Turn | str | Completion"]

_TURNS: TypeAdapter[list[Turn | str]] = TypeAdapter(list[Turn | str])


class ScriptExhaustedError(ProviderError):
    """The script has no turn left for a call."""


class ScriptedProvider(Provider):
    """Replays scripted turns (or asks a function); see the module docstring."""

    name: ClassVar[str] = "scripted"

    def __init__(
        self,
        script: Iterable[Turn | str] | Responder,
        *,
        model: str = "scripted",
        context_window: int | None = None,
        prices: PriceTable | None = None,
        text_tool_calls: bool = False,
    ) -> None:
        self.model = model
        self.text_tool_calls = text_tool_calls
        self.context_window = context_window or 200_000
        self.prices = prices or PriceTable.default()
        self.requests: list[ScriptedRequest] = []
        self._responder = script if callable(script) else None
        self._turns = [] if callable(script) else list(script)

    @classmethod
    def from_file(cls, path: Path | str, **options: Any) -> ScriptedProvider:
        """A provider replaying the JSON list of turns in ``path`` (options as ``__init__``)."""
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise ProviderConfigError(f"cannot read the script {path}: {error}") from None
        try:
            turns = _TURNS.validate_python(data)
        except ValidationError as error:
            raise ProviderConfigError(
                f"the script {path} is not a list of turns: {error}"
            ) from None
        return cls(turns, **options)

    def close(self) -> None:
        """Nothing to release."""

    @property
    def remaining(self) -> int | None:
        """Turns left in the script (None when a function answers)."""
        return None if self._responder else len(self._turns) - len(self.requests)

    def complete(
        self,
        system: str,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        *,
        max_tokens: int = 4096,
        timeout_s: float | None = None,
    ) -> Completion:
        start = time.monotonic()
        number = len(self.requests)
        self.requests.append(ScriptedRequest(system, tuple(messages), tuple(tools), max_tokens))
        if self._responder is not None:
            answer = self._responder(system, messages, tools)
        elif number < len(self._turns):
            answer = self._turns[number]
        else:
            raise ScriptExhaustedError(
                self.name,
                self.model,
                f"the script has no turn left: all {len(self._turns)} turns were used "
                f"and this is call {number + 1}",
            )
        if isinstance(answer, Completion):
            return answer
        turn = Turn(text=answer) if isinstance(answer, str) else answer
        return self._completion(turn, number, tools, time.monotonic() - start)

    def _completion(
        self, turn: Turn, number: int, tools: Sequence[ToolSpec], duration_s: float
    ) -> Completion:
        blocks: list[Block] = []
        if turn.thinking:
            blocks.append(ThinkingBlock(turn.thinking, signature="scripted"))
        if turn.text:
            blocks.append(TextBlock(turn.text))
        calls = tuple(
            _tool_call(call, f"call_{number}_{i}") for i, call in enumerate(turn.tool_calls)
        )
        blocks.extend(ToolUseBlock(c.id, c.name, c.arguments or {}) for c in calls)
        if not calls and self.text_tool_calls:
            calls = parse_text_calls(turn.text, {tool.name for tool in tools})
            blocks.extend(tool_use_blocks(calls))
        return Completion(
            text=turn.text,
            tool_calls=calls,
            message=Message("assistant", tuple(blocks)),
            usage=turn.usage,
            cost_usd=self.prices.cost(self.model, turn.usage),
            stop_reason=turn.stop_reason or ("tool_use" if calls else "end_turn"),
            model=self.model,
            duration_s=duration_s,
            thinking=turn.thinking,
        )


def _tool_call(call: ScriptedCall, default_id: str) -> ToolCall:
    if isinstance(call.arguments, str):
        arguments, problem = parse_arguments(call.arguments)
        return ToolCall(call.id or default_id, call.name, arguments, call.arguments, problem)
    return ToolCall(call.id or default_id, call.name, call.arguments, json.dumps(call.arguments))
