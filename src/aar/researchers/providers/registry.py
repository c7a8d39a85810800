"""Provider configuration and the registry that turns a config into a ``Provider``.

    config = ProviderConfig(kind="anthropic", model="claude-sonnet-4-5", thinking_budget=4096)
    with make_provider(config) as provider:
        provider.complete(system, history, tools)

API keys come from the environment of the campaign process (``api_key_env``, by default
``ANTHROPIC_API_KEY`` or ``OPENAI_API_KEY``), never from the config, and never reach a log or
a sandbox. An OpenAI-compatible ``base_url`` (a local vLLM, llama.cpp or Ollama server) may
need no key: without one the client sends a placeholder. ``text_tool_calls`` reads tool calls
the model wrote as text when it sends no native ones (``textcalls``); by default it is on for
``openai`` (any compatible server, some of which have no tool-call parser) and off for
``anthropic`` and ``scripted``. Register a new kind with::

    @PROVIDERS.register("mine")
    def _mine(config: ProviderConfig) -> Provider: ...
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from aar.core.errors import MissingDependencyError
from aar.core.prices import PriceTable
from aar.core.registry import Registry
from aar.researchers.providers.base import Provider, ProviderConfigError
from aar.researchers.providers.scripted import ScriptedProvider

ProviderFactory = Callable[["ProviderConfig"], Provider]

PROVIDERS: Registry[ProviderFactory] = Registry(
    "provider", hint="the anthropic and openai providers need pip install 'aar[llm]'"
)

_OPENAI_URL = "https://api.openai.com"
# A request attempt on a slow local server (a long first prompt on a few CPU cores) takes
# minutes; an API's rarely does. The loop also caps each call by the wall time left, so these
# bound a stuck call without cutting a slow one short.
DEFAULT_TIMEOUT_S = 300.0
DEFAULT_RETRIES = 3


class ProviderConfig(BaseModel):
    """Which model to talk to, where, and how patiently."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str = Field(
        description="provider kind: anthropic, openai (any compatible server), scripted"
    )
    model: str = Field("scripted", description="model name as the API knows it")
    base_url: str | None = Field(None, description="API root (None: the vendor's)")
    api_key_env: str | None = Field(
        None, description="env var holding the key (None: the vendor's)"
    )
    unix_socket: Path | None = Field(None, description="reach base_url over this Unix socket")
    max_retries: int = Field(
        DEFAULT_RETRIES, ge=0, description="retries on 429/5xx/overloaded and timeouts"
    )
    timeout_s: float = Field(DEFAULT_TIMEOUT_S, gt=0, description="seconds per request attempt")
    context_window: int | None = Field(None, gt=0, description="tokens (None: known or default)")
    temperature: float | None = Field(None, ge=0, le=2, description="sampling (None: the API's)")
    thinking_budget: int | None = Field(None, ge=1024, description="extended thinking (anthropic)")
    prices: Path | None = Field(None, description="TOML price table laid over the defaults")
    script: Path | None = Field(None, description="JSON list of turns (scripted)")
    text_tool_calls: bool | None = Field(
        None, description="read tool calls written as text (None: on for openai, else off)"
    )


def make_provider(config: ProviderConfig) -> Provider:
    """The provider ``config`` describes; raises UnknownNameError or ProviderConfigError."""
    return PROVIDERS.get(config.kind)(config)


def price_table(config: ProviderConfig) -> PriceTable:
    default = PriceTable.default()
    return default.updated(PriceTable.from_toml(config.prices)) if config.prices else default


def _api_key(config: ProviderConfig, default_env: str, *, required: bool) -> tuple[str, str]:
    """The key and the name of its env var; a missing key is fatal only when ``required``."""
    env = config.api_key_env or default_env
    key = os.environ.get(env, "")
    if not key and (required or config.api_key_env):
        raise ProviderConfigError(
            f"the {config.kind} provider needs an API key: set the environment variable {env}"
        )
    return key or "none", env


def _http_options(config: ProviderConfig, key: str, env: str) -> dict[str, Any]:
    """What every HTTP provider takes from the config: key, endpoint, patience, prices."""
    return {
        "api_key": key,
        "api_key_env": env,
        "base_url": config.base_url,
        "unix_socket": config.unix_socket,
        "max_retries": config.max_retries,
        "timeout_s": config.timeout_s,
        "context_window": config.context_window,
        "temperature": config.temperature,
        "prices": price_table(config),
    }


def _refuse_thinking(config: ProviderConfig) -> None:
    if config.thinking_budget is not None:
        raise ProviderConfigError(
            f"thinking_budget is supported by the anthropic provider only, not {config.kind!r}"
        )


@PROVIDERS.register("anthropic")
def _anthropic(config: ProviderConfig) -> Provider:
    try:
        from aar.researchers.providers.anthropic import AnthropicProvider
    except ImportError:
        raise MissingDependencyError("anthropic", "llm", "the anthropic provider") from None
    key, env = _api_key(config, "ANTHROPIC_API_KEY", required=True)
    return AnthropicProvider(
        config.model,
        thinking_budget=config.thinking_budget,
        text_tool_calls=bool(config.text_tool_calls),
        **_http_options(config, key, env),
    )


@PROVIDERS.register("openai")
def _openai(config: ProviderConfig) -> Provider:
    try:
        from aar.researchers.providers.openai_compat import OpenAIProvider
    except ImportError:
        raise MissingDependencyError("openai", "llm", "the openai provider") from None
    _refuse_thinking(config)
    official = config.base_url is None or config.base_url.startswith(_OPENAI_URL)
    key, env = _api_key(config, "OPENAI_API_KEY", required=official)
    return OpenAIProvider(
        config.model,
        max_tokens_field="max_completion_tokens" if official else "max_tokens",
        text_tool_calls=config.text_tool_calls is not False,
        **_http_options(config, key, env),
    )


@PROVIDERS.register("scripted")
def _scripted(config: ProviderConfig) -> Provider:
    _refuse_thinking(config)
    if config.script is None:
        raise ProviderConfigError(
            "the scripted provider needs a script: a JSON list of turns (ProviderConfig.script)"
        )
    return ScriptedProvider.from_file(
        config.script,
        model=config.model,
        context_window=config.context_window,
        prices=price_table(config),
        text_tool_calls=bool(config.text_tool_calls),
    )
