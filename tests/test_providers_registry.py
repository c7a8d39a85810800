"""make_provider: unknown kinds list the valid ones, missing keys name their variable,
settings a kind does not support are refused, context windows come from config or table, and
text tool calls are on for OpenAI-compatible servers unless configured off."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from aar.core.errors import UnknownNameError
from aar.researchers.providers import (
    PROVIDERS,
    ProviderConfig,
    ProviderConfigError,
    make_provider,
)


def test_unknown_kind_lists_the_valid_kinds_and_the_extra() -> None:
    with pytest.raises(UnknownNameError) as caught:
        make_provider(ProviderConfig(kind="gemini", model="x"))
    message = str(caught.value)
    assert "anthropic, openai, scripted" in message
    assert "aar[llm]" in message
    assert PROVIDERS.names() == ["anthropic", "openai", "scripted"]


@pytest.mark.parametrize(
    ("config", "variable"),
    [
        (ProviderConfig(kind="anthropic", model="claude-opus-4-6"), "ANTHROPIC_API_KEY"),
        (ProviderConfig(kind="openai", model="gpt-4o"), "OPENAI_API_KEY"),
        (
            ProviderConfig(
                kind="openai",
                model="qwen3",
                base_url="http://localhost:8000/v1",
                api_key_env="TOGETHER_KEY",
            ),
            "TOGETHER_KEY",
        ),
    ],
)
def test_a_missing_key_names_its_variable(
    config: ProviderConfig, variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "TOGETHER_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ProviderConfigError, match=f"set the environment variable {variable}"):
        make_provider(config)


def test_the_key_stays_out_of_the_provider_s_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-very-secret")
    with make_provider(ProviderConfig(kind="anthropic", model="claude-opus-4-6")) as provider:
        assert "sk-ant-very-secret" not in repr(provider)
        assert repr(provider) == "AnthropicProvider(model='claude-opus-4-6')"


def test_official_openai_uses_max_completion_tokens_and_local_servers_max_tokens(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    official = make_provider(ProviderConfig(kind="openai", model="gpt-5"))
    local = make_provider(
        ProviderConfig(kind="openai", model="q", base_url="http://127.0.0.1:9/v1")
    )
    assert getattr(official, "max_tokens_field", None) == "max_completion_tokens"
    assert getattr(local, "max_tokens_field", None) == "max_tokens"


def test_thinking_is_refused_where_unsupported_and_bounded_where_it_is() -> None:
    with pytest.raises(ProviderConfigError, match="anthropic provider only"):
        make_provider(
            ProviderConfig(kind="openai", model="q", base_url="http://x/v1", thinking_budget=2048)
        )
    with pytest.raises(ValidationError, match="thinking_budget"):
        ProviderConfig(kind="anthropic", model="claude-opus-4-6", thinking_budget=100)


def test_scripted_needs_a_script() -> None:
    with pytest.raises(ProviderConfigError, match="needs a script"):
        make_provider(ProviderConfig(kind="scripted"))


@pytest.mark.parametrize(
    ("model", "configured", "window"),
    [
        ("claude-opus-4-6", None, 200_000),
        ("gpt-4.1-mini", None, 1_047_576),
        ("gpt-4o-2024-08-06", None, 128_000),
        ("some-local-model", None, 32_768),
        ("claude-opus-4-6", 1_000_000, 1_000_000),
    ],
)
def test_context_window_from_config_then_table_then_default(
    model: str, configured: int | None, window: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    config = ProviderConfig(
        kind="openai", model=model, base_url="http://127.0.0.1:9/v1", context_window=configured
    )
    with make_provider(config) as provider:
        assert provider.context_window == window


def test_config_is_frozen_and_strict() -> None:
    with pytest.raises(ValidationError, match="extra"):
        ProviderConfig.model_validate({"kind": "openai", "model": "m", "api_key": "sk-inline"})
    with pytest.raises(ValidationError, match="max_retries"):
        ProviderConfig(kind="openai", model="m", max_retries=-1)


@pytest.mark.parametrize(
    ("kind", "configured", "reads_text"),
    [
        ("openai", None, True),
        ("openai", False, False),
        ("anthropic", None, False),
        ("anthropic", True, True),
        ("scripted", None, False),
        ("scripted", True, True),
    ],
)
def test_text_tool_calls_are_on_for_openai_compatible_servers_by_default(
    kind: str,
    configured: bool | None,
    reads_text: bool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    script = tmp_path / "script.json"
    script.write_text("[]")
    config = ProviderConfig(
        kind=kind, model="m", base_url="http://127.0.0.1:9/v1", text_tool_calls=configured,
        script=script if kind == "scripted" else None,
    )  # fmt: skip
    with make_provider(config) as provider:
        assert getattr(provider, "text_tool_calls", None) is reads_text
