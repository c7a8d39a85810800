"""Codex CLI as a researcher: the real binary in the bwrap sandbox, speaking the Responses API
to the hub's gateway (the project's fake server, streaming), aar's hub tools over MCP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aar.core.errors import ConfigError
from aar.core.transcripts import Transcript, read_transcript
from aar.core.usage import Usage
from aar.researchers.agents.codex import find_codex
from aar.researchers.agents.codex_stream import CodexReader
from aar.researchers.providers.wire import FakeLLMServer, FakeReply, FakeToolCall
from aar.researchers.tools.library import prediction_file
from tests.agentkit import UPSTREAM_KEY, agent_campaign, agent_world

VANILLA = prediction_file("vanilla", {}, 0)
COSTLY = Usage(input_tokens=400_000, output_tokens=10_000)  # $0.60 on gpt-5-codex


def shell(command: str) -> FakeReply:
    return FakeReply(tool_calls=(FakeToolCall("exec_command", {"cmd": command}),))


def mcp(name: str, usage: Usage | None = None, **arguments: object) -> FakeReply:
    call = FakeToolCall(name, arguments, namespace="mcp__aar")
    return FakeReply(tool_calls=(call,), **({"usage": usage} if usage else {}))


def test_codex_runs_commands_reads_the_forum_and_submits_until_its_budget_is_spent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    leak = "env; ps -eo args; cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n'"
    script = [
        shell(f"ls /data/toy > seen.txt; ({leak}) > leak.txt"),
        mcp("forum_read"),
        mcp("run_method", method="vanilla"),
        mcp("submit_predictions", usage=COSTLY, path=VANILLA, method="vanilla"),
    ]  # its fifth call finds the budget spent
    with agent_world(tmp_path, monkeypatch, api="openai", brain="codex") as world:
        world.vendor.add(*script)
        done = world.research("r1", "--minutes", "3", model_dollars=0.5)
        scorings = world.operator.scorings()
        calls = world.operator.model_calls(researcher="r1")
        audited = {r.action for r in world.operator.audit(kind="tool_call", actor="r1")}
        sent = world.vendor.requests
    assert done.returncode == 0, done.stderr + done.stdout
    said = " ".join(done.stdout.split())
    assert "r1 stopped: model budget spent: $0.60 used of the $0.50 allowed; 1 sessions" in said
    workspace = world.workspace("r1")
    assert "bundle.json" in (workspace / "seen.txt").read_text()
    leaked = (workspace / "leak.txt").read_text()
    assert "OPENAI_API_KEY=" in leaked  # its key is its hub token ...
    assert UPSTREAM_KEY not in leaked  # ... and the vendor's is nowhere in the sandbox
    assert all(r.headers["authorization"] == f"Bearer {UPSTREAM_KEY}" for r in sent)
    assert all(r.path == "/v1/responses" and r.body["stream"] is True for r in sent)
    assert not any(t.get("type") == "web_search" for t in sent[0].body["tools"])
    assert [(s.researcher, s.method) for s in scorings] == [("r1", "vanilla")]
    assert {"forum_read", "run_method", "submit_predictions"} <= audited
    # four calls forwarded and metered; the next one refused before forwarding
    assert [c.status for c in calls] == [200] * 4 + [429]
    assert len(sent) == 4
    assert all(c.metered == "reported" for c in calls[:4])
    assert sum(c.cost_usd for c in calls) == pytest.approx(0.6 + 3 * 0.0000625, rel=1e-3)
    # codex --json's events, as aar's own loop records its steps
    lines = read_transcript(workspace.parent / "r1.jsonl")
    tools = [(line["name"], line["is_error"]) for line in lines if line["kind"] == "tool"]
    assert tools == [("shell", False), ("forum_read", False), ("run_method", False),
                     ("submit_predictions", False)]  # fmt: skip
    assert "no posts yet" in [line for line in lines if line["kind"] == "tool"][1]["result"]
    assert sum(1 for line in lines if line["kind"] == "model") == 4
    ends = [line for line in lines if line.get("event") == "session_end"]
    assert ends[-1]["is_error"]
    assert "Quota exceeded" in ends[-1]["result"]
    assert lines[-1]["reason"].startswith("model budget spent")


def test_the_native_binary_is_found_beside_npms_launcher(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    modules = tmp_path / "node_modules"
    launcher = modules / "@openai" / "codex" / "bin" / "codex.js"
    native = modules / "@openai" / "codex-linux-x64" / "vendor" / "x86_64-unknown-linux-musl"
    native = native / "bin" / "codex"
    for path in (launcher, native):
        path.parent.mkdir(parents=True)
        path.write_text("#!/bin/sh\n")
        path.chmod(0o755)
    (modules / ".bin").mkdir()
    (modules / ".bin" / "codex").symlink_to(launcher)
    monkeypatch.delenv("AAR_CODEX_BINARY", raising=False)
    monkeypatch.setenv("PATH", str(modules / ".bin"))
    assert find_codex(None) == native
    native.unlink()
    with pytest.raises(ConfigError, match=r"no native codex build beside .*npm install -g"):
        find_codex(None)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ConfigError, match="the codex brain needs the codex binary"):
        find_codex(None)


@pytest.mark.slow  # a whole campaign, about 25 s; CI runs it with -m slow
def test_aar_run_with_the_codex_brain(tmp_path: Path) -> None:
    script = [
        mcp("run_method", method="vanilla"),
        mcp("submit_predictions", path=VANILLA, method="vanilla"),
        FakeReply(text="Done for now."),
    ]
    with FakeLLMServer(script) as vendor:
        output, summary = agent_campaign(
            tmp_path / "c", "codex", "gpt-5-codex", vendor.openai_base_url,
            "--researcher-dollars", "2", "--budget-minutes", "0.5",
        )  # fmt: skip
        sent = vendor.requests
    [researcher] = summary["researchers"]
    assert (researcher["brain"], researcher["model"]) == ("codex", "gpt-5-codex"), output
    assert researcher["metered"]
    assert [s["method"] for s in summary["scorings"]] == ["vanilla"]
    assert all(r.path == "/v1/responses" for r in sent)
    assert all(r.headers["authorization"] == f"Bearer {UPSTREAM_KEY}" for r in sent)


EVENTS = [
    {"type": "thread.started", "thread_id": "t"},
    {"type": "turn.started"},
    {"type": "item.completed", "item": {"id": "i0", "type": "reasoning", "text": "look first"}},
    {"type": "item.started", "item": {"id": "i1", "type": "command_execution", "command": "ls"}},
    {"type": "item.completed", "item": {"id": "i1", "type": "command_execution",
     "command": "false", "aggregated_output": "oops", "exit_code": 1, "status": "failed"}},
    {"type": "item.completed", "item": {"id": "i2", "type": "file_change",
     "changes": [{"path": "/workspace/a.py", "kind": "add"}], "status": "completed"}},
    {"type": "item.completed", "item": {"id": "i3", "type": "mcp_tool_call", "server": "aar",
     "tool": "leaderboard", "arguments": {}, "result": None,
     "error": {"message": "hub is gone"}, "status": "failed"}},
    {"type": "item.completed", "item": {"id": "i4", "type": "agent_message", "text": "Done."}},
    {"type": "turn.completed",
     "usage": {"input_tokens": 900, "cached_input_tokens": 600, "output_tokens": 40}},
]  # fmt: skip


def test_codex_events_become_transcript_records(tmp_path: Path) -> None:
    stream = "".join(json.dumps(e) + "\n" for e in EVENTS).encode() + b"panic: not json"
    with Transcript(tmp_path / "r.jsonl") as transcript:
        reader = CodexReader(transcript)
        for start in range(0, len(stream), 37):  # output arrives in arbitrary pieces
            reader.feed(stream[start : start + 37])
        reader.close()
    lines = read_transcript(tmp_path / "r.jsonl")
    models = [line for line in lines if line["kind"] == "model"]
    tools = [line for line in lines if line["kind"] == "tool"]
    assert [m["tool_calls"][0]["name"] if m["tool_calls"] else m["text"] for m in models] == [
        "shell", "apply_patch", "leaderboard", "Done."
    ]  # fmt: skip
    assert models[0]["thinking"] == "look first"
    assert models[0]["tool_calls"][0]["arguments"] == {"command": "false"}
    assert [(t["name"], t["is_error"], t["result"]) for t in tools] == [
        ("shell", True, "oops"), ("apply_patch", False, ""), ("leaderboard", True, "hub is gone")
    ]  # fmt: skip
    [end] = [line for line in lines if line.get("event") == "session_end"]
    assert end["usage"] == {"input_tokens": 300, "output_tokens": 40, "cache_read_tokens": 600}
    assert lines[-1] == {**lines[-1], "kind": "agent_output", "text": "panic: not json"}
    assert (reader.assistant_turns, reader.result) == (
        4, {"subtype": "turn", "is_error": False, "result": ""}
    )  # fmt: skip
