"""The OpenAI-compatible provider through the real ``openai`` client against the fake wire
server: function tools, ``role: "tool"`` results, malformed arguments, finish reasons, cached
tokens, reasoning text, a local endpoint that needs no key, and tool calls written as text."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from aar.researchers.providers import (
    Message,
    Provider,
    ProviderConfig,
    TextBlock,
    ToolResultBlock,
    ToolSpec,
    ToolUseBlock,
    Usage,
    make_provider,
)
from aar.researchers.providers.wire import FakeLLMServer, FakeReply, FakeToolCall

SYSTEM = "You are a careful researcher."
READ = ToolSpec(
    "read_file",
    "Read a file of the workspace.",
    {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
)
LIST = ToolSpec("list_files", "List the workspace.", {"type": "object", "properties": {}})
QUESTION = Message("user", (TextBlock("What is in the workspace?"),))


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        yield server


def local_model(server: FakeLLMServer, model: str = "qwen3-8b", **options: object) -> Provider:
    config = ProviderConfig.model_validate(
        {"kind": "openai", "model": model, "base_url": server.openai_base_url, **options}
    )
    return make_provider(config)


def test_tool_round_trip_sends_functions_and_tool_messages(
    server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-test")
    server.add(
        FakeReply(
            tool_calls=(
                FakeToolCall("list_files", {}, id="call_L"),
                FakeToolCall("read_file", {"path": "a.txt"}, id="call_R"),
            )
        ),
        FakeReply(text="One file, a.txt, which says hi."),
    )
    with local_model(server) as provider:
        first = provider.complete(SYSTEM, [QUESTION], [READ, LIST], max_tokens=500)
        results = Message(
            "user",
            (
                ToolResultBlock("call_L", "a.txt"),
                ToolResultBlock("call_R", "permission denied", is_error=True),
                TextBlock("Be brief."),
            ),
        )
        second = provider.complete(SYSTEM, [QUESTION, first.message, results], [READ, LIST])

    assert (first.text, first.stop_reason) == ("", "tool_use")
    assert [(c.id, c.name, c.arguments) for c in first.tool_calls] == [
        ("call_L", "list_files", {}),
        ("call_R", "read_file", {"path": "a.txt"}),
    ]
    assert first.message == Message(
        "assistant",
        (
            ToolUseBlock("call_L", "list_files", {}),
            ToolUseBlock("call_R", "read_file", {"path": "a.txt"}),
        ),
    )
    assert (second.text, second.stop_reason) == ("One file, a.txt, which says hi.", "end_turn")

    sent_first, sent_second = server.requests
    assert sent_first.path == "/v1/chat/completions"
    assert sent_first.headers["authorization"] == "Bearer sk-openai-test"
    assert sent_first.body["max_tokens"] == 500
    assert sent_first.body["tools"] == [
        {
            "type": "function",
            "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
        }
        for t in (READ, LIST)
    ]
    assert sent_first.body["messages"] == [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "What is in the workspace?"},
    ]
    system, question, assistant, *rest = sent_second.body["messages"]
    assert (system, question) == tuple(sent_first.body["messages"])
    assert assistant["role"] == "assistant"
    assert [
        (c["id"], c["type"], c["function"]["name"], json.loads(c["function"]["arguments"]))
        for c in assistant["tool_calls"]
    ] == [
        ("call_L", "function", "list_files", {}),
        ("call_R", "function", "read_file", {"path": "a.txt"}),
    ]
    assert rest == [
        {"role": "tool", "tool_call_id": "call_L", "content": "a.txt"},
        {"role": "tool", "tool_call_id": "call_R", "content": "ERROR: permission denied"},
        {"role": "user", "content": "Be brief."},
    ]


def test_malformed_arguments_become_tool_call_errors(server: FakeLLMServer) -> None:
    server.add(
        FakeReply(
            tool_calls=(
                FakeToolCall("read_file", '{"path": "a.txt"', id="call_1"),
                FakeToolCall("read_file", '["a.txt"]', id="call_2"),
                FakeToolCall("list_files", "", id="call_3"),
            )
        )
    )
    with local_model(server) as provider:
        completion = provider.complete(SYSTEM, [QUESTION], [READ, LIST])

    truncated, not_object, empty = completion.tool_calls
    assert truncated.arguments is None
    assert truncated.raw_arguments == '{"path": "a.txt"'
    assert truncated.error is not None
    assert "not valid JSON" in truncated.error
    assert not_object.arguments is None
    assert not_object.error is not None
    assert "JSON object" in not_object.error
    # Servers send "" for a tool without arguments.
    assert (empty.arguments, empty.error) == ({}, None)
    # The history keeps the calls (with empty input) so their results can answer them.
    assert [b.id for b in completion.message.content if isinstance(b, ToolUseBlock)] == [
        "call_1",
        "call_2",
        "call_3",
    ]


def test_finish_reasons_are_mapped(server: FakeLLMServer) -> None:
    server.add(
        FakeReply(text="The answer is", stop_reason="max_tokens"),
        # Some servers say "stop" although they return tool calls.
        FakeReply(tool_calls=(FakeToolCall("list_files"),), stop_reason="end_turn"),
        FakeReply(text="Done."),
    )
    with local_model(server) as provider:
        reasons = [provider.complete(SYSTEM, [QUESTION], [LIST]).stop_reason for _ in range(3)]
    assert [r.body["messages"][0]["role"] for r in server.requests] == ["system"] * 3
    assert reasons == ["max_tokens", "tool_use", "end_turn"]


def test_cached_tokens_are_split_out_and_priced(server: FakeLLMServer) -> None:
    server.add(
        FakeReply(
            text="ok", usage=Usage(input_tokens=1000, output_tokens=500, cache_read_tokens=4000)
        )
    )
    with local_model(server, model="gpt-4o-mini") as provider:
        completion = provider.complete(SYSTEM, [QUESTION], [])

    # On the wire: prompt_tokens 5000, of which cached_tokens 4000.
    assert completion.usage == Usage(input_tokens=1000, output_tokens=500, cache_read_tokens=4000)
    # gpt-4o-mini list prices: 0.15 in, 0.60 out, 0.075 cached (USD per million tokens).
    assert completion.cost_usd == pytest.approx((1000 * 0.15 + 500 * 0.60 + 4000 * 0.075) / 1e6)
    assert "tools" not in server.requests[0].body


def test_reasoning_content_is_kept_as_thinking_but_not_sent_back(server: FakeLLMServer) -> None:
    server.add(FakeReply(text="42.", thinking="6 times 7."), FakeReply(text="Yes."))
    with local_model(server) as provider:
        first = provider.complete(SYSTEM, [QUESTION], [])
        provider.complete(
            SYSTEM, [QUESTION, first.message, Message("user", (TextBlock("Sure?"),))], []
        )
    assert first.thinking == "6 times 7."
    assert server.requests[1].body["messages"][2] == {"role": "assistant", "content": "42."}


def test_local_endpoint_needs_no_key(
    server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    server.add(FakeReply(text="hello"))
    with local_model(server, context_window=8192) as provider:
        assert provider.complete(SYSTEM, [QUESTION], []).text == "hello"
        assert provider.context_window == 8192
    assert server.requests[0].headers["authorization"] == "Bearer none"


TEXT_CALL = (
    'I will read it.\n<tool_call>\n{"name": "read_file", "arguments": {"path": "a.txt"}}\n'
    "</tool_call>"
)


def test_a_call_written_as_text_is_run_and_goes_back_as_text(server: FakeLLMServer) -> None:
    # llama.cpp without a tool-call parser: the call is in the content, finish_reason "stop".
    server.add(FakeReply(text=TEXT_CALL), FakeReply(text="It says hi."))
    with local_model(server) as provider:
        first = provider.complete(SYSTEM, [QUESTION], [READ, LIST])
        [call] = first.tool_calls
        results = Message("user", (ToolResultBlock(call.id, "hi"), TextBlock("Be brief.")))
        provider.complete(SYSTEM, [QUESTION, first.message, results], [READ, LIST])

    assert (call.name, call.arguments, call.from_text) == ("read_file", {"path": "a.txt"}, True)
    assert (first.text, first.stop_reason) == (TEXT_CALL, "tool_use")
    assert first.message == Message(
        "assistant",
        (TextBlock(TEXT_CALL), ToolUseBlock(call.id, "read_file", {"path": "a.txt"}, True)),
    )
    # No tool_calls and no role "tool": the server may not support them.
    assert server.requests[1].body["messages"][2:] == [
        {"role": "assistant", "content": TEXT_CALL},
        {
            "role": "user",
            "content": "<tool_response>\nread_file result:\nhi\n</tool_response>\n\nBe brief.",
        },
    ]


def test_native_calls_win_and_text_calls_can_be_switched_off(server: FakeLLMServer) -> None:
    native = FakeToolCall("list_files", {}, id="call_L")
    server.add(FakeReply(text=TEXT_CALL, tool_calls=(native,)), FakeReply(text=TEXT_CALL))
    with local_model(server) as provider:
        both = provider.complete(SYSTEM, [QUESTION], [READ, LIST])
    with local_model(server, text_tool_calls=False) as provider:
        off = provider.complete(SYSTEM, [QUESTION], [READ, LIST])
    assert [(c.id, c.name, c.from_text) for c in both.tool_calls] == [
        ("call_L", "list_files", False)
    ]
    assert (off.tool_calls, off.stop_reason, off.text) == ((), "end_turn", TEXT_CALL)
