"""Tool definitions and dispatch.

A tool is a function ``(context, arguments) -> str`` whose arguments are a ``ToolArgs``
model (pydantic, unknown keys refused, so a misspelt argument is not silently dropped):

    class ReadArgs(ToolArgs):
        path: str = Field(description="file in the workspace")

    @tool("read_file", ReadArgs)
    def read_file(ctx: ToolContext, args: ReadArgs) -> str:
        \"\"\"Read a text file from the workspace.\"\"\"   # the description the model sees

``Toolbox.call`` validates the model's arguments, runs the tool, turns the errors the model
caused into error outcomes, caps the output, and records the call in the hub's audit log.
An output over the cap is cut, and the whole of it saved in the workspace under
``tool-outputs/`` (the last ``KEPT_OUTPUTS`` of them; snapshots leave the folder out), where
the note at the cut says.
Arguments that do not validate come back naming each missing, unknown or bad field, with the
tool's JSON schema, so the model can correct the call.
"""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from aar.core.errors import AarError
from aar.hub.client import HubError
from aar.researchers.providers.base import ToolCall, ToolSpec
from aar.researchers.tools.context import ToolContext
from aar.sandbox.base import SandboxPathError

MAX_OUTPUT = 20_000
OUTPUTS_FOLDER = "tool-outputs"
KEPT_OUTPUTS = 20
MAX_SCHEMA = 2_000  # characters of the schema shown with an argument error
MAX_PROBLEMS = 10


class ToolArgs(BaseModel):
    """The base of every tool's arguments: keys the schema does not name are refused."""

    model_config = ConfigDict(extra="forbid")


A = TypeVar("A", bound=ToolArgs)


class ToolError(AarError):
    """A problem the model caused; its message goes back to the model as the tool's result."""


@dataclass(frozen=True)
class Tool:
    name: str
    arguments: type[ToolArgs]
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
            named = f"no tool named {call.name!r}" if call.name else "the call names no tool"
            also = f"; and {call.error}" if call.error else ""
            raise ToolError(f"{named}; tools: {', '.join(self.tools)}{also}")
        if call.arguments is None:
            raise ToolError(f"arguments of {call.name} are not a JSON object: {call.error}")
        try:
            arguments = found.arguments.model_validate(call.arguments)
        except ValidationError as err:
            raise ToolError(_bad_arguments(found, err)) from None
        return found.run(self.context, arguments)

    def _audit(self, call: ToolCall, content: str, is_error: bool, seconds: float) -> None:
        summary = ("error: " if is_error else "") + content[:500]
        # The hub takes names of 1 to 128 characters; a model may write anything.
        name = call.name[:128] or "(no name)"
        self.context.hub.record_tool_call(
            name, call.arguments or {"raw": call.raw_arguments[:2000]}, summary, 0, seconds * 1000
        )

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


def _bad_arguments(found: Tool, error: ValidationError) -> str:
    """Each bad, missing or unknown field, then the schema the arguments must match."""
    problems = error.errors()
    parts = [_problem(p) for p in problems[:MAX_PROBLEMS]]
    if len(problems) > MAX_PROBLEMS:
        parts.append(f"and {len(problems) - MAX_PROBLEMS} more")
    schema = json.dumps(found.spec().parameters, separators=(",", ":"), ensure_ascii=False)
    if len(schema) > MAX_SCHEMA:
        schema = schema[:MAX_SCHEMA] + " [... schema cut]"
    return (
        f"bad arguments for {found.name}: {'; '.join(parts)}. "
        f"The arguments must match this JSON schema: {schema}"
    )


def _problem(problem: Any) -> str:
    where = ".".join(str(p) for p in problem["loc"]) or "arguments"
    if problem["type"] == "missing":
        return f"{where}: missing (required)"
    if problem["type"] == "extra_forbidden":
        return f"{where}: unknown argument"
    return f"{where}: {problem['msg']}"
