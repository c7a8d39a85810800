"""What a model's tokens cost: a price table keyed by model name or glob.

Shared by the researchers' providers (a running total) and the hub's LLM gateway (the
metered spend that budgets stop on).

    table = PriceTable.default().updated(PriceTable.from_toml("prices.toml"))
    table.cost("claude-sonnet-4-5-20250929", usage)   # USD

Prices are USD per million tokens. A TOML file (or dict) maps a model name or glob pattern to
its prices, or to ``"free"`` for a local endpoint::

    ["claude-sonnet-4-5*"]
    input = 3.0
    output = 15.0
    cache_read = 0.30     # optional: defaults to the input price
    cache_write = 3.75    # optional: defaults to the input price

    "Qwen/*" = "free"

An exact name wins over patterns, and the longest matching pattern over shorter ones. A model
the table does not know costs 0.0, and the table logs one warning per such model.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aar.core.errors import ConfigError
from aar.core.tomlfile import read_toml
from aar.core.usage import Usage, glob_lookup

log = logging.getLogger(__name__)


class PriceTableError(ConfigError):
    """A price table file or entry is missing or invalid."""


_PER_TOKEN = 1e-6


@dataclass(frozen=True)
class Price:
    """USD per million tokens."""

    input: float
    output: float
    cache_read: float
    cache_write: float

    def cost(self, usage: Usage) -> float:
        return _PER_TOKEN * (
            usage.input_tokens * self.input
            + usage.output_tokens * self.output
            + usage.cache_read_tokens * self.cache_read
            + usage.cache_write_tokens * self.cache_write
        )


FREE = Price(0.0, 0.0, 0.0, 0.0)


def _anthropic(input_: float, output: float) -> Price:
    # Anthropic bills 5-minute cache writes at 1.25× and cache reads at 0.1× the input price.
    return Price(input_, output, cache_read=round(input_ * 0.1, 6), cache_write=input_ * 1.25)


def _openai(input_: float, output: float, cached: float) -> Price:
    # OpenAI caches automatically: writes cost the input price, reads the cached price.
    return Price(input_, output, cache_read=cached, cache_write=input_)


# List prices as of writing (late 2025), for a rough running total: override them with a
# TOML file (ProviderConfig.prices) when they change or when your contract differs.
DEFAULT_PRICES: dict[str, Price] = {
    "claude-opus-4-2025*": _anthropic(15.0, 75.0),
    "claude-opus-4-1*": _anthropic(15.0, 75.0),
    "claude-opus-4-5*": _anthropic(5.0, 25.0),
    "claude-opus-4-6*": _anthropic(5.0, 25.0),
    "claude-sonnet-4-2025*": _anthropic(3.0, 15.0),
    "claude-sonnet-4-5*": _anthropic(3.0, 15.0),
    "claude-sonnet-4-6*": _anthropic(3.0, 15.0),
    "claude-haiku-4-5*": _anthropic(1.0, 5.0),
    "gpt-4o": _openai(2.5, 10.0, 1.25),
    "gpt-4o-2024-*": _openai(2.5, 10.0, 1.25),
    "gpt-4o-mini*": _openai(0.15, 0.60, 0.075),
    "gpt-4.1*": _openai(2.0, 8.0, 0.50),
    "gpt-4.1-mini*": _openai(0.40, 1.60, 0.10),
    "gpt-4.1-nano*": _openai(0.10, 0.40, 0.025),
    "gpt-5": _openai(1.25, 10.0, 0.125),
    "gpt-5-2025-*": _openai(1.25, 10.0, 0.125),
    "gpt-5-codex*": _openai(1.25, 10.0, 0.125),
    "gpt-5-mini*": _openai(0.25, 2.0, 0.025),
    "gpt-5-nano*": _openai(0.05, 0.40, 0.005),
    "scripted*": FREE,
}


class PriceTable:
    """Model name or glob → ``Price``; see the module docstring."""

    def __init__(self, prices: Mapping[str, Price]) -> None:
        self.prices = dict(prices)
        self._warned: set[str] = set()

    @classmethod
    def default(cls) -> PriceTable:
        return cls(DEFAULT_PRICES)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "price table") -> PriceTable:
        """Parse ``{pattern: {input, output[, cache_read, cache_write]} | "free"}``."""
        return cls(
            {
                pattern: _parse_price(value, f"{source}: {pattern!r}")
                for pattern, value in data.items()
            }
        )

    @classmethod
    def from_toml(cls, path: Path | str) -> PriceTable:
        path = Path(path)
        return cls.from_dict(read_toml(path, "price table", PriceTableError), source=str(path))

    def updated(self, other: PriceTable) -> PriceTable:
        """This table with ``other``'s entries added or replaced."""
        return PriceTable({**self.prices, **other.prices})

    def lookup(self, model: str) -> Price | None:
        price: Price | None = glob_lookup(self.prices, model)
        return price

    def cost(self, model: str, usage: Usage) -> float:
        """USD for ``usage`` of ``model``; 0.0 (and one warning) for a model not in the table."""
        price = self.lookup(model)
        if price is None:
            if model not in self._warned:
                self._warned.add(model)
                log.warning("no price for model %r: its calls count as free", model)
            return 0.0
        return price.cost(usage)


def _parse_price(value: object, where: str) -> Price:
    if value == "free":
        return FREE
    if not isinstance(value, Mapping):
        raise PriceTableError(f'{where}: expected a table of prices or "free", got {value!r}')
    unknown = set(value) - {"input", "output", "cache_read", "cache_write"}
    if unknown or "input" not in value or "output" not in value:
        raise PriceTableError(
            f"{where}: needs input and output (USD per million tokens), optionally cache_read "
            f"and cache_write; got keys {sorted(value)}"
        )
    numbers = {key: _non_negative(value[key], f"{where}.{key}") for key in value}
    return Price(
        input=numbers["input"],
        output=numbers["output"],
        cache_read=numbers.get("cache_read", numbers["input"]),
        cache_write=numbers.get("cache_write", numbers["input"]),
    )


def _non_negative(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise PriceTableError(f"{where}: expected a non-negative number, got {value!r}")
    return float(value)
