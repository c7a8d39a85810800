"""Benchmark: a real model behind an OpenAI-compatible server, and a researcher it drives.

    python -m llama_cpp.server --model qwen.gguf --model_alias qwen --n_ctx 6144 --port 8091 &
    python benchmarks/bench_real_model.py --base-url http://127.0.0.1:8091/v1 --model qwen \\
        --context-window 6144 --steps 12 --minutes 12
    python benchmarks/bench_real_model.py --campaign campaigns/real   # re-read a finished run

Prints two tables. **Speed**: prompt processing of a researcher's real first prompt (its
system prompt and tool schemas, made unique so no prompt cache helps; the answer capped at one
token) and generation of 128 tokens, in tokens per second, best of two. **The researcher**:
``aar run`` on the small toy task with one researcher on this model in a bwrap sandbox, then
one row per model turn from its transcript (seconds, prompt and output tokens, the tool calls
and where they came from, how each ended) and the run's totals: seconds per step, calls by
tool, failed calls, compactions, submissions and the stop reason.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import openai

from aar.researchers.directions import library
from aar.researchers.prompts import PromptContext, system_prompt
from aar.researchers.tools import default_tools

SMALL_TOY = ["--task", "toy", "--task-option", "n_examples=2000", "--task-option",
             "n_labeled=100", "--task-option", "n_test=500"]  # fmt: skip


def speed(client: openai.OpenAI, model: str) -> dict[str, float]:
    """Prompt and generation tokens per second, the best of two tries each."""
    context = PromptContext("r01", "toy", "the toy task: 500 test items", "/data/toy",
                            library()[0], "Hard stops: minutes 10.")  # fmt: skip
    tools = [{"type": "function", "function": {"name": t.name, "description": t.description,
              "parameters": t.spec().parameters}} for t in default_tools()]  # fmt: skip
    prompt_rates, output_rates = [], []
    for _ in range(2):
        unique = f"Run {uuid.uuid4()}.\n" + system_prompt(context)
        start = time.monotonic()
        first = client.chat.completions.create(
            model=model, max_tokens=1, tools=tools,  # type: ignore[arg-type]
            messages=[{"role": "system", "content": unique}, {"role": "user", "content": "Hi"}],
        )  # fmt: skip
        seconds = time.monotonic() - start
        prompt_rates.append((first.usage.prompt_tokens if first.usage else 0) / seconds)
        start = time.monotonic()
        counted = client.chat.completions.create(
            model=model, max_tokens=128, temperature=0,
            messages=[{"role": "user", "content": "Count from 1 to 100, one number a line."}],
        )  # fmt: skip
        seconds = time.monotonic() - start
        output_rates.append((counted.usage.completion_tokens if counted.usage else 0) / seconds)
    return {"prompt_tokens_per_s": max(prompt_rates), "output_tokens_per_s": max(output_rates)}


def run_campaign(args: argparse.Namespace, folder: Path) -> None:
    command = [
        sys.executable, "-m", "aar", "run", "--no-live", "--dir", str(folder), *SMALL_TOY,
        "--researchers", "1", "--model", args.model, "--base-url", args.base_url,
        "--context-window", str(args.context_window), "--max-tokens", "512",
        "--temperature", "0", "--request-timeout", "600", "--researcher-steps", str(args.steps),
        "--budget-minutes", str(args.minutes), "--heldout-task", "toy", "--verify-top-k", "1",
    ]  # fmt: skip
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, timeout=3600)


def turns(transcript: Path) -> list[dict[str, Any]]:
    """One row per model turn, with the outcomes of the calls it made."""
    rows: list[dict[str, Any]] = []
    for line in transcript.read_text().splitlines():
        step = json.loads(line)
        if step["kind"] == "model":
            calls = [f"{c['name']} ({c.get('source', 'native')})" for c in step["tool_calls"]]
            rows.append({"seconds": step["seconds"], "usage": step["usage"], "calls": calls,
                         "outcomes": [], "text": step["text"]})  # fmt: skip
        elif step["kind"] == "tool" and rows:
            rows[-1]["outcomes"].append("failed" if step["is_error"] else "ok")
        elif step["kind"] == "event" and step["event"] in ("compaction", "stop"):
            rows.append({"event": step["event"], **step})
    return rows


def print_turns(rows: list[dict[str, Any]]) -> None:
    print("| turn | seconds | prompt tokens | output tokens | tool calls | outcomes |")
    print("|---|---|---|---|---|---|")
    number = 0
    for row in rows:
        if "event" in row:
            print(f"| {row['event']} | | | | | {row.get('why') or row.get('reason', '')} |")
            continue
        number += 1
        usage = row["usage"]
        prompt = usage["input_tokens"] + usage["cache_read_tokens"] + usage["cache_write_tokens"]
        calls = ", ".join(row["calls"]) or f"none: {' '.join(row['text'].split())[:60]!r}"
        print(f"| {number} | {row['seconds']:.1f} | {prompt} | {usage['output_tokens']} | "
              f"{calls} | {', '.join(row['outcomes']) or '-'} |")  # fmt: skip


def print_totals(transcript: Path) -> None:
    steps = [json.loads(line) for line in transcript.read_text().splitlines()]
    models = [s for s in steps if s["kind"] == "model"]
    tools = [s for s in steps if s["kind"] == "tool"]
    stop = next((s for s in reversed(steps) if s.get("event") == "stop"), {})
    seconds = sum(s["seconds"] for s in models)
    by_tool = Counter(t["name"] for t in tools)
    print("\n| model turns | seconds per turn | tool calls | failed | compactions | submissions "
          "| stop |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    print(f"| {len(models)} | {seconds / max(len(models), 1):.1f} | "
          f"{', '.join(f'{k} {v}' for k, v in by_tool.most_common())} | "
          f"{sum(t['is_error'] for t in tools)} | {stop.get('compactions', 0)} | "
          f"{stop.get('submissions', 0)} | {stop.get('reason', 'running')} |")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", help="the server's /v1")
    parser.add_argument("--model", default="qwen", help="the model name the server knows")
    parser.add_argument("--context-window", type=int, default=6144)
    parser.add_argument("--steps", type=int, default=12, help="model turns of the researcher")
    parser.add_argument("--minutes", type=float, default=12.0, help="its wall time")
    parser.add_argument("--campaign", type=Path, help="read this finished campaign instead")
    args = parser.parse_args()
    folder = args.campaign
    if folder is None:
        if not args.base_url:
            parser.error("give --base-url (a running server) or --campaign (a finished run)")
        client = openai.OpenAI(base_url=args.base_url, api_key="none", timeout=600)
        rates = speed(client, args.model)
        print("| prompt tokens/s | output tokens/s |\n|---|---|")
        print(f"| {rates['prompt_tokens_per_s']:.1f} | {rates['output_tokens_per_s']:.1f} |\n")
        folder = Path(tempfile.mkdtemp(prefix="aar-real-model-")) / "campaign"
        run_campaign(args, folder)
        print(f"campaign: {folder}\n")
    transcript = folder / "transcripts" / "r01.jsonl"
    print_turns(turns(transcript))
    print_totals(transcript)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
