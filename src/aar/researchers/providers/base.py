"""Provider-neutral conversation types, the ``Provider`` interface and its errors.

The research loop speaks only these types; each provider translates them to its wire format
and back::

    completion = provider.complete(system, history, tools, max_tokens=4096)
    history.append(completion.message)          # text, thinking and tool_use blocks
    results = tuple(ToolResultBlock(call.id, run(call)) for call in completion.tool_calls)
    history.append(Message("user", results))

Usage counts follow Anthropic's convention: ``input_tokens`` are the *uncached* prompt
tokens, so a prompt's size is ``input_tokens + cache_read_tokens + cache_write_tokens`` and
its price is a plain weighted sum (``aar.core.prices``).

``count_tokens`` gives a prompt's exact size where the API has a counter (Anthropic's
``count_tokens``); elsewhere it is None and the loop estimates (``aar.researchers.sizing``).

Errors a provider raises (all ``AarError``): ``ProviderAuthError`` (bad or missing key),
``ContextTooLongError`` (the prompt does not fit), ``ProviderError`` (anything else, after the
client's own retries on 429/5xx/overload and timeouts), ``ProviderConfigError`` (bad settings,
raised before any request).
"""

from __future__ import annotations

import importlib
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Literal

from aar.core.errors import AarError, ConfigError
from aar.core.usage import Usage, glob_lookup


