"""Benchmark: what one researcher step costs apart from the model.

    python benchmarks/bench_researcher.py              # bwrap sandbox, 40 steps per tool
    python benchmarks/bench_researcher.py --backend process --steps 100

Starts ``aar serve`` on a fresh folder, creates a researcher, and runs the LLM research loop
with the scripted provider (the model answers instantly), so the time per step is the loop's
own: the tool dispatch and argument validation, the sandbox round trip, the audit record on
the hub, the operator check and the transcript line. One table row per tool, plus the
components measured alone: a bare sandbox exec, an audit write and the operator's status
check. Mean, p50 and p95 in milliseconds; the target is under 50 ms per step.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from aar.campaign.hubproc import HubProcess
from aar.core.transcripts import Transcript
from aar.hub.client import HubClient
from aar.researchers.loop import LLMBudget, ResearchLoop
from aar.researchers.providers import ScriptedCall, ScriptedProvider, Turn
from aar.researchers.tools import Toolbox, ToolContext, default_tools
from aar.sandbox import SandboxSpec, make_sandbox

CALLS = {
    "shell": {"command": "true"},
    "read_file": {"path": "notes.md"},
    "write_file": {"path": "notes.md", "content": "x" * 2000},
    "list_files": {},
    "notebook": {"append": "a line"},
    "leaderboard": {},
}


def loop_steps(box: Toolbox, folder: Path, tool: str, steps: int) -> list[float]:
    """Per-step wall time of the loop when every model turn calls ``tool`` once."""
    marks: list[float] = []

    def respond(system: str, messages: Any, tools: Any) -> Turn:
        marks.append(time.perf_counter())
        return Turn(tool_calls=(ScriptedCall(tool, CALLS[tool]),))

    with Transcript(folder / f"{tool}.jsonl") as log:
        budget = LLMBudget(steps=steps + 1)
        ResearchLoop(ScriptedProvider(respond), box, log, "", budget).run()
    return list(np.diff(marks) * 1000)


def timed(runs: int, step: Callable[[], object]) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        step()
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="bwrap", choices=["bwrap", "process"])
    parser.add_argument("--steps", type=int, default=40)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    folder = Path(tempfile.mkdtemp(prefix="aar-bench-researcher-"))
    rows: dict[str, list[float]] = {}
    socket = folder / "hub" / "hub.sock"
    with HubProcess.start(folder / "hub", socket=socket) as hub:
        operator = HubClient(hub.url, hub.operator_token)
        client = HubClient.unix(str(socket), operator.create_researcher("r1").token)
        (folder / "ws").mkdir()
        spec = SandboxSpec(workspace=folder / "ws")
        with make_sandbox(args.backend, spec, allow_unsafe=args.backend == "process") as sandbox:
            context = ToolContext(
                sandbox=sandbox, hub=client, task="none", bundle="/", researcher="r1"
            )
            box = Toolbox(context, default_tools())
            sandbox.write_file("notes.md", "hello")
            for tool in CALLS:
                rows[f"loop step: {tool}"] = loop_steps(box, folder, tool, args.steps)
            rows["alone: sandbox exec true"] = timed(args.steps, lambda: sandbox.exec("true"))
            audit = lambda: client.record_tool_call("bench", {"a": 1}, "ok")  # noqa: E731
            rows["alone: audit write"] = timed(args.steps, audit)
            rows["alone: operator status check"] = timed(args.steps, client.me)
    print(f"researcher step overhead, {args.backend} sandbox, hub on a Unix socket")
    print(f"{'operation':<34} {'mean':>7} {'p50':>7} {'p95':>7}  (ms)")
    for name, values in rows.items():
        p50, p95 = np.percentile(values, [50, 95])
        print(f"{name:<34} {np.mean(values):>7.1f} {p50:>7.1f} {p95:>7.1f}")


if __name__ == "__main__":
    main()
