"""Failures, for both HTTP providers, through the real clients against the fake wire server:
429/529/500 are retried (counted at the server), exhausted retries, auth failures, timeouts and
prompts too long become the documented ``ProviderError`` subclasses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from aar.researchers.providers import (
    ContextTooLongError,
    Message,
    Provider,
    ProviderAuthError,
    ProviderConfig,
    ProviderError,
    TextBlock,
    make_provider,
)
from aar.researchers.providers.wire import FakeLLMServer, FakeReply

KEY = "sk-secret-value"
QUESTION = [Message("user", (TextBlock("Hello?"),))]
# kind → (default key variable, model, a context-length complaint in the vendor's words)
KINDS = {
    "anthropic": (
        "ANTHROPIC_API_KEY",
        "claude-opus-4-6",
        "prompt is too long: 215000 tokens > 200000 maximum",
    ),
    "openai": (
        "OPENAI_API_KEY",
        "gpt-4o",
        "This model's maximum context length is 128000 tokens. However, your messages "
        "resulted in 130000 tokens.",
    ),
}


@pytest.fixture(params=sorted(KINDS))
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        yield server


def provider(
    kind: str, server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch, **options: object
) -> Provider:
    env, model, _ = KINDS[kind]
    monkeypatch.setenv(env, KEY)
    url = server.anthropic_base_url if kind == "anthropic" else server.openai_base_url
    config = ProviderConfig.model_validate(
        {"kind": kind, "model": model, "base_url": url, "max_retries": 3, **options}
    )
    return make_provider(config)


def test_rate_limit_is_retried(
    kind: str, server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.add(FakeReply.rate_limited(), FakeReply(text="after the wait"))
    with provider(kind, server, monkeypatch) as llm:
        assert llm.complete("", QUESTION, []).text == "after the wait"
    assert len(server.requests) == 2
    assert server.requests[0].body == server.requests[1].body


def test_overload_and_server_errors_are_retried(
    kind: str, server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.add(FakeReply.overloaded(), FakeReply.error(500), FakeReply(text="third time"))
    with provider(kind, server, monkeypatch) as llm:
        assert llm.complete("", QUESTION, []).text == "third time"
    assert len(server.requests) == 3


def test_exhausted_retries_raise_a_provider_error_naming_the_status(
    kind: str, server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.add(*[FakeReply.overloaded()] * 3)
    with (
        provider(kind, server, monkeypatch, max_retries=2) as llm,
        pytest.raises(ProviderError) as caught,
    ):
        llm.complete("", QUESTION, [])
    assert len(server.requests) == 3  # the first try and two retries
    assert caught.value.status == 529
    message = str(caught.value)
    assert "HTTP 529" in message
    assert KINDS[kind][1] in message
    assert "Overloaded" in message
    assert "retried up to 2 times" in message


def test_bad_key_is_an_auth_error_naming_the_variable_not_the_key(
    kind: str, server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.add(FakeReply.error(401, "invalid x-api-key"))
    monkeypatch.setenv("RESEARCH_KEY", KEY)
    with (
        provider(kind, server, monkeypatch, api_key_env="RESEARCH_KEY") as llm,
        pytest.raises(ProviderAuthError) as caught,
    ):
        llm.complete("", QUESTION, [])
    assert len(server.requests) == 1  # never retried
    assert caught.value.status == 401
    assert "$RESEARCH_KEY" in str(caught.value)
    assert KEY not in str(caught.value)
    assert KEY in str(server.requests[0].headers)  # it was the configured key that was sent


def test_timeouts_are_retried_then_raised(
    kind: str, server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.add(FakeReply(text="late", delay_s=5), FakeReply(text="late again", delay_s=5))
    with (
        provider(kind, server, monkeypatch, timeout_s=0.2, max_retries=1) as llm,
        pytest.raises(ProviderError, match=r"timed out after 0\.2s") as caught,
    ):
        llm.complete("", QUESTION, [])
    assert len(server.requests) == 2
    assert caught.value.status is None


def test_a_prompt_too_long_is_a_context_error(
    kind: str, server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.add(FakeReply.error(400, KINDS[kind][2]))
    with provider(kind, server, monkeypatch) as llm, pytest.raises(ContextTooLongError) as caught:
        llm.complete("", QUESTION, [])
    assert len(server.requests) == 1
    assert caught.value.status == 400
    assert "context" in str(caught.value) or "too long" in str(caught.value)


def test_other_client_errors_are_plain_provider_errors(
    kind: str, server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.add(FakeReply.error(400, "tools.0.name: String should match pattern"))
    with provider(kind, server, monkeypatch) as llm, pytest.raises(ProviderError) as caught:
        llm.complete("", QUESTION, [])
    assert type(caught.value) is ProviderError
    assert "String should match pattern" in str(caught.value)
    assert "retried" not in str(caught.value)


def test_an_unreachable_server_is_a_provider_error(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeLLMServer() as server:
        url = server.url
    env, model, _ = KINDS[kind]
    monkeypatch.setenv(env, KEY)
    base = url if kind == "anthropic" else f"{url}/v1"
    config = ProviderConfig(kind=kind, model=model, base_url=base, max_retries=0)
    with make_provider(config) as llm, pytest.raises(ProviderError, match="cannot reach"):
        llm.complete("", QUESTION, [])


def test_a_request_beyond_the_fake_script_fails_at_once(
    kind: str, server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with provider(kind, server, monkeypatch) as llm, pytest.raises(ProviderError) as caught:
        llm.complete("", QUESTION, [])
    assert "no reply left in the script" in str(caught.value)
    assert len(server.requests) == 1  # x-should-retry: false stops the client's retries