@dataclass(frozen=True)
class ToolSpec:
    """A tool offered to the model; ``parameters`` is the JSON schema of its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class TextBlock:
    text: str


@dataclass(frozen=True)
class ToolUseBlock:
    """The model's request to run a tool (``input`` is ``{}`` when its arguments were invalid).

    ``from_text`` marks a call read from the model's text (``textcalls``), not a native one:
    providers send such a turn back as its text, and its results as a user message.
    """

    id: str
    name: str
    input: dict[str, Any]
    from_text: bool = False


@dataclass(frozen=True)
class ToolResultBlock:
    tool_use_id: str
    content: str
    is_error: bool = False


@dataclass(frozen=True)
class ThinkingBlock:
    """The model's extended thinking, kept in the history because Anthropic requires it back.

    ``signature`` is opaque and must be returned unchanged; a redacted block has no readable
    ``thinking`` and carries its encrypted data in ``signature``. Providers that do not take
    thinking back (OpenAI-compatible) drop these blocks when sending the history.
    """

    thinking: str
    signature: str = ""
    redacted: bool = False


Block = TextBlock | ToolUseBlock | ToolResultBlock | ThinkingBlock


@dataclass(frozen=True)
class Message:
    role: Literal["user", "assistant"]
    content: tuple[Block, ...]


@dataclass(frozen=True)
class ToolCall:
    """A tool call to run; ``arguments`` is None (and ``error`` says why) when invalid.

    ``from_text`` says it was read from the model's text rather than sent as a native call.
    """

    id: str
    name: str
    arguments: dict[str, Any] | None
    raw_arguments: str
    error: str | None = None
    from_text: bool = False


@dataclass(frozen=True)
class Completion:
    """One assistant turn: what to show, what to run, what to append, what it cost."""

    text: str
    tool_calls: tuple[ToolCall, ...]
    message: Message
    usage: Usage
    cost_usd: float
    stop_reason: str
    model: str
    duration_s: float
    thinking: str | None = None


class ProviderError(AarError):
    """The provider failed (after the client's retries); names provider, model and status."""

    def __init__(self, provider: str, model: str, detail: str, status: int | None = None) -> None:
        self.provider, self.model, self.status = provider, model, status
        where = f"{provider} provider (model {model!r})"
        super().__init__(f"{where}: {f'HTTP {status}: ' if status else ''}{detail}")


class ProviderAuthError(ProviderError):
    """The API key is missing, wrong or not allowed (HTTP 401/403)."""


class ContextTooLongError(ProviderError):
    """The prompt does not fit the model's context window."""


class BudgetSpentError(ProviderError):
    """The endpoint refuses for money: the hub gateway's budget, or the vendor's quota."""

    def __init__(self, provider: str, model: str, detail: str, status: int | None = None) -> None:
        super().__init__(provider, model, detail, status)
        self.detail = detail


class ProviderConfigError(ConfigError):
    """A provider setting is missing or invalid."""


class Provider(ABC):
    """A chat model behind one API; see the module docstring for the contract."""

    name: ClassVar[str]
    model: str
    context_window: int
    text_tool_calls: bool = False
    """Whether replies are searched for tool calls written as text (see ``textcalls``)."""

    @abstractmethod
    def complete(
        self,
        system: str,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        *,
        max_tokens: int = 4096,
        timeout_s: float | None = None,
    ) -> Completion:
        """The model's next turn after ``messages``.

        ``timeout_s`` caps this call's attempts below the provider's own timeout (the loop
        passes what is left of the wall-time budget); when it is below that timeout the call
        is not retried, so it never outlives the budget by more than one attempt.
        Raises ProviderAuthError, ContextTooLongError or ProviderError (see the module).
        """

    def count_tokens(
        self, system: str, messages: Sequence[Message], tools: Sequence[ToolSpec]
    ) -> int | None:
        """The prompt's exact size in tokens where the API can count it, else None."""
        return None

    @abstractmethod
    def close(self) -> None:
        """Release the HTTP connections; the provider is unusable afterwards."""

    def __enter__(self) -> Provider:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        # Never the client: it holds the API key.
        return f"{type(self).__name__}(model={self.model!r})"


# Context windows (tokens) of known model families, matched by glob; the longest pattern wins.
# Local models vary with the server's settings: give ``context_window`` in the config.
CONTEXT_WINDOWS: dict[str, int] = {
    "claude-*": 200_000,
    "gpt-4o*": 128_000,
    "gpt-4.1*": 1_047_576,
    "gpt-5*": 400_000,
    "o1*": 200_000,
    "o3*": 200_000,
    "o4*": 200_000,
}
DEFAULT_CONTEXT_WINDOW = 32_768


def context_window_for(model: str, configured: int | None = None) -> int:
    """The configured window, else the known one for ``model``, else a conservative default."""
    if configured is not None:
        return configured
    known = glob_lookup(CONTEXT_WINDOWS, model)
    return int(known) if known is not None else DEFAULT_CONTEXT_WINDOW


def unix_client(default_client: Any, socket: Path | None) -> Any:
    """An HTTP client for an official SDK that reaches its base URL over a Unix socket (the
    hub's gateway, from a local researcher), or None (the SDK's own client) without one."""
    if socket is None:
        return None
    # the SDKs ship their own httpx (httpx2 today): the transport must come from the same one
    library = importlib.import_module(default_client.__mro__[1].__module__.partition(".")[0])
    return default_client(transport=library.HTTPTransport(uds=str(socket)))


def capped_client(client: Any, timeout_s: float, cap_s: float | None) -> Any:
    """An official client (``anthropic`` or ``openai``) whose attempts end within ``cap_s``.

    Below the configured timeout the call gets no retries: one attempt is all the budget has.
    """
    if cap_s is None or cap_s >= timeout_s:
        return client
    return client.with_options(timeout=max(cap_s, 1.0), max_retries=0)


def parse_arguments(raw: str) -> tuple[dict[str, Any] | None, str | None]:
    """Tool-call arguments as a JSON object, or None and the reason to show the model.

    An empty string means no arguments: some local servers send it for argument-less tools.
    """
    if not raw.strip():
        return {}, None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as error:
        return None, f"the arguments are not valid JSON ({error}); send a JSON object"
    if not isinstance(value, dict):
        return None, f"the arguments must be a JSON object, not {type(value).__name__}"
    return value, None


def joined_text(blocks: Sequence[Block]) -> str:
    return "\n\n".join(block.text for block in blocks if isinstance(block, TextBlock))


def joined_thinking(blocks: Sequence[Block]) -> str | None:
    parts = [b.thinking for b in blocks if isinstance(b, ThinkingBlock) and b.thinking]
    return "\n\n".join(parts) if parts else None


def error_detail(body: object) -> str:
    """The message inside an API error body (Anthropic's and OpenAI's shapes), or ""."""
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            kind, message = inner.get("type"), inner.get("message")
            if message:
                return f"{kind}: {message}" if kind else str(message)
        elif isinstance(inner, str):
            return inner
    return body if isinstance(body, str) else ""


# How Anthropic, OpenAI, vLLM and llama.cpp word a prompt that does not fit.
_CONTEXT_PHRASES = (
    "prompt is too long",
    "context length",
    "context window",
    "context size",
    "maximum context",
    "context_length_exceeded",
    "exceed_context_size",
)


# Anthropic's and OpenAI's error types for money, which the hub's gateway answers with too.
_BUDGET_KINDS = ("billing_error", "insufficient_quota")


def status_error(
    provider: str, model: str, status: int | None, detail: str, *, key_env: str, retries: int
) -> ProviderError:
    """The error for an HTTP error status the client gave up on (or never retried)."""
    if status == 402 or any(kind in detail for kind in _BUDGET_KINDS):
        return BudgetSpentError(provider, model, detail, status)
    if status is not None and (status in (408, 409, 429) or status >= 500):
        detail += f" (retried up to {retries} times)"
    if status in (401, 403):
        detail += f" (check the API key in ${key_env})"
        return ProviderAuthError(provider, model, detail, status)
    lowered = detail.lower()
    if status == 413 or (status == 400 and any(p in lowered for p in _CONTEXT_PHRASES)):
        return ContextTooLongError(provider, model, detail, status)
    return ProviderError(provider, model, detail, status)
