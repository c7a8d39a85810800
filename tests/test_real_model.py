"""A real small instruct model (Qwen2.5-Coder-0.5B-Instruct, Q4_K_M GGUF) behind llama.cpp's
OpenAI-compatible server drives a researcher: ``aar doctor``, then ``aar run`` on the toy task.

These assert that the path works with a real model and its real server (tool calls the loop
parses, code run in the bwrap sandbox, a context small enough to need compaction), never the
quality of the research. See tests/realmodelkit.py for where the model comes from.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from aar.researchers.sizing import guess_tokens
from aar.researchers.tools import default_tools
from tests.campaignkit import SMALL_TOY, campaign_hub, finish, sandbox_flags, start
from tests.realmodelkit import MODEL_ALIAS, llama_server, real_model

pytestmark = pytest.mark.slow

SANDBOX_TOOLS = {"shell", "python", "read_file", "write_file", "edit_file", "list_files",
                 "search_files", "run_method"}  # fmt: skip


def test_the_token_guess_is_never_below_the_models_own_tokenizer() -> None:
    from llama_cpp import Llama

    tokenizer = Llama(str(real_model()), vocab_only=True, verbose=False)
    specs = json.dumps([[t.spec().name, t.spec().description, t.spec().parameters]
                        for t in default_tools()])  # fmt: skip
    samples = {
        "tool schemas": specs,
        "python": Path(__file__).read_text(),
        "numbers": "\n".join(
            " ".join(f"{(i * j) % 997 / 997:.4f}" for j in range(8)) for i in range(60)
        ),
        "labels": json.dumps({"predictions": [i * 7 % 2 for i in range(400)]}),
        "ls -l": "\n".join(
            f"-rw-r--r-- 1 root root {i * 7919} Dec  4 11:22 seed{i}.npy" for i in range(40)
        ),
    }
    for name, text in samples.items():
        true = len(tokenizer.tokenize(text.encode(), add_bos=False))
        assert true <= guess_tokens(text) <= 1.4 * true, name


def run_doctor(base_url: str, context: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aar", "doctor", "--model", MODEL_ALIAS, "--base-url", base_url,
         "--context-window", str(context)],
        capture_output=True, text=True, timeout=600, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip


def steps(transcript: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in transcript.read_text().splitlines()]


# A direction that spells out a first step: a 0.5B model follows an example more readily
# than a description, and the path under test is the loop's, not the model's judgement.
FIRST_LOOK = """[[direction]]
name = "first-look"
title = "First look at the data"
text = \"\"\"
Start by listing the task's files. Answer with exactly this and nothing else:
{"name": "shell", "arguments": {"command": "ls /data/toy"}}
Then run the vanilla method with run_method and submit its predictions.
\"\"\"
"""


def test_a_real_model_drives_a_researcher_through_aar_run(tmp_path: Path) -> None:
    context = 6144  # small: aar's first prompt alone is about 3 800 tokens of it
    folder = tmp_path / "campaign"
    directions = tmp_path / "directions.toml"
    directions.write_text(FIRST_LOOK)
    with llama_server(real_model(), context, log=tmp_path / "llama.log") as base_url:
        doctor = run_doctor(base_url, context)
        assert "a researcher's first prompt" in doctor.stdout, doctor.stdout + doctor.stderr
        process = start(
            "--dir", str(folder), *SMALL_TOY, "--researchers", "1", "--model", MODEL_ALIAS,
            "--base-url", base_url, "--context-window", str(context), "--max-tokens", "512",
            "--temperature", "0", "--request-timeout", "600", "--researcher-steps", "16",
            "--budget-minutes", "12", "--heldout-task", "toy", "--verify-top-k", "1",
            "--directions-file", str(directions), "--direction", "first-look",
            *sandbox_flags(),
        )  # fmt: skip
        output = finish(process, timeout=1500)
    transcript = steps(folder / "transcripts" / "r01.jsonl")
    calls = [c for s in transcript if s["kind"] == "model" for c in s["tool_calls"]]
    tools = [s for s in transcript if s["kind"] == "tool"]
    # The model wrote its calls as text; the loop parsed them and the toolbox ran them.
    assert calls, output
    assert all(c.get("source") == "text" for c in calls)
    ran = [t for t in tools if t["name"] in SANDBOX_TOOLS]
    assert ran, [t["name"] for t in tools]
    with campaign_hub(folder) as operator:
        audited = Counter(e.action for e in operator.audit(actor="r01", kind="tool_call"))
        metered = operator.model_calls(researcher="r01", limit=1000)
    # Every model turn went through the hub's gateway to the local server, metered there.
    turns = [s for s in transcript if s["kind"] == "model"]
    answered = [c for c in metered if c.status == 200]
    assert len(answered) >= len(turns)
    assert sum(c.input_tokens + c.cache_read_tokens for c in answered) > 3000
    # Every call the model made is in the audit log (the loop's own notebook reads are too).
    assert not Counter(t["name"] for t in tools) - audited
    summary = json.loads((folder / "report" / "summary.json").read_text())
    [researcher] = summary["researchers"]
    assert researcher["model"] == MODEL_ALIAS
    assert sum(researcher["tool_calls"].values()) == len(tools)
    assert researcher["tokens"] > 3000
    assert not researcher["reason"].startswith("provider failed"), researcher["reason"]
    # 16 turns of ~60 tokens each fill the 6k window: the loop compacted and carried on.
    assert researcher["compactions"] >= 1, researcher


def test_a_window_set_too_large_is_survived_on_the_servers_refusal(tmp_path: Path) -> None:
    """The failure users met: the loop believes the window is 16k, the server holds 3.5k. The
    server's refusal (HTTP 400) costs one compaction and a retry, not the researcher."""
    from aar.core.transcripts import Transcript, read_transcript
    from aar.researchers.loop import LLMBudget, ResearchLoop
    from aar.researchers.providers import ProviderConfig, make_provider
    from tests.researchkit import lab

    with (
        llama_server(real_model(), 3584) as base_url,
        lab(tmp_path / "lab") as world,
        Transcript(tmp_path / "t.jsonl") as log,
    ):
        config = ProviderConfig(kind="openai", model=MODEL_ALIAS, base_url=base_url,
                                context_window=16_384, temperature=0, timeout_s=600)  # fmt: skip
        with make_provider(config) as provider:
            loop = ResearchLoop(provider, world.toolbox("r1", backend="bwrap"), log,
                                "You are a researcher. Use your tools.", LLMBudget(steps=16),
                                max_tokens=512)  # fmt: skip
            reason = loop.run()
    events = [s for s in read_transcript(tmp_path / "t.jsonl") if s["kind"] == "event"]
    overflows = [e for e in events if e["event"] == "context_overflow"]
    assert overflows, events
    assert "maximum context length is 3584 tokens" in overflows[0]["detail"]
    assert any(e["event"] == "compaction" for e in events)
    assert not reason.startswith("provider failed"), reason
