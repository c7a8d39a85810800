"""Tools over the method library and the researcher's notebook."""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field

from aar.core.hashing import config_hash
from aar.researchers.tools.base import ToolArgs, ToolError, tool
from aar.researchers.tools.context import ToolContext
from aar.researchers.tools.workspace import describe
from aar.sandbox.base import SandboxPathError


class RunMethodArgs(ToolArgs):
    method: str = Field(description="a library method (see `aar methods`)")
    options: dict[str, Any] = Field(default_factory=dict, description="the method's options")
    seeds: list[int] = Field(default=[0], min_length=1, max_length=10)
    timeout: float = Field(1800.0, gt=0, le=7200, description="seconds per seed")


def prediction_file(method: str, options: dict[str, Any], seed: int) -> str:
    """Where ``run_method`` writes a seed's predictions, named by method and config hash."""
    return f"runs/{method}-{config_hash(options)[:8]}-seed{seed}.json"


@tool("run_method", RunMethodArgs)
def run_method(ctx: ToolContext, args: RunMethodArgs) -> str:
    """Run a library method with options on the task's public data, one run per seed. Each run
    writes test predictions to runs/<method>-<hash>-seed<S>.json for submit_predictions."""
    reports = []
    for seed in args.seeds:
        out = prediction_file(args.method, args.options, seed)
        command = [ctx.python, "-m", "aar", "predict", "--bundle", ctx.bundle]
        command += ["--method", args.method, "--seed", str(seed), "--out", out]
        for key, value in args.options.items():
            command += ["--method-option", f"{key}={json.dumps(value)}"]
        result = ctx.sandbox.exec(command, timeout=args.timeout)
        if result.exit_code != 0:
            raise ToolError(f"{args.method} seed {seed} failed: {describe(result)}")
        reports.append(result.stdout.strip())
    return "\n".join(reports)


class NotebookArgs(ToolArgs):
    append: str | None = Field(None, description="text to add at the end; omit to read it")


@tool("notebook", NotebookArgs)
def notebook(ctx: ToolContext, args: NotebookArgs) -> str:
    """Read your persistent notebook, or append to it. Keep your state there: what you tried,
    what you found, what you plan next. It survives context resets."""
    try:
        text = ctx.sandbox.read_file(ctx.notebook, max_bytes=1_000_000)
    except SandboxPathError:  # no notebook yet
        text = ""
    if args.append is None:
        return text or "(the notebook is empty)"
    joined = (text.rstrip("\n") + "\n\n" if text.strip() else "") + args.append.strip() + "\n"
    ctx.sandbox.write_file(ctx.notebook, joined)
    return f"appended {len(args.append)} characters to the notebook"


LIBRARY_TOOLS = [run_method, notebook]
