"""LLM providers: one neutral chat-with-tools interface over Anthropic, OpenAI-compatible
servers and a scripted stand-in.

    from aar.researchers.providers import Message, ProviderConfig, TextBlock, make_provider

    with make_provider(ProviderConfig(kind="openai", model="qwen3", base_url=URL)) as provider:
        completion = provider.complete("You are a researcher.",
                                       [Message("user", (TextBlock("Hi"),))], tools=[])
        completion.text, completion.tool_calls, completion.usage, completion.cost_usd

Modules: ``base`` (types, errors, the ``Provider`` interface), ``anthropic`` and
``openai_compat`` (need ``pip install 'aar[llm]'``, imported only when used), ``scripted``,
``registry`` (``ProviderConfig``, ``make_provider``), ``textcalls`` (tool calls a
model wrote as text), ``wire`` (a fake HTTP server speaking both APIs, for tests; its SSE streams in
``wire_stream``).
"""

from aar.core.prices import Price, PriceTable
from aar.core.usage import Usage
from aar.researchers.providers.base import (
    Block,
    BudgetSpentError,
    Completion,
    ContextTooLongError,
    Message,
    Provider,
    ProviderAuthError,
    ProviderConfigError,
    ProviderError,
    TextBlock,
    ThinkingBlock,
    ToolCall,
    ToolResultBlock,
    ToolSpec,
    ToolUseBlock,
)
from aar.researchers.providers.registry import PROVIDERS, ProviderConfig, make_provider
from aar.researchers.providers.scripted import (
    ScriptedCall,
    ScriptedProvider,
    ScriptExhaustedError,
    Turn,
)

__all__ = [
    "PROVIDERS",
    "Block",
    "BudgetSpentError",
    "Completion",
    "ContextTooLongError",
    "Message",
    "Price",
    "PriceTable",
    "Provider",
    "ProviderAuthError",
    "ProviderConfig",
    "ProviderConfigError",
    "ProviderError",
    "ScriptExhaustedError",
    "ScriptedCall",
    "ScriptedProvider",
    "TextBlock",
    "ThinkingBlock",
    "ToolCall",
    "ToolResultBlock",
    "ToolSpec",
    "ToolUseBlock",
    "Turn",
    "Usage",
    "make_provider",
]
