"""``aar doctor``: one tool-call round trip against an endpoint, and a plain verdict."""

import json
import os
import subprocess
import sys

from aar.researchers.doctor import check_endpoint
from aar.researchers.providers import ProviderConfig, make_provider
from aar.researchers.providers.wire import FakeLLMServer, FakeReply, FakeToolCall
from aar.researchers.tools import default_tools


def echo(word: str) -> FakeReply:
    return FakeReply(tool_calls=(FakeToolCall("echo", {"text": word}),))


def doctor(base_url: str, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aar", "doctor", "--model", "qwen3", "--base-url", base_url,
         *flags],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip


def test_a_model_that_calls_tools_can_drive_a_researcher() -> None:
    with FakeLLMServer([echo("ping"), echo("pong")]) as server:
        result = doctor(server.openai_base_url, "--context-window", "32768")
        second = server.requests[1].body["messages"]
    assert result.returncode == 0, result.stdout + result.stderr
    assert "yes: the model called the tool (native) and took its result back" in result.stdout
    assert "output tokens/s" in result.stdout
    # The round trip: the tool's result went back to the model before the second call.
    assert [m["role"] for m in second] == ["system", "user", "assistant", "tool", "user"]
    assert second[3]["content"] == "ping"


def test_a_model_that_answers_in_prose_cannot() -> None:
    with FakeLLMServer([FakeReply(text="Sure! The echo of ping is ping.")]) as server:
        result = doctor(server.openai_base_url)
    assert result.returncode == 1
    assert "NO: the model answered without a tool call" in result.stdout
    assert "Sure! The echo of ping is ping." in result.stdout


def test_a_wrong_argument_and_a_refused_request_are_named() -> None:
    wrong = FakeReply(tool_calls=(FakeToolCall("echo", {"text": "pong"}),))
    with FakeLLMServer([wrong, FakeReply.error(401, "invalid x-api-key")]) as server:
        config = ProviderConfig(kind="openai", model="m", base_url=server.openai_base_url)
        with make_provider(config) as provider:
            called_wrong = check_endpoint(provider)
            refused = check_endpoint(provider)
    assert not called_wrong.can_drive
    assert "called echo with '{\"text\": \"pong\"}', not text='ping'" in called_wrong.verdict
    assert not refused.can_drive
    assert "HTTP 401" in refused.verdict
    assert "invalid x-api-key" in refused.verdict


def test_a_window_too_small_for_a_researchers_first_prompt_is_refused_before_any_request() -> None:
    tools = [t.spec() for t in default_tools()]
    with FakeLLMServer() as server:
        config = ProviderConfig(
            kind="openai", model="m", base_url=server.openai_base_url, context_window=2048
        )
        with make_provider(config) as provider:
            report = check_endpoint(provider, tools)
        assert server.requests == []
    assert not report.can_drive
    assert "cannot hold a researcher's first prompt" in report.verdict
    assert json.dumps(report.rows())  # the table's rows are plain strings
