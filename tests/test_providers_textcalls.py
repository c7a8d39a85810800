"""Tool calls written as text: each form a real model writes, several calls in a turn, JSON
examples in prose that must not run, broken JSON that must reach the model, and results
written back as ``<tool_response>`` text."""

from __future__ import annotations

import json

import pytest

from aar.researchers.providers import (
    Message,
    TextBlock,
    ToolResultBlock,
    ToolUseBlock,
)
from aar.researchers.providers.textcalls import (
    parse_text_calls,
    text_call_names,
    text_results,
    tool_response,
)

TOOLS = {"read_file", "shell", "leaderboard"}


def calls(text: str) -> list[tuple[str, object]]:
    parsed = parse_text_calls(text, TOOLS)
    assert all(c.from_text for c in parsed)
    return [(c.name, c.arguments) for c in parsed]


def test_hermes_tags_with_prose_around() -> None:
    text = (
        "Let me look at the file first.\n"
        '<tool_call>\n{"name": "read_file", "arguments": {"path": "README.md"}}\n</tool_call>'
    )
    [call] = parse_text_calls(text, TOOLS)
    assert (call.name, call.arguments, call.error) == ("read_file", {"path": "README.md"}, None)
    assert json.loads(call.raw_arguments) == {"path": "README.md"}


def test_tags_tolerate_a_missing_closing_tag_and_string_arguments() -> None:
    text = '<tool_call>{"name": "read_file", "arguments": "{\\"path\\": \\"a.txt\\"}"}'
    assert calls(text) == [("read_file", {"path": "a.txt"})]


def test_several_tags_and_a_fenced_body_inside_tags() -> None:
    text = (
        '<tool_call>{"name": "shell", "arguments": {"command": "ls"}}</tool_call>\n'
        '<tool_call>\n```json\n{"name": "leaderboard", "arguments": {}}\n```\n</tool_call>'
    )
    parsed = parse_text_calls(text, TOOLS)
    assert [(c.name, c.arguments) for c in parsed] == [
        ("shell", {"command": "ls"}),
        ("leaderboard", {}),
    ]
    assert len({c.id for c in parsed}) == 2  # fresh ids


def test_a_tagged_call_to_an_unknown_tool_is_still_a_call() -> None:
    assert calls('<tool_call>{"name": "rm", "arguments": {"path": "x"}}</tool_call>') == [
        ("rm", {"path": "x"})
    ]


def test_malformed_json_in_tags_becomes_an_error_for_the_model() -> None:
    [call] = parse_text_calls(
        '<tool_call>{"name": "read_file", "arguments": {path: a.txt}}</tool_call>', TOOLS
    )
    assert (call.name, call.arguments) == ("read_file", None)
    assert call.error is not None
    assert "does not parse" in call.error
    assert '"arguments"' in call.error  # it shows the shape to write
    [nameless] = parse_text_calls("<tool_call>read the file</tool_call>", TOOLS)
    assert (nameless.name, nameless.arguments) == ("", None)


@pytest.mark.parametrize("fence", ["json", "tool_call", ""])
def test_fenced_blocks(fence: str) -> None:
    text = f'I will run:\n```{fence}\n{{"name": "shell", "arguments": {{"command": "ls"}}}}\n```'
    assert calls(text) == [("shell", {"command": "ls"})]


def test_llama_parameters_and_a_list_in_one_block() -> None:
    text = (
        "```json\n"
        '[{"name": "shell", "parameters": {"command": "ls"}},\n'
        ' {"type": "function", "function": {"name": "leaderboard", "arguments": "{}"}}]\n'
        "```"
    )
    assert calls(text) == [("shell", {"command": "ls"}), ("leaderboard", {})]


def test_several_blocks_and_a_fence_inside_a_json_string() -> None:
    text = (
        "```python\nprint('not a call')\n```\n"
        '```json\n{"name": "shell", "arguments": {"command": "printf \'```\\n\'"}}\n```\n'
        "and then\n"
        '```json\n{"name": "read_file", "arguments": {"path": "b.txt"}}\n```'
    )
    assert calls(text) == [
        ("shell", {"command": "printf '```\n'"}),
        ("read_file", {"path": "b.txt"}),
    ]


def test_a_bare_json_message() -> None:
    assert calls(' {"name": "read_file", "arguments": {"path": "a.txt"}}\n') == [
        ("read_file", {"path": "a.txt"})
    ]
    # Qwen2.5-Coder-0.5B's first turn: a tool that does not exist, which the toolbox answers.
    assert calls('{"name": "look_at_forum", "arguments": {}}') == [("look_at_forum", {})]


def test_a_call_stopped_short_of_its_closing_braces_is_closed() -> None:
    # Qwen2.5-Coder-0.5B wrote exactly this (one brace short) behind llama.cpp's server.
    assert calls('{"name": "shell", "arguments": {"command": "ls"}') == [
        ("shell", {"command": "ls"})
    ]
    fenced = '```json\n{"name": "read_file", "arguments": {"path": "a}{.txt"\n```'
    assert calls(fenced) == [("read_file", {"path": "a}{.txt"})]
    tagged = '<tool_call>\n{"name": "shell", "arguments": {"command": "pwd"}\n</tool_call>'
    assert calls(tagged) == [("shell", {"command": "pwd"})]
    # ... and this, ")" for the last "}".
    assert calls('{"name": "notebook", "arguments": {"append": "x (y)"})') == [
        ("notebook", {"append": "x (y)"})
    ]
    # Cut inside a string, or with a bracket closed wrongly: not guessed at.
    assert calls('{"name": "shell", "arguments": {"command": "ls') == []
    assert calls('{"name": "shell", "arguments": {"command": "ls"]') == []


def test_llama_function_tags() -> None:
    assert calls('<function=shell>{"command": "pwd"}</function>') == [("shell", {"command": "pwd"})]
    [broken] = parse_text_calls("<function=shell>{command: pwd}</function>", TOOLS)
    assert (broken.name, broken.arguments) == ("shell", None)


@pytest.mark.parametrize(
    "text",
    [
        'A call looks like ```json\n{"name": "frobnicate", "arguments": {}}\n```',
        'Config: ```json\n{"name": "shell", "version": 2}\n```',  # no arguments: not a call
        'The answer is {"name": "shell", "arguments": {}} as I said.',  # JSON inside prose
        "Plain prose, no calls at all.",
        '<think><tool_call>{"name": "shell", "arguments": {}}</tool_call></think>Done.',
    ],
)
def test_what_is_not_a_call(text: str) -> None:
    assert parse_text_calls(text, TOOLS) == ()


def test_results_go_back_as_tool_response_text() -> None:
    use = ToolUseBlock("c1", "read_file", {"path": "a"}, from_text=True)
    native = ToolUseBlock("c2", "shell", {"command": "ls"})
    history = [Message("assistant", (TextBlock("<tool_call>...</tool_call>"), use, native))]
    names = text_call_names(history)
    assert names == {"c1": "read_file"}
    blocks = (ToolResultBlock("c1", "no such file", is_error=True), ToolResultBlock("c2", "x"))
    assert text_results(blocks, names) == tool_response("read_file", "no such file", is_error=True)
    assert tool_response("shell", "héllo\n") == (
        "<tool_response>\nshell result:\nhéllo\n\n</tool_response>"
    )
    assert "shell ERROR:\nboom" in tool_response("shell", "boom", is_error=True)
