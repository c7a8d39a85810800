"""The LLM research loop end to end: the real Anthropic and OpenAI clients against a local
server speaking their wire formats, the real tools, sandbox and hub; calls written as text,
and a model stuck repeating a failing call."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aar.core.transcripts import Transcript, read_transcript
from aar.researchers.loop import LLMBudget, ResearchLoop
from aar.researchers.providers import (
    ProviderConfig,
    ScriptedCall,
    ScriptedProvider,
    Turn,
    make_provider,
)
from aar.researchers.providers.base import Provider, ToolResultBlock, Usage
from aar.researchers.providers.wire import FakeLLMServer, FakeReply, FakeToolCall
from aar.researchers.tools.library import prediction_file
from tests.researchkit import Lab, lab

MODELS = {"anthropic": "claude-opus-4-6", "openai": "gpt-4o"}
PREDICTIONS = prediction_file("confident", {"keep_fraction": 0.4}, 0)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Lab]:
    with lab(tmp_path) as made:
        yield made


def provider_for(kind: str, server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch,
                 **options: Any) -> Provider:  # fmt: skip
    monkeypatch.setenv("ANTHROPIC_API_KEY" if kind == "anthropic" else "OPENAI_API_KEY", "sk-x")
    base = server.anthropic_base_url if kind == "anthropic" else server.openai_base_url
    config = ProviderConfig(kind=kind, model=MODELS[kind], base_url=base, max_retries=2, **options)
    return make_provider(config)


def call(name: str, **arguments: Any) -> FakeReply:
    return FakeReply(tool_calls=(FakeToolCall(name, arguments),))


def tool_results(kind: str, body: dict[str, Any]) -> list[tuple[str, bool]]:
    """(content, is_error) of the tool results in a request body, in either wire format."""
    if kind == "anthropic":
        blocks = [b for m in body["messages"] if m["role"] == "user" for b in m["content"]
                  if isinstance(b, dict) and b.get("type") == "tool_result"]  # fmt: skip
        return [(_text(b["content"]), bool(b.get("is_error"))) for b in blocks]
    tools = [m for m in body["messages"] if m["role"] == "tool"]
    return [(m["content"], m["content"].startswith("ERROR:")) for m in tools]


def _text(content: Any) -> str:
    return content if isinstance(content, str) else "".join(c["text"] for c in content)


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
def test_a_research_run_through_the_real_clients(
    kind: str, world: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = [
        FakeReply.rate_limited(),
        call("write_file", path="plan.md", content="try confident"),
        FakeReply.overloaded(),
        call("run_method", method="confident", options={"keep_fraction": 0.4}, seeds=[0]),
        FakeReply(tool_calls=(FakeToolCall("shell", '{"command": "ls'),)),  # malformed
        call("submit_predictions", path=PREDICTIONS, method="confident"),
        FakeReply(text="Let me think about what to do next."),
        call("notebook", append="confident submitted"),
    ]
    box = world.toolbox("alice")
    with FakeLLMServer(script) as server, Transcript(tmp_path / "alice.jsonl") as log:
        provider = provider_for(kind, server, monkeypatch)
        loop = ResearchLoop(provider, box, log, "You are alice.", LLMBudget(steps=6))
        assert loop.run() == "step budget reached"
        requests = [r.body for r in server.requests]
    assert len(requests) == 8  # six turns and the two retried errors
    results = tool_results(kind, requests[-1])
    assert results[0] == ("wrote 13 characters to plan.md", False)
    assert "confident seed 0: 500 predictions" in results[1][0]
    assert results[2][1] is True  # the malformed call came back as an error
    assert "not a JSON object" in results[2][0]
    assert "scoring #" in results[3][0]
    assert "public PGR" in results[3][0]
    [scoring] = world.hub.operator.scorings()
    assert (scoring.researcher, scoring.method) == ("alice", "confident")
    steps = read_transcript(tmp_path / "alice.jsonl")
    stop = steps[-1]
    assert (stop["event"], stop["steps"], stop["submissions"]) == ("stop", 6, 1)
    assert stop["dollars"] > 0
    tools = [s["name"] for s in steps if s["kind"] == "tool"]
    assert tools == ["write_file", "run_method", "shell", "submit_predictions", "notebook"]
    audited = [r.action for r in world.hub.operator.audit(kind="tool_call", actor="alice")]
    assert "submit_predictions" in audited


def test_a_dollar_budget_stops_the_run_mid_way(
    world: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pricey = Usage(input_tokens=400_000, output_tokens=1000)
    script = [FakeReply(tool_calls=(FakeToolCall("notebook", {}),), usage=pricey)] * 3
    with FakeLLMServer(script) as server, Transcript(tmp_path / "t.jsonl") as log:
        provider = provider_for("anthropic", server, monkeypatch)
        loop = ResearchLoop(provider, world.toolbox("bob"), log, "", LLMBudget(dollars=3.0))
        assert loop.run() == "dollar budget reached"
        assert len(server.requests) == 2  # $2+ a turn: the third would pass the budget
    assert 3.0 <= loop.spend.dollars < 6.0


def test_a_full_context_continues_from_the_notebook(
    world: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first request fits the window; its reported size leaves too little room for the next.
    full = Usage(input_tokens=17_000, output_tokens=10)
    script = [
        FakeReply(tool_calls=(FakeToolCall("shell", {"command": "echo hi"}),), usage=full),
        call("notebook", append="state: echo works; next: run vanilla"),
        call("leaderboard"),
    ]
    with FakeLLMServer(script) as server, Transcript(tmp_path / "t.jsonl") as log:
        provider = provider_for("openai", server, monkeypatch, context_window=20_000)
        loop = ResearchLoop(provider, world.toolbox("carol"), log, "sys", LLMBudget(steps=3))
        assert loop.run() == "step budget reached"
        fresh = server.requests[-1].body["messages"]
    assert [m["role"] for m in fresh] == ["system", "user"]
    assert fresh[1]["content"].startswith("Your context was reset.")
    assert "state: echo works; next: run vanilla" in fresh[1]["content"]
    events = [s["event"] for s in read_transcript(tmp_path / "t.jsonl") if s["kind"] == "event"]
    assert events == ["start", "compaction", "stop"]


def test_operator_pause_and_stop(world: Lab, tmp_path: Path) -> None:
    box = world.toolbox("dave")
    operator = world.hub.operator
    turns = iter(range(100))

    def respond(system: str, messages: Any, tools: Any) -> Turn:
        if next(turns) == 1:
            operator.update_account("dave", status="paused")
        return Turn(tool_calls=(ScriptedCall("shell", {"command": "true"}),))

    def sleep(seconds: float) -> None:  # the operator acts while the researcher waits
        status = "stopped" if any(s["event"] == "paused" for s in events()) else "active"
        operator.update_account("dave", status=status)

    def events() -> list[dict[str, Any]]:
        return [s for s in read_transcript(tmp_path / "d.jsonl") if s["kind"] == "event"]

    with Transcript(tmp_path / "d.jsonl") as log:
        loop = ResearchLoop(ScriptedProvider(respond), box, log, "", LLMBudget(), sleep=sleep)
        assert loop.run() == "stopped by the operator"
    assert [e["event"] for e in events()] == ["start", "paused", "stop"]
    assert loop.spend.steps == 2


def test_provider_failure_and_an_idle_model_end_the_run(
    world: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (
        FakeLLMServer([FakeReply.overloaded()] * 3) as server,
        Transcript(tmp_path / "a.jsonl") as log,
    ):
        provider = provider_for("anthropic", server, monkeypatch)
        reason = ResearchLoop(provider, world.toolbox("erin"), log, "", LLMBudget()).run()
    assert reason.startswith(
        "provider failed: anthropic provider (model 'claude-opus-4-6'): HTTP 529"
    )
    idle = ScriptedProvider(["hmm", "well", "so"])
    with Transcript(tmp_path / "b.jsonl") as log:
        reason = ResearchLoop(idle, world.toolbox("frank"), log, "", LLMBudget()).run()
    assert reason == "the model stopped calling tools"


def test_a_call_written_as_text_is_run_by_the_toolbox(
    world: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A small model behind a server without a tool-call parser writes its call as text.
    written = (
        "I will note the plan.\n<tool_call>\n"
        '{"name": "write_file", "arguments": {"path": "plan.md", "content": "try vanilla"}}\n'
        "</tool_call>"
    )
    script = [FakeReply(text=written), call("leaderboard")]
    box = world.toolbox("gina")
    with FakeLLMServer(script) as server, Transcript(tmp_path / "g.jsonl") as log:
        provider = provider_for("openai", server, monkeypatch)
        loop = ResearchLoop(provider, box, log, "sys", LLMBudget(steps=2))
        assert loop.run() == "step budget reached"
        sent = server.requests[-1].body["messages"]
    assert (box.context.sandbox.spec.workspace / "plan.md").read_text() == "try vanilla"
    assert sent[-2] == {"role": "assistant", "content": written}
    assert sent[-1]["role"] == "user"
    assert sent[-1]["content"] == (
        "<tool_response>\nwrite_file result:\nwrote 11 characters to plan.md\n</tool_response>"
    )
    steps = read_transcript(tmp_path / "g.jsonl")
    [first, second] = [s for s in steps if s["kind"] == "model"]
    assert [(c["name"], c["source"]) for c in first["tool_calls"]] == [("write_file", "text")]
    assert [(c["name"], c["source"]) for c in second["tool_calls"]] == [("leaderboard", "native")]


def shell_turn(**arguments: Any) -> Turn:
    return Turn(tool_calls=(ScriptedCall("shell", arguments),))


def tool_records(path: Path) -> list[dict[str, Any]]:
    return [s for s in read_transcript(path) if s["kind"] == "tool"]


def test_a_model_stuck_on_a_failing_call_is_told_then_stopped(world: Lab, tmp_path: Path) -> None:
    stuck = ScriptedProvider(lambda *_: shell_turn(command="ls", timeout=-1))
    with Transcript(tmp_path / "h.jsonl") as log:
        loop = ResearchLoop(stuck, world.toolbox("hana"), log, "", LLMBudget(steps=20))
        assert loop.run() == "the model repeated a failing call (tool shell) 6 times"
    assert loop.spend.steps == 6
    results = [r["result"] for r in tool_records(tmp_path / "h.jsonl")]
    assert all("timeout: Input should be greater than 0" in r for r in results)
    assert ["this exact call" in r for r in results] == [False, False, True, True, True, True]
    assert "made this exact call 3 times in a row" in results[2]
    assert "Repeating it 1 more time(s) ends your run" in results[4]
    # The model read the note in the result of its third call.
    last_sent = stuck.requests[3].messages[-1].content[0]
    assert isinstance(last_sent, ToolResultBlock)
    assert "it will fail again" in last_sent.content


def test_a_success_or_a_different_call_starts_the_count_over(world: Lab, tmp_path: Path) -> None:
    bad = shell_turn(command="ls", timeout=-1)
    script = [
        bad, bad, shell_turn(command="true"), bad, bad,
        shell_turn(command="ls", timeout=-2), bad, bad,
        shell_turn(timeout=-1, command="ls"),  # the same call: key order does not matter
    ]  # fmt: skip
    with Transcript(tmp_path / "i.jsonl") as log:
        loop = ResearchLoop(
            ScriptedProvider(script), world.toolbox("ivan"), log, "", LLMBudget(steps=9)
        )
        assert loop.run() == "step budget reached"
    noted = ["this exact call" in r["result"] for r in tool_records(tmp_path / "i.jsonl")]
    assert noted == [False] * 8 + [True]
