"""Token usage of model calls, and the name look-up that price and window tables share.

    Usage(input_tokens=900, output_tokens=120, cache_read_tokens=4000)
    glob_lookup({"claude-opus-4-6*": 5.0}, "claude-opus-4-6-20260101")   # 5.0

``input_tokens`` excludes cache reads and writes (as Anthropic reports it); ``prompt_tokens``
is the whole prompt.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Usage:
    """Tokens of one or more calls; ``input_tokens`` excludes cache reads and writes."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
        )

    @property
    def prompt_tokens(self) -> int:
        """The whole prompt, cached or not."""
        return self.input_tokens + self.cache_read_tokens + self.cache_write_tokens


def glob_lookup(table: dict[str, Any], name: str) -> Any | None:
    """``table[name]``, else the value of the longest glob pattern that matches ``name``."""
    if name in table:
        return table[name]
    matches = [pattern for pattern in table if fnmatch.fnmatchcase(name, pattern)]
    return table[max(matches, key=len)] if matches else None
