"""Tools that work in the sandbox: shell and Python, and reading, writing and searching files."""

from __future__ import annotations

import shlex

from pydantic import Field

from aar.researchers.tools.base import ToolArgs, ToolError, tool
from aar.researchers.tools.context import ToolContext
from aar.sandbox.base import ExecResult

Path_ = Field(description="a path in the workspace, relative to /workspace")
Timeout = Field(600.0, gt=0, le=3600, description="seconds before the command is killed")


def describe(result: ExecResult) -> str:
    """An exec result as the model reads it: exit status, then stdout and stderr."""
    if result.killed:
        status = f"killed ({result.killed}) after {result.duration_s:.1f} s"
    else:
        status = f"exit code {result.exit_code} after {result.duration_s:.1f} s"
    parts = [status]
    if result.stdout:
        parts.append("stdout:\n" + result.stdout)
    if result.stderr:
        parts.append("stderr:\n" + result.stderr)
    if result.truncated:
        parts.append("(output truncated)")
    return "\n".join(parts)


class ShellArgs(ToolArgs):
    command: str = Field(description="a shell command, run with /bin/sh -c in /workspace")
    timeout: float = Timeout


@tool("shell", ShellArgs)
def shell(ctx: ToolContext, args: ShellArgs) -> str:
    """Run a shell command in your sandbox (no network; /workspace is yours)."""
    return describe(ctx.sandbox.exec(args.command, timeout=args.timeout))


class PythonArgs(ToolArgs):
    code: str = Field(description="a Python program, run as a script in /workspace")
    timeout: float = Timeout


@tool("python", PythonArgs)
def python(ctx: ToolContext, args: PythonArgs) -> str:
    """Run Python code in your sandbox; print what you want to see. Its curated environment has
    numpy, scipy, torch, sklearn, pandas and aar (no raw-data packages; nothing to install)."""
    return describe(ctx.sandbox.exec([ctx.python, "-"], stdin=args.code, timeout=args.timeout))


class ReadArgs(ToolArgs):
    path: str = Path_
    max_chars: int = Field(20_000, ge=1, le=200_000)


@tool("read_file", ReadArgs)
def read_file(ctx: ToolContext, args: ReadArgs) -> str:
    """Read a text file from your workspace."""
    return ctx.sandbox.read_file(args.path, max_bytes=args.max_chars)


class WriteArgs(ToolArgs):
    path: str = Path_
    content: str = Field(description="the whole new content of the file")


@tool("write_file", WriteArgs)
def write_file(ctx: ToolContext, args: WriteArgs) -> str:
    """Create or overwrite a text file in your workspace."""
    ctx.sandbox.write_file(args.path, args.content)
    return f"wrote {len(args.content)} characters to {args.path}"


class EditArgs(ToolArgs):
    path: str = Path_
    old: str = Field(min_length=1, description="text that occurs exactly once in the file")
    new: str = Field(description="what replaces it")


@tool("edit_file", EditArgs)
def edit_file(ctx: ToolContext, args: EditArgs) -> str:
    """Replace one exact occurrence of a piece of text in a workspace file."""
    text = ctx.sandbox.read_file(args.path, max_bytes=10_000_000)
    count = text.count(args.old)
    if count != 1:
        raise ToolError(f"the text to replace occurs {count} times in {args.path}; it must be 1")
    ctx.sandbox.write_file(args.path, text.replace(args.old, args.new))
    return f"edited {args.path}"


class ListArgs(ToolArgs):
    path: str = Field(".", description="a folder in the workspace")
    recursive: bool = False


@tool("list_files", ListArgs)
def list_files(ctx: ToolContext, args: ListArgs) -> str:
    """List the files in a workspace folder (with sizes)."""
    found = ctx.sandbox.list_files(args.path, recursive=args.recursive)
    lines = [f"{f.path}/" if f.is_dir else f"{f.path}  ({f.size} bytes)" for f in found]
    return "\n".join(lines) or "(empty)"


class GrepArgs(ToolArgs):
    pattern: str = Field(min_length=1, description="a regular expression (grep -E)")
    path: str = Field(".", description="file or folder in the workspace")


@tool("grep", GrepArgs)
def grep(ctx: ToolContext, args: GrepArgs) -> str:
    """Search workspace files for a regular expression; prints file:line:text."""
    command = f"grep -rnE -e {shlex.quote(args.pattern)} -- {shlex.quote(args.path)}"
    result = ctx.sandbox.exec(command, timeout=60)
    if result.exit_code == 1 and not result.stderr:
        return "no matches"
    if result.exit_code not in (0, 1):
        raise ToolError(describe(result))
    return result.stdout


WORKSPACE_TOOLS = [shell, python, read_file, write_file, edit_file, list_files, grep]
