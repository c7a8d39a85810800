"""The OpenAI-compatible provider: Chat Completions through the official ``openai`` client.

    provider = OpenAIProvider("Qwen/Qwen3-8B", base_url="http://localhost:8000/v1",
                              context_window=32768)
    completion = provider.complete(system, history, tools)

Works with OpenAI itself and with any server that speaks Chat Completions with tools: vLLM
(``--enable-auto-tool-choice``), llama.cpp's server (``--jinja``), Ollama. Usually built by
``make_provider(ProviderConfig(kind="openai", ...))``. The client retries 408/409/429/5xx and
timeouts with exponential backoff up to ``max_retries`` times.

Translation: tools become ``function`` tools; tool results become ``role: "tool"`` messages
(an error result is prefixed with ``ERROR:``, as the format has no error flag); thinking blocks
are not sent back. Arguments that are not a JSON object give a ``ToolCall`` with
``arguments=None`` and an ``error`` to show the model. Reported cached prompt tokens become
``cache_read_tokens`` (and leave ``input_tokens``); a server's ``reasoning_content`` becomes
``Completion.thinking``.

Text tool calls (``text_tool_calls=True``, the default): a reply without native tool calls is
read for calls the model wrote as text (``textcalls``: ``<tool_call>`` tags, fenced JSON...),
so a model behind a server with no tool-call parser can still work. Such a turn goes back
as the text the model wrote, without ``tool_calls``, and its results as one ``role: "user"``
message of ``<tool_response>`` blocks, which servers without tool support accept. A reply
with native calls is taken as it is, its text unread.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import openai
from openai.types.chat import ChatCompletion, ChatCompletionMessage

from aar.core.prices import PriceTable
from aar.core.usage import Usage
from aar.researchers.providers.base import (
    Block,
    Completion,
    Message,
    Provider,
    ProviderError,
    TextBlock,
    ToolCall,
    ToolResultBlock,
    ToolSpec,
    ToolUseBlock,
    capped_client,
    context_window_for,
    error_detail,
    parse_arguments,
    status_error,
    unix_client,
)
from aar.researchers.providers.textcalls import (
    parse_text_calls,
    text_call_names,
    text_results,
    tool_use_blocks,
)

# OpenAI's own newer models reject max_tokens; many local servers know only max_tokens.
MaxTokensField = Literal["max_tokens", "max_completion_tokens"]

_STOP_REASONS = {
    "stop": "end_turn",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "length": "max_tokens",
    "content_filter": "refusal",
}


class OpenAIProvider(Provider):
    """Any OpenAI-compatible Chat Completions endpoint; see the module docstring."""

    name: ClassVar[str] = "openai"

    def __init__(
        self,
        model: str,
        *,
        api_key: str = "none",
        api_key_env: str = "OPENAI_API_KEY",
        base_url: str | None = None,
        unix_socket: Path | None = None,
        max_retries: int = 5,
        timeout_s: float = 600.0,
        context_window: int | None = None,
        max_tokens_field: MaxTokensField = "max_tokens",
        temperature: float | None = None,
        prices: PriceTable | None = None,
        text_tool_calls: bool = True,
    ) -> None:
        self.model = model
        self.text_tool_calls = text_tool_calls
        self.context_window = context_window_for(model, context_window)
        self.prices = prices or PriceTable.default()
        self.max_tokens_field = max_tokens_field
        self.temperature = temperature
        self._key_env = api_key_env
        self._timeout_s = timeout_s
        self._client = openai.OpenAI(
            api_key=api_key,
            base_url=base_url,
            max_retries=max_retries,
            timeout=timeout_s,
            http_client=unix_client(openai.DefaultHttpxClient, unix_socket),
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
        request: dict[str, Any] = {
            "model": self.model,
            "messages": _wire_messages(system, messages),
            self.max_tokens_field: max_tokens,
        }
        if self.temperature is not None:
            request["temperature"] = self.temperature
        if tools:
            request["tools"] = [_wire_tool(tool) for tool in tools]
        start = time.monotonic()
        try:
            client = capped_client(self._client, self._timeout_s, timeout_s)
            response = client.chat.completions.create(**request)
        except openai.APIError as error:
            raise self._error(error) from None
        return self._completion(response, tools, time.monotonic() - start)

    def close(self) -> None:
        self._client.close()

    def _completion(
        self, response: ChatCompletion, tools: Sequence[ToolSpec], duration_s: float
    ) -> Completion:
        if not response.choices:
            raise ProviderError(self.name, self.model, "the response has no choices")
        choice = response.choices[0]
        blocks, calls = _neutral_turn(choice.message)
        if not calls and self.text_tool_calls and choice.message.content:
            calls = parse_text_calls(choice.message.content, {tool.name for tool in tools})
            blocks += tool_use_blocks(calls)
        usage = _usage(response)
        finish = choice.finish_reason or "stop"
        return Completion(
            text=choice.message.content or "",
            tool_calls=calls,
            message=Message("assistant", blocks),
            usage=usage,
            cost_usd=self.prices.cost(self.model, usage),
            # Some servers say "stop" while returning tool calls; the calls are what count.
            stop_reason="tool_use" if calls else _STOP_REASONS.get(finish, finish),
            model=response.model or self.model,
            duration_s=duration_s,
            thinking=_reasoning(choice.message),
        )

    def _error(self, error: openai.APIError) -> ProviderError:
        if isinstance(error, openai.APITimeoutError):
            retries = self._client.max_retries
            detail = f"timed out after {self._timeout_s}s (retried up to {retries} times)"
            return ProviderError(self.name, self.model, detail)
        if isinstance(error, openai.APIConnectionError):
            detail = f"cannot reach {self._client.base_url}: {error}"
            return ProviderError(self.name, self.model, detail)
        status = error.status_code if isinstance(error, openai.APIStatusError) else None
        # The client hands over the inner {"message", "type", "code"} object as the body.
        detail = error_detail({"error": error.body}) or str(error)
        if error.code == "context_length_exceeded" and status == 400:
            detail = f"context_length_exceeded: {detail}"
        return status_error(
            self.name,
            self.model,
            status,
            detail,
            key_env=self._key_env,
            retries=self._client.max_retries,
        )


def _wire_tool(tool: ToolSpec) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.parameters,
        },
    }


def _wire_messages(system: str, messages: Sequence[Message]) -> list[dict[str, Any]]:
    wire: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    text_calls = text_call_names(messages)
    for message in messages:
        if message.role == "assistant":
            wire.append(_wire_assistant(message.content))
        else:
            wire.extend(_wire_user(message.content, text_calls))
    return wire


def _wire_assistant(blocks: Sequence[Block]) -> dict[str, Any]:
    text = "\n\n".join(b.text for b in blocks if isinstance(b, TextBlock) and b.text)
    wire: dict[str, Any] = {"role": "assistant", "content": text or None}
    # Calls read from text are in the text already: the server may not know tool_calls.
    calls = [b for b in blocks if isinstance(b, ToolUseBlock) and not b.from_text]
    if calls:
        wire["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": json.dumps(call.input)},
            }
            for call in calls
        ]
    return wire


def _wire_user(blocks: Sequence[Block], text_calls: dict[str, str]) -> list[dict[str, Any]]:
    """Native results as tool messages, then one user message: the results of text calls
    (as ``<tool_response>`` text) and the text blocks."""
    # Tool messages must directly follow the assistant's tool calls, so they go first.
    wire: list[dict[str, Any]] = [
        {
            "role": "tool",
            "tool_call_id": b.tool_use_id,
            "content": f"ERROR: {b.content}" if b.is_error else b.content,
        }
        for b in blocks
        if isinstance(b, ToolResultBlock) and b.tool_use_id not in text_calls
    ]
    texts = [text_results(blocks, text_calls)]
    texts += [b.text for b in blocks if isinstance(b, TextBlock)]
    text = "\n\n".join(t for t in texts if t)
    if text:
        wire.append({"role": "user", "content": text})
    return wire


def _neutral_turn(message: ChatCompletionMessage) -> tuple[tuple[Block, ...], tuple[ToolCall, ...]]:
    blocks: list[Block] = [TextBlock(message.content)] if message.content else []
    calls: list[ToolCall] = []
    for index, wire_call in enumerate(message.tool_calls or ()):
        if wire_call.type != "function":
            continue
        # Some local servers leave the id out; the tool result must still name its call.
        call_id = wire_call.id or f"call_{index}_{uuid.uuid4().hex[:12]}"
        raw = wire_call.function.arguments or ""
        arguments, problem = parse_arguments(raw)
        calls.append(ToolCall(call_id, wire_call.function.name, arguments, raw, problem))
        blocks.append(ToolUseBlock(call_id, wire_call.function.name, arguments or {}))
    return tuple(blocks), tuple(calls)


def _usage(response: ChatCompletion) -> Usage:
    if response.usage is None:
        return Usage()
    details = response.usage.prompt_tokens_details
    read = (details.cached_tokens or 0) if details else 0
    written = (details.cache_write_tokens or 0) if details else 0
    # prompt_tokens counts the whole prompt, cached parts included.
    return Usage(
        input_tokens=max(0, response.usage.prompt_tokens - read - written),
        output_tokens=response.usage.completion_tokens,
        cache_read_tokens=read,
        cache_write_tokens=written,
    )


def _reasoning(message: ChatCompletionMessage) -> str | None:
    # vLLM, llama.cpp and DeepSeek-style servers return the reasoning as an extra field.
    extra = message.model_extra or {}
    for key in ("reasoning_content", "reasoning"):
        value = extra.get(key)
        if isinstance(value, str) and value:
            return value
    return None
