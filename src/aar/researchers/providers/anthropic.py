"""The Anthropic provider: Claude through the Messages API and the official ``anthropic`` client.

    provider = AnthropicProvider("claude-sonnet-4-5", api_key=os.environ["ANTHROPIC_API_KEY"])
    completion = provider.complete(system, history, tools)

Usually built by ``make_provider(ProviderConfig(kind="anthropic", model=...))``. The client
retries 408/409/429/5xx/529 with exponential backoff (honouring ``retry-after``) up to
``max_retries`` times, and timeouts too. Every request marks the system prompt and the last
message block with ``cache_control``, so a long loop re-reads its growing prefix from the
prompt cache. With ``thinking_budget`` set, requests enable extended thinking; its blocks come
back as ``ThinkingBlock``s in ``Completion.message`` and must stay in the history.

With ``text_tool_calls=True`` (off by default: Claude calls tools natively) a reply without
``tool_use`` blocks is read for calls written as text (``textcalls``), for other models behind
an Anthropic-compatible endpoint; such calls go back as their text and their results as
``<tool_response>`` text, never as ``tool_use``/``tool_result`` blocks.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import anthropic
from anthropic.types import Message as WireMessage

from aar.core.prices import PriceTable
from aar.core.usage import Usage
from aar.researchers.providers.base import (
    Block,
    Completion,
    Message,
    Provider,
    ProviderConfigError,
    ProviderError,
    TextBlock,
    ThinkingBlock,
    ToolCall,
    ToolResultBlock,
    ToolSpec,
    ToolUseBlock,
    capped_client,
    context_window_for,
    error_detail,
    joined_text,
    joined_thinking,
    status_error,
    unix_client,
)
from aar.researchers.providers.textcalls import (
    parse_text_calls,
    text_call_names,
    text_results,
    tool_use_blocks,
)

_CACHE = {"type": "ephemeral"}
# The API's smallest thinking budget.
MIN_THINKING_BUDGET = 1024


class AnthropicProvider(Provider):
    """Claude models; see the module docstring."""

    name: ClassVar[str] = "anthropic"

    def __init__(
        self,
        model: str,
        *,
        api_key: str,
        api_key_env: str = "ANTHROPIC_API_KEY",
        base_url: str | None = None,
        unix_socket: Path | None = None,
        max_retries: int = 5,
        timeout_s: float = 600.0,
        context_window: int | None = None,
        thinking_budget: int | None = None,
        temperature: float | None = None,
        prices: PriceTable | None = None,
        text_tool_calls: bool = False,
    ) -> None:
        if thinking_budget is not None and thinking_budget < MIN_THINKING_BUDGET:
            raise ProviderConfigError(
                f"thinking_budget must be at least {MIN_THINKING_BUDGET} tokens, "
                f"got {thinking_budget}"
            )
        if thinking_budget is not None and temperature is not None:
            # The API refuses a temperature with extended thinking on.
            raise ProviderConfigError("temperature cannot be set with thinking_budget")
        if temperature is not None and not 0 <= temperature <= 1:
            raise ProviderConfigError(
                f"temperature must be in [0, 1] for Claude, got {temperature}"
            )
        self.temperature = temperature
        self.model = model
        self.context_window = context_window_for(model, context_window)
        self.thinking_budget = thinking_budget
        self.text_tool_calls = text_tool_calls
        self.prices = prices or PriceTable.default()
        self._key_env = api_key_env
        self._timeout_s = timeout_s
        self._client = anthropic.Anthropic(
            api_key=api_key,
            base_url=base_url,
            max_retries=max_retries,
            timeout=timeout_s,
            http_client=unix_client(anthropic.DefaultHttpxClient, unix_socket),
        )

    def complete(
        self,
        system: str,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        *,
        max_tokens: int = 4096,
        timeout_s: float | None = None,
    ) -> Completion:
        """The next turn; with thinking on, ``max_tokens`` is on top of the thinking budget."""
        request = self._request(system, messages, tools, max_tokens)
        start = time.monotonic()
        try:
            client = capped_client(self._client, self._timeout_s, timeout_s)
            response = client.messages.create(**request)
        except anthropic.APIError as error:
            raise self._error(error) from None
        return self._completion(response, tools, time.monotonic() - start)

    def count_tokens(
        self, system: str, messages: Sequence[Message], tools: Sequence[ToolSpec]
    ) -> int | None:
        """The API's own count of the prompt (free), or None where the endpoint cannot count
        (a proxy or compatible server without the route): the caller then estimates."""
        request = self._request(system, messages, tools, 1)
        counted = {k: request[k] for k in ("model", "messages", "system", "tools", "thinking")
                   if k in request}  # fmt: skip
        try:
            return self._client.messages.count_tokens(**counted).input_tokens
        except anthropic.APIError:
            # A failed count costs an estimate, never the step: the request itself will say
            # what is wrong with the endpoint or key.
            return None

    def close(self) -> None:
        self._client.close()

    def _request(
        self, system: str, messages: Sequence[Message], tools: Sequence[ToolSpec], max_tokens: int
    ) -> dict[str, Any]:
        request: dict[str, Any] = {
            "model": self.model,
            "max_tokens": max_tokens + (self.thinking_budget or 0),
            "messages": _wire_messages(messages),
        }
        if system:
            # The cache prefix runs tools → system → messages, so this mark caches the tools too.
            request["system"] = [{"type": "text", "text": system, "cache_control": _CACHE}]
        if tools:
            request["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.parameters}
                for t in tools
            ]
        if self.temperature is not None:
            request["temperature"] = self.temperature
        if self.thinking_budget:
            request["thinking"] = {"type": "enabled", "budget_tokens": self.thinking_budget}
        return request

    def _completion(
        self, response: WireMessage, tools: Sequence[ToolSpec], duration_s: float
    ) -> Completion:
        blocks = _neutral_blocks(response)
        calls = tuple(_tool_call(block) for block in response.content if block.type == "tool_use")
        stop_reason = response.stop_reason or "end_turn"
        if not calls and self.text_tool_calls:
            calls = parse_text_calls(joined_text(blocks), {tool.name for tool in tools})
            blocks += tool_use_blocks(calls)
            stop_reason = "tool_use" if calls else stop_reason
        wire_usage = response.usage
        usage = Usage(
            input_tokens=wire_usage.input_tokens,
            output_tokens=wire_usage.output_tokens,
            cache_read_tokens=wire_usage.cache_read_input_tokens or 0,
            cache_write_tokens=wire_usage.cache_creation_input_tokens or 0,
        )
        return Completion(
            text=joined_text(blocks),
            tool_calls=calls,
            message=Message("assistant", blocks),
            usage=usage,
            cost_usd=self.prices.cost(self.model, usage),
            stop_reason=stop_reason,
            model=response.model or self.model,
            duration_s=duration_s,
            thinking=joined_thinking(blocks),
        )

    def _error(self, error: anthropic.APIError) -> ProviderError:
        if isinstance(error, anthropic.APITimeoutError):
            return ProviderError(
                self.name,
                self.model,
                f"timed out after {self._timeout_s}s "
                f"(retried up to {self._client.max_retries} times)",
            )
        if isinstance(error, anthropic.APIConnectionError):
            return ProviderError(
                self.name, self.model, f"cannot reach {self._client.base_url}: {error}"
            )
        status = error.status_code if isinstance(error, anthropic.APIStatusError) else None
        detail = error_detail(error.body) or str(error)
        return status_error(
            self.name,
            self.model,
            status,
            detail,
            key_env=self._key_env,
            retries=self._client.max_retries,
        )


def _wire_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    text_calls = text_call_names(messages)
    contents = [_wire_content(m.content, text_calls) for m in messages]
    # Caching the whole conversation so far: the next call re-reads it at a tenth of the price.
    if contents:
        for block in reversed(contents[-1]):
            if block["type"] not in ("thinking", "redacted_thinking"):
                block["cache_control"] = _CACHE
                break
    return [{"role": m.role, "content": c} for m, c in zip(messages, contents, strict=True)]


def _wire_content(blocks: Sequence[Block], text_calls: dict[str, str]) -> list[dict[str, Any]]:
    """The blocks on the wire; calls read from text are in the text already, and their
    results go first as one ``<tool_response>`` text block."""
    wired = [_wire_block(b) for b in blocks if _sendable(b, text_calls)]
    results = text_results(blocks, text_calls)
    return [{"type": "text", "text": results}, *wired] if results else wired


def _sendable(block: Block, text_calls: dict[str, str]) -> bool:
    if isinstance(block, ToolUseBlock):
        return not block.from_text
    if isinstance(block, ToolResultBlock):
        return block.tool_use_id not in text_calls
    # The API rejects empty text blocks.
    return not (isinstance(block, TextBlock) and not block.text)


def _wire_block(block: Block) -> dict[str, Any]:
    if isinstance(block, TextBlock):
        return {"type": "text", "text": block.text}
    if isinstance(block, ToolUseBlock):
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
    if isinstance(block, ToolResultBlock):
        result: dict[str, Any] = {
            "type": "tool_result",
            "tool_use_id": block.tool_use_id,
            "content": block.content,
        }
        if block.is_error:
            result["is_error"] = True
        return result
    if block.redacted:
        return {"type": "redacted_thinking", "data": block.signature}
    return {"type": "thinking", "thinking": block.thinking, "signature": block.signature}


def _tool_call(block: Any) -> ToolCall:
    """The API sends ``input`` as an object; anything else is reported back to the model."""
    if isinstance(block.input, dict):
        return ToolCall(block.id, block.name, block.input, json.dumps(block.input))
    raw = block.input if isinstance(block.input, str) else json.dumps(block.input)
    return ToolCall(block.id, block.name, None, raw, "the arguments are not a JSON object")


def _neutral_blocks(response: WireMessage) -> tuple[Block, ...]:
    blocks: list[Block] = []
    for block in response.content:
        if block.type == "text":
            if block.text:
                blocks.append(TextBlock(block.text))
        elif block.type == "tool_use":
            arguments = block.input if isinstance(block.input, dict) else {}
            blocks.append(ToolUseBlock(block.id, block.name, arguments))
        elif block.type == "thinking":
            blocks.append(ThinkingBlock(block.thinking, block.signature))
        elif block.type == "redacted_thinking":
            blocks.append(ThinkingBlock("", block.data, redacted=True))
    return tuple(blocks)
