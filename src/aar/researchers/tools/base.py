"""Tool definitions and dispatch.

A tool is a function ``(context, arguments) -> str`` whose arguments are a pydantic model:

    class ReadArgs(BaseModel):
        path: str = Field(description="file in the workspace")

    @tool("read_file", ReadArgs)
    def read_file(ctx: ToolContext, args: ReadArgs) -> str:
        \"\"\"Read a text file from the workspace.\"\"\"   # the description the model sees

``Toolbox.call`` validates the model's arguments, runs the tool, turns the errors the model
caused into error outcomes, caps the output, and records the call in the hub's audit log.
An output over the cap is cut, and the whole of it saved in the workspace under
``tool-outputs/`` (the last ``KEPT_OUTPUTS`` of them; snapshots leave the folder out), where
the note at the cut says.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from aar.core.errors import AarError
from aar.hub.client import HubError
from aar.researchers.providers.base import ToolCall, ToolSpec
from aar.researchers.tools.context import ToolContext
from aar.sandbox.base import SandboxPathError

A = TypeVar("A", bound=BaseModel)
MAX_OUTPUT = 20_000
OUTPUTS_FOLDER = "tool-outputs"
KEPT_OUTPUTS = 20


class ToolError(AarError):
    """A problem the model caused; its message goes back to the model as the tool's result."""


@dataclass(frozen=True)
class Tool:
    name: str
    arguments: type[BaseModel]
    run: Callable[[ToolContext, Any], str]
    description: str

    def spec(self) -> ToolSpec:
        schema = self.arguments.model_json_schema()
        schema.pop("title", None)
        return ToolSpec(self.name, self.description, schema)


def tool(name: str, arguments: type[A]) -> Callable[[Callable[[ToolContext, A], str]], Tool]:
    """Make a ``Tool`` of a function; its docstring is the description the model reads."""

    def wrap(run: Callable[[ToolContext, A], str]) -> Tool:
        description = inspect.cleandoc(run.__doc__ or "")
        if not description:
            raise ValueError(f"tool {name} needs a docstring: it is the model's description")
        return Tool(name, arguments, run, description)

    return wrap


@dataclass(frozen=True)
class ToolOutcome:
    content: str
    is_error: bool
    seconds: float


class Toolbox:
    def __init__(self, context: ToolContext, tools: Sequence[Tool]) -> None:
        self.context = context
        self.tools = {t.name: t for t in tools}
        self._outputs_saved = 0

    def specs(self) -> list[ToolSpec]:
        return [t.spec() for t in self.tools.values()]

    def call(self, call: ToolCall, max_chars: int = MAX_OUTPUT) -> ToolOutcome:
        """Run one tool call; the model's mistakes become error outcomes, our bugs raise.
        Output over ``max_chars`` is cut and saved whole in the workspace."""
        started = time.perf_counter()
        try:
            content, is_error = self._run(call), False
        except (ToolError, SandboxPathError, HubError) as err:
            content, is_error = str(err), True
        content = self._capped(content, max_chars)
        seconds = time.perf_counter() - started
        self._audit(call, content, is_error, seconds)
        return ToolOutcome(content, is_error, seconds)

    def _run(self, call: ToolCall) -> str:
        found = self.tools.get(call.name)
        if found is None:
            raise ToolError(f"no tool named {call.name!r}; tools: {', '.join(self.tools)}")
        if call.arguments is None:
            raise ToolError(f"arguments of {call.name} are not a JSON object: {call.error}")
        try:
            arguments = found.arguments.model_validate(call.arguments)
        except ValidationError as err:
            raise ToolError(f"bad arguments for {call.name}: {_problems(err)}") from None
        return found.run(self.context, arguments)

    def _audit(self, call: ToolCall, content: str, is_error: bool, seconds: float) -> None:
        summary = ("error: " if is_error else "") + content[:500]
        self.context.hub.record_tool_call(
            call.name, call.arguments or {"raw": call.raw_arguments[:2000]}, summary, 0,
            seconds * 1000,
        )  # fmt: skip

    def _capped(self, content: str, max_chars: int) -> str:
        if len(content) <= max_chars:
            return content
        cut = len(content) - max_chars
        where = self._save_output(content)
        whole = (
            f"; the whole output is in {where} (read parts of it with shell: sed -n, grep, tail)"
            if where
            else ""
        )
        return content[:max_chars] + f"\n[... {cut} more characters cut{whole}]"

    def _save_output(self, content: str) -> str | None:
        """Save a cut output in the workspace, round-robin over ``KEPT_OUTPUTS`` files."""
        path = f"{OUTPUTS_FOLDER}/output-{self._outputs_saved % KEPT_OUTPUTS:02d}.txt"
        try:
            self.context.sandbox.write_file(path, content)
        except SandboxPathError:
            return None  # a full workspace: the cut output is all there is
        self._outputs_saved += 1
        return path


def _problems(error: ValidationError) -> str:
    parts = []
    for problem in error.errors()[:5]:
        where = ".".join(str(p) for p in problem["loc"]) or "arguments"
        parts.append(f"{where}: {problem['msg']}")
    return "; ".join(parts)
