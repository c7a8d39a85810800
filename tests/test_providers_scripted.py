"""The scripted provider: replays turns in order, records what it was asked, answers through a
function, reads a JSON script, and fails clearly when the script runs out."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from aar.core.prices import Price
from aar.researchers.providers import (
    Message,
    PriceTable,
    ProviderConfig,
    ProviderConfigError,
    ProviderError,
    ScriptedCall,
    ScriptedProvider,
    ScriptExhaustedError,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolSpec,
    ToolUseBlock,
    Turn,
    Usage,
    make_provider,
)

TOOLS = [ToolSpec("read_file", "Read a file.", {"type": "object"})]
HELLO = Message("user", (TextBlock("hello"),))


def test_replays_turns_in_order_and_records_requests() -> None:
    provider = ScriptedProvider(
        [
            Turn(
                text="Reading.",
                tool_calls=(ScriptedCall("read_file", {"path": "a.txt"}),),
                thinking="a.txt first",
                usage=Usage(input_tokens=100, output_tokens=10),
            ),
            "Done.",
        ]
    )
    first = provider.complete("system", [HELLO], TOOLS, max_tokens=99)
    history = [
        HELLO,
        first.message,
        Message("user", (ToolResultBlock(first.tool_calls[0].id, "hi"),)),
    ]
    second = provider.complete("system", history, TOOLS)

    assert first.tool_calls[0].id == "call_0_0"
    assert (first.tool_calls[0].arguments, first.tool_calls[0].raw_arguments) == (
        {"path": "a.txt"},
        '{"path": "a.txt"}',
    )
    assert first.message == Message(
        "assistant",
        (
            ThinkingBlock("a.txt first", signature="scripted"),
            TextBlock("Reading."),
            ToolUseBlock("call_0_0", "read_file", {"path": "a.txt"}),
        ),
    )
    assert (first.stop_reason, first.usage, first.cost_usd) == (
        "tool_use",
        Usage(input_tokens=100, output_tokens=10),
        0.0,
    )
    assert (second.text, second.stop_reason, second.tool_calls) == ("Done.", "end_turn", ())
    assert [(r.system, r.max_tokens, r.tools) for r in provider.requests] == [
        ("system", 99, tuple(TOOLS)),
        ("system", 4096, tuple(TOOLS)),
    ]
    assert provider.requests[1].messages == tuple(history)
    assert provider.remaining == 0


def test_an_exhausted_script_raises_a_clear_provider_error() -> None:
    provider = ScriptedProvider(["only turn"])
    provider.complete("", [HELLO], [])
    with pytest.raises(
        ScriptExhaustedError, match=r"no turn left: all 1 turns were used"
    ) as caught:
        provider.complete("", [HELLO], [])
    assert isinstance(caught.value, ProviderError)
    assert "call 2" in str(caught.value)


def test_a_function_answers_each_call() -> None:
    def echo(system: str, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> str:
        last = messages[-1].content[-1]
        assert isinstance(last, TextBlock)
        return f"{system}: {last.text} ({len(tools)} tools)"

    provider = ScriptedProvider(echo)
    answers = [
        provider.complete("echo", [Message("user", (TextBlock(w),))], TOOLS).text for w in "ab"
    ]
    assert answers == ["echo: a (1 tools)", "echo: b (1 tools)"]
    assert provider.remaining is None


def test_raw_string_arguments_are_parsed_like_a_model_s() -> None:
    provider = ScriptedProvider(
        [Turn(tool_calls=(ScriptedCall("read_file", '{"path": ', id="c1"),))]
    )
    (call,) = provider.complete("", [HELLO], TOOLS).tool_calls
    assert (call.id, call.arguments, call.raw_arguments) == ("c1", None, '{"path": ')
    assert call.error is not None
    assert "not valid JSON" in call.error


def test_scripted_costs_follow_the_price_table() -> None:
    prices = PriceTable({"pretend-claude": Price(3.0, 15.0, 0.3, 3.75)})
    provider = ScriptedProvider(
        [Turn(text="x", usage=Usage(input_tokens=2_000_000, output_tokens=100_000))],
        model="pretend-claude",
        prices=prices,
    )
    assert provider.complete("", [HELLO], []).cost_usd == pytest.approx(6.0 + 1.5)


def test_a_json_script_file_through_make_provider(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(
        json.dumps(
            [
                {"tool_calls": [{"name": "read_file", "arguments": {"path": "a.txt"}}]},
                {"text": "Done.", "usage": {"input_tokens": 1200, "output_tokens": 30}},
                "Bye.",
            ]
        )
    )
    provider = make_provider(ProviderConfig(kind="scripted", script=script, context_window=1000))
    assert provider.context_window == 1000
    turns = [provider.complete("", [HELLO], TOOLS) for _ in range(3)]
    assert turns[0].tool_calls[0].arguments == {"path": "a.txt"}
    assert turns[1].usage == Usage(input_tokens=1200, output_tokens=30)
    assert turns[2].text == "Bye."


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        ("[{", "cannot read the script"),
        ('{"text": "not a list"}', "not a list of turns"),
        ('[{"txt": "typo"}]', "not a list of turns"),
    ],
)
def test_a_bad_script_file_is_a_config_error(tmp_path: Path, content: str, complaint: str) -> None:
    script = tmp_path / "script.json"
    script.write_text(content)
    with pytest.raises(ProviderConfigError, match=complaint):
        ScriptedProvider.from_file(script)


def test_text_tool_calls_when_asked_for() -> None:
    text = '<tool_call>{"name": "read_file", "arguments": {"path": "a.txt"}}</tool_call>'
    plain = ScriptedProvider([text]).complete("system", [HELLO], TOOLS)
    reading = ScriptedProvider([text], text_tool_calls=True).complete("system", [HELLO], TOOLS)
    assert (plain.tool_calls, plain.stop_reason) == ((), "end_turn")
    [call] = reading.tool_calls
    assert (call.name, call.arguments, call.from_text) == ("read_file", {"path": "a.txt"}, True)
    assert reading.stop_reason == "tool_use"
    assert reading.message.content[1] == ToolUseBlock(call.id, "read_file", {"path": "a.txt"}, True)
