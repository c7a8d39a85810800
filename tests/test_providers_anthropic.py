"""The Anthropic provider through the real ``anthropic`` client against the fake wire server:
what goes on the wire (tools, tool results, system prompt, cache marks, thinking) and what
comes back (tool calls, thinking kept for the next turn, usage and cost)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aar.researchers.providers import (
    Message,
    Provider,
    ProviderConfig,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolSpec,
    ToolUseBlock,
    Usage,
    make_provider,
)
from aar.researchers.providers.wire import FakeLLMServer, FakeReply, FakeToolCall

SYSTEM = "You are a careful researcher."
CACHE = {"type": "ephemeral"}
READ = ToolSpec(
    "read_file",
    "Read a file of the workspace.",
    {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
)
QUESTION = Message("user", (TextBlock("What do a.txt and b.txt say?"),))


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        yield server


def claude(server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch, **options: object) -> Provider:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    config = ProviderConfig.model_validate(
        {"kind": "anthropic", "model": "claude-opus-4-6", **options}
        | {"base_url": server.anthropic_base_url}
    )
    return make_provider(config)


def test_tool_round_trip_sends_tools_results_system_and_cache_marks(
    server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.add(
        FakeReply(
            text="Reading both.",
            tool_calls=(
                FakeToolCall("read_file", {"path": "a.txt"}, id="toolu_A"),
                FakeToolCall("read_file", {"path": "b.txt"}, id="toolu_B"),
            ),
        ),
        FakeReply(text="a.txt says hi; b.txt is missing."),
    )
    with claude(server, monkeypatch) as provider:
        first = provider.complete(SYSTEM, [QUESTION], [READ], max_tokens=1000)
        results = Message(
            "user",
            (
                ToolResultBlock("toolu_A", "hi"),
                ToolResultBlock("toolu_B", "no such file", is_error=True),
            ),
        )
        second = provider.complete(SYSTEM, [QUESTION, first.message, results], [READ])

    assert first.stop_reason == "tool_use"
    assert first.text == "Reading both."
    assert [(c.id, c.name, c.arguments, c.error) for c in first.tool_calls] == [
        ("toolu_A", "read_file", {"path": "a.txt"}, None),
        ("toolu_B", "read_file", {"path": "b.txt"}, None),
    ]
    assert first.message == Message(
        "assistant",
        (
            TextBlock("Reading both."),
            ToolUseBlock("toolu_A", "read_file", {"path": "a.txt"}),
            ToolUseBlock("toolu_B", "read_file", {"path": "b.txt"}),
        ),
    )
    assert (second.text, second.stop_reason, second.tool_calls) == (
        "a.txt says hi; b.txt is missing.",
        "end_turn",
        (),
    )

    sent_first, sent_second = server.requests
    assert sent_first.path == "/v1/messages"
    # The key from the environment, in whichever auth header this client version uses.
    assert "sk-ant-test" in sent_first.headers.get("x-api-key", "") + sent_first.headers.get(
        "authorization", ""
    )
    assert sent_first.body["model"] == "claude-opus-4-6"
    assert sent_first.body["max_tokens"] == 1000
    assert sent_first.body["system"] == [{"type": "text", "text": SYSTEM, "cache_control": CACHE}]
    assert sent_first.body["tools"] == [
        {"name": "read_file", "description": READ.description, "input_schema": READ.parameters}
    ]
    assert sent_first.body["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What do a.txt and b.txt say?", "cache_control": CACHE}
            ],
        }
    ]
    # The cache mark moves to the newest block; the earlier turns are the cached prefix.
    assert sent_second.body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "What do a.txt and b.txt say?"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Reading both."},
                {
                    "type": "tool_use",
                    "id": "toolu_A",
                    "name": "read_file",
                    "input": {"path": "a.txt"},
                },
                {
                    "type": "tool_use",
                    "id": "toolu_B",
                    "name": "read_file",
                    "input": {"path": "b.txt"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_A", "content": "hi"},
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_B",
                    "content": "no such file",
                    "is_error": True,
                    "cache_control": CACHE,
                },
            ],
        },
    ]


def test_thinking_is_requested_returned_and_sent_back_with_its_signature(
    server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.add(
        FakeReply(
            thinking="The file name is in the question.",
            tool_calls=(FakeToolCall("read_file", {"path": "a.txt"}, id="toolu_A"),),
        ),
        FakeReply(text="It says hi."),
    )
    # claude-opus-4-6 prefers adaptive thinking; haiku takes the manual budget without a warning.
    with claude(server, monkeypatch, model="claude-haiku-4-5", thinking_budget=2048) as provider:
        first = provider.complete(SYSTEM, [QUESTION], [READ], max_tokens=1000)
        results = Message("user", (ToolResultBlock("toolu_A", "hi"),))
        provider.complete(SYSTEM, [QUESTION, first.message, results], [READ], max_tokens=1000)

    assert first.thinking == "The file name is in the question."
    assert first.message.content[0] == ThinkingBlock(
        "The file name is in the question.", signature="sig-fake"
    )
    sent_first, sent_second = server.requests
    assert sent_first.body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    # The answer keeps its 1000 tokens on top of the thinking budget.
    assert sent_first.body["max_tokens"] == 1000 + 2048
    assistant = sent_second.body["messages"][1]
    assert assistant["content"][0] == {
        "type": "thinking",
        "thinking": "The file name is in the question.",
        "signature": "sig-fake",
    }


def test_usage_with_cache_tokens_is_priced_from_the_configured_table(
    server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text(
        '["claude-opus-4-6*"]\ninput = 3.0\noutput = 15.0\ncache_read = 0.3\ncache_write = 3.75\n'
    )
    usage = Usage(
        input_tokens=1000, output_tokens=500, cache_read_tokens=20_000, cache_write_tokens=3000
    )
    server.add(FakeReply(text="ok", usage=usage))
    with claude(server, monkeypatch, prices=prices) as provider:
        completion = provider.complete(SYSTEM, [QUESTION], [])

    assert completion.usage == usage
    expected = (1000 * 3.0 + 500 * 15.0 + 20_000 * 0.3 + 3000 * 3.75) / 1e6
    assert completion.cost_usd == pytest.approx(expected)
    assert completion.model == "claude-opus-4-6"
    assert completion.duration_s >= 0
    assert "tools" not in server.requests[0].body


def test_stop_reason_and_empty_system_prompt(
    server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.add(FakeReply(text="cut sh", stop_reason="max_tokens"))
    with claude(server, monkeypatch) as provider:
        completion = provider.complete("", [QUESTION], [])
    assert completion.stop_reason == "max_tokens"
    # The API rejects an empty system text block: none is sent.
    assert "system" not in server.requests[0].body


def test_text_tool_calls_are_off_by_default_and_go_back_as_text_when_on(
    server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = '<tool_call>{"name": "read_file", "arguments": {"path": "a.txt"}}</tool_call>'
    server.add(FakeReply(text=text), FakeReply(text=text), FakeReply(text="Done."))
    with claude(server, monkeypatch) as provider:
        assert provider.complete(SYSTEM, [QUESTION], [READ]).tool_calls == ()
    with claude(server, monkeypatch, text_tool_calls=True) as provider:
        first = provider.complete(SYSTEM, [QUESTION], [READ])
        [call] = first.tool_calls
        results = Message("user", (ToolResultBlock(call.id, "nope", is_error=True),))
        provider.complete(SYSTEM, [QUESTION, first.message, results], [READ])
    assert (call.name, call.arguments, first.stop_reason) == (
        "read_file",
        {"path": "a.txt"},
        "tool_use",
    )
    response = "<tool_response>\nread_file ERROR:\nnope\n</tool_response>"
    assert server.requests[2].body["messages"][1:] == [
        {"role": "assistant", "content": [{"type": "text", "text": text}]},
        {"role": "user", "content": [{"type": "text", "text": response, "cache_control": CACHE}]},
    ]
