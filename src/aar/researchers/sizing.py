"""How many tokens the next request will take, before it is sent.

    sizer = RequestSizer(provider)
    needed = sizer.estimate(system, messages, tools)     # tokens of the prompt about to go
    completion = provider.complete(system, messages, tools)
    messages.append(completion.message)
    sizer.observe(messages, completion.usage)            # the exact size of what was sent

A server that fails a request for its size fails the whole step, so the research loop sizes
each request first and compacts its history before it would overflow. The estimate is the
last prompt's exact size (its usage) plus the answer's tokens, plus a deliberately high guess
for what was appended since (tool results, mostly); with no usage to go on (a server that
reports none, or a fresh context) the guess covers the whole request. Near the limit the
provider's own counter, where it has one (Anthropic's ``count_tokens``), replaces the guess.

The guess, ``guess_tokens``, splits text into words, digits, whitespace and symbol runs: a
token per digit (Qwen's tokenizer splits numbers into single digits), per six letters of a
word, per two symbols, per whitespace run that does not join the next word; plus 5 %. Against
Qwen2.5's tokenizer (benchmarks/RESULTS.md) it is 1.05–1.25 times the true count for prose,
code, tool schemas, ``ls -l`` and tables of numbers alike, so a small context errs towards
compacting early rather than overflowing.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence

from aar.core.usage import Usage
from aar.researchers.providers.base import (
    Block,
    Message,
    Provider,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolSpec,
    ToolUseBlock,
)

PER_MESSAGE_TOKENS = 8
"""Role markers and separators a chat template adds around each message."""

MARGIN = 1.05
"""Headroom over the piece count, which is exact for tables of digits."""

# Words, single digits, whitespace runs, symbol runs.
_PIECES = re.compile(r"[^\W\d_]+|\d|\s+|[^\w\s]+|_+")

EXACT_FROM = 0.6
"""Ask the provider's counter once the guess passes this share of the limit."""


def guess_tokens(text: str) -> int:
    """A count of tokens at or above the true one for the tokenizers in use (see module)."""
    count = 0
    for match in _PIECES.finditer(text):
        piece = match.group()
        if piece[0].isalpha():
            count += (len(piece) + 5) // 6
        elif piece[0].isdigit():
            count += 1
        elif piece.isspace():
            after = text[match.end() : match.end() + 1]
            # One space before a word or a symbol joins it; other whitespace is a token.
            count += len(piece) > 1 or after.isdigit() or not after
        else:
            count += (len(piece) + 1) // 2
    return math.ceil(count * MARGIN)


def block_text(block: Block) -> str:
    """The characters of a block that reach the model."""
    if isinstance(block, TextBlock):
        return block.text
    if isinstance(block, ToolUseBlock):
        return block.name + json.dumps(block.input)
    if isinstance(block, ToolResultBlock):
        return block.content
    if isinstance(block, ThinkingBlock):
        return block.thinking
    return ""


def guess_messages(messages: Sequence[Message]) -> int:
    return sum(
        PER_MESSAGE_TOKENS + sum(guess_tokens(block_text(b)) for b in m.content) for m in messages
    )


def guess_request(system: str, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> int:
    specs = json.dumps([[t.name, t.description, t.parameters] for t in tools])
    return guess_tokens(system) + guess_tokens(specs) + guess_messages(messages)


class RequestSizer:
    """Sizes a growing conversation from the last exact prompt size plus a guess for the rest."""

    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        self._known_tokens = 0
        self._known_messages = 0

    def observe(self, messages: Sequence[Message], usage: Usage) -> None:
        """Record the exact size of the request just answered; ``messages`` ends with the
        answer, whose output tokens are then known too."""
        if usage.prompt_tokens <= 0:
            self.reset()
            return
        self._known_tokens = usage.prompt_tokens + usage.output_tokens
        self._known_messages = len(messages)

    def reset(self) -> None:
        """Forget the known prefix (after the history was replaced)."""
        self._known_tokens = self._known_messages = 0

    def estimate(
        self,
        system: str,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        limit: int,
    ) -> int:
        """Tokens of the request ``(system, messages, tools)``; exact near ``limit`` where the
        provider can count."""
        if self._known_messages and len(messages) >= self._known_messages:
            guess = self._known_tokens + guess_messages(messages[self._known_messages :])
        else:
            guess = guess_request(system, messages, tools)
        if guess < EXACT_FROM * limit:
            return guess
        exact = self.provider.count_tokens(system, messages, tools)
        return guess if exact is None else exact
