"""Long runs that never die of context: sizing before sending, compaction, a server's refusal,
long tool results, and calls capped by the wall time left. The real OpenAI client against the
fake server, the real tools, sandbox and hub."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aar.core.transcripts import Transcript, read_transcript
from aar.researchers.loop import LLMBudget, ResearchLoop
from aar.researchers.providers import ProviderConfig, make_provider
from aar.researchers.providers.base import Provider, Usage
from aar.researchers.providers.wire import FakeLLMServer, FakeReply, FakeToolCall
from tests.researchkit import Lab, lab

# llama.cpp's server words it so; vLLM and OpenAI say "maximum context length".
TOO_LONG = FakeReply.error(
    400, "the request exceeds the available context size, try increasing it",
    error_type="exceed_context_size_error",
)  # fmt: skip


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Lab]:
    with lab(tmp_path) as made:
        yield made


def provider(server: FakeLLMServer, **options: Any) -> Provider:
    config = ProviderConfig(kind="openai", model="qwen3", base_url=server.openai_base_url,
                            max_retries=0, **options)  # fmt: skip
    return make_provider(config)


def call(name: str, usage: Usage | None = None, **arguments: Any) -> FakeReply:
    reply = FakeReply(tool_calls=(FakeToolCall(name, arguments),))
    return reply if usage is None else FakeReply(tool_calls=reply.tool_calls, usage=usage)


def events(path: Path) -> list[dict[str, Any]]:
    return [s for s in read_transcript(path) if s["kind"] == "event"]


def test_a_refused_request_is_compacted_and_retried_not_fatal(world: Lab, tmp_path: Path) -> None:
    script = [
        call("shell", command="echo hi"),
        TOO_LONG,
        call("notebook", append="state: echo works"),  # the model saves its state
        call("leaderboard"),  # the retried turn, in a fresh context
    ]
    log_path = tmp_path / "t.jsonl"
    with FakeLLMServer(script) as server, Transcript(log_path) as log:
        loop = ResearchLoop(provider(server), world.toolbox("ann"), log, "sys", LLMBudget(steps=3))
        assert loop.run() == "step budget reached"
        bodies = [r.body for r in server.requests]
    assert bodies[2]["messages"][-1]["content"].startswith("Your context is nearly full.")
    fresh = bodies[3]["messages"]
    assert [m["role"] for m in fresh] == ["system", "user"]
    assert "state: echo works" in fresh[1]["content"]
    [overflow, compaction] = [e for e in events(log_path) if e["event"] != "start"][:2]
    assert overflow["event"] == "context_overflow"
    assert "exceeds the available context size" in overflow["detail"]
    assert (compaction["why"], compaction["saved"]) == ("the server refused the request's size",
                                                        True)  # fmt: skip


def test_a_second_refusal_after_compaction_stops_with_the_reason(
    world: Lab, tmp_path: Path
) -> None:
    script = [call("shell", command="echo hi"), TOO_LONG, FakeReply(text="ok"), TOO_LONG]
    with FakeLLMServer(script) as server, Transcript(tmp_path / "t.jsonl") as log:
        loop = ResearchLoop(provider(server), world.toolbox("ben"), log, "sys", LLMBudget(steps=9))
        reason = loop.run()
    assert reason.startswith("provider failed: openai provider (model 'qwen3'): HTTP 400")
    assert "context size" in reason


def test_a_model_that_saves_nothing_gets_the_loops_digest(world: Lab, tmp_path: Path) -> None:
    script = [call("shell", command="echo 42"), TOO_LONG, FakeReply(text="noted"), call("notebook")]
    with FakeLLMServer(script) as server, Transcript(tmp_path / "t.jsonl") as log:
        loop = ResearchLoop(provider(server), world.toolbox("cy"), log, "sys", LLMBudget(steps=3))
        loop.run()
        fresh = server.requests[-1].body["messages"][1]["content"]
    assert "[automatic note at compaction 1]" in fresh
    assert "- shell (command echo 42) worked: exit code 0" in fresh
    assert [e["saved"] for e in events(tmp_path / "t.jsonl") if e["event"] == "compaction"] == [
        False
    ]


def test_the_next_request_is_sized_before_it_is_sent(world: Lab, tmp_path: Path) -> None:
    # The first answer reports a 12 000-token prompt; its tool prints 8 000 digits (about as
    # many tokens), so the next request would pass 80 % of the 20 000-token window.
    big = Usage(input_tokens=12_000, output_tokens=20)
    script = [
        call("python", usage=big, code="print('7' * 8000)"),
        call("notebook", append="state: printed digits"),
        call("leaderboard"),
    ]
    log_path = tmp_path / "t.jsonl"
    with FakeLLMServer(script) as server, Transcript(log_path) as log:
        loop = ResearchLoop(provider(server, context_window=20_000), world.toolbox("di"), log,
                            "sys", LLMBudget(steps=3))  # fmt: skip
        assert loop.run() == "step budget reached"
        saving, fresh = (r.body["messages"] for r in server.requests[1:])
    # The save request carried the big result shrunk, never whole; then a fresh context.
    [result] = [m["content"] for m in saving if m["role"] == "tool"]
    assert len(result) < 2000
    assert "[cut when the context was compacted:" in result
    assert [m["role"] for m in fresh] == ["system", "user"]
    [compaction] = [e for e in events(log_path) if e["event"] == "compaction"]
    assert compaction["why"] == "the context is nearly full"


def test_a_long_tool_result_is_cut_and_saved_whole_in_the_workspace(
    world: Lab, tmp_path: Path
) -> None:
    code = "print('\\n'.join(f'line {i}' for i in range(2000)))"
    script = [call("python", code=code), call("leaderboard")]
    box = world.toolbox("eve")
    with FakeLLMServer(script) as server, Transcript(tmp_path / "t.jsonl") as log:
        loop = ResearchLoop(provider(server, context_window=8192), box, log, "sys",
                            LLMBudget(steps=2))  # fmt: skip
        loop.run()
        [result] = [m["content"] for m in server.requests[1].body["messages"]
                    if m["role"] == "tool"]  # fmt: skip
    assert loop.max_result_chars == 3276  # 0.4 characters per token of an 8k window
    shown, note = result.rsplit("\n", 1)
    assert len(shown) == 3276
    assert "more characters cut; the whole output is in tool-outputs/output-00.txt" in note
    saved = (box.context.sandbox.spec.workspace / "tool-outputs" / "output-00.txt").read_text()
    assert saved.startswith("exit code 0")
    assert "line 1999" in saved


def test_each_answer_asks_only_for_the_room_the_window_has_left(world: Lab, tmp_path: Path) -> None:
    used = Usage(input_tokens=10_000, output_tokens=5)
    script = [call("notebook", usage=used), call("notebook")]
    with FakeLLMServer(script) as server, Transcript(tmp_path / "t.jsonl") as log:
        loop = ResearchLoop(provider(server, context_window=16_000), world.toolbox("fay"), log,
                            "sys", LLMBudget(steps=2), max_tokens=8000)  # fmt: skip
        loop.run()
        asked = [r.body["max_tokens"] for r in server.requests]
    assert asked[0] == 8000
    assert 5000 < asked[1] < 16_000 - 10_005


def test_a_slow_call_never_outlives_the_wall_time_budget(world: Lab, tmp_path: Path) -> None:
    slow = FakeReply(text="thinking...", delay_s=60)
    with FakeLLMServer([slow]) as server, Transcript(tmp_path / "t.jsonl") as log:
        loop = ResearchLoop(provider(server, timeout_s=300), world.toolbox("gus"), log, "sys",
                            LLMBudget(minutes=0.05))  # fmt: skip
        reason = loop.run()
        minutes = loop.summary()["minutes"]
    assert reason == "wall-time budget reached"
    assert minutes < 0.2  # 3 s of budget, not the 300 s timeout


def test_near_the_limit_the_apis_own_count_decides(
    world: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The guess (13 000 known tokens and a little) would fit; the API counts 19 000 of 20 000.
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-x")
    used = Usage(input_tokens=13_000, output_tokens=5)
    script = [call("notebook", usage=used), call("notebook", append="saved"), call("leaderboard")]
    log_path = tmp_path / "t.jsonl"
    with FakeLLMServer(script) as server, Transcript(log_path) as log:
        server.count_tokens = lambda body: 19_000
        config = ProviderConfig(
            kind="anthropic",
            model="claude-opus-4-6",
            max_retries=0,
            base_url=server.anthropic_base_url,
            context_window=20_000,
        )
        loop = ResearchLoop(make_provider(config), world.toolbox("hal"), log, "sys",
                            LLMBudget(steps=3))  # fmt: skip
        loop.run()
        counted = len(server.counts)
    assert counted >= 1
    [compaction] = [e for e in events(log_path) if e["event"] == "compaction"]
    assert compaction["why"] == "the context is nearly full"


def test_a_model_that_writes_calls_as_text_is_shown_the_form(world: Lab, tmp_path: Path) -> None:
    script = [FakeReply(text="Begin: look at the forum."), call("leaderboard")]
    with FakeLLMServer(script) as server, Transcript(tmp_path / "t.jsonl") as log:
        loop = ResearchLoop(provider(server), world.toolbox("ida"), log, "sys", LLMBudget(steps=2))
        loop.run()
        first, second = (r.body["messages"] for r in server.requests)
    example = 'Answer with one tool call written as JSON, for example {"name": "shell"'
    assert example in first[-1]["content"]
    assert '{"name": "shell", "arguments": {"command": "ls /data"}}' in second[-1]["content"]
    with FakeLLMServer([call("leaderboard")]) as server, Transcript(tmp_path / "n.jsonl") as log:
        native = provider(server, text_tool_calls=False)
        ResearchLoop(native, world.toolbox("jo"), log, "sys", LLMBudget(steps=1)).run()
        assert "Answer with one tool call" not in server.requests[0].body["messages"][-1]["content"]
