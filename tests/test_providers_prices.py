"""Price tables: glob lookups (exact and longest pattern win), TOML loading with defaults and
"free", costs, malformed tables, and the one warning for an unknown model."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from aar.core.prices import FREE, Price, PriceTable, PriceTableError
from aar.core.usage import Usage

MILLION = Usage(input_tokens=1_000_000)


def test_default_table_prices_dated_names_and_prefers_the_longest_pattern() -> None:
    table = PriceTable.default()
    assert table.lookup("claude-sonnet-4-5-20250929") == Price(3.0, 15.0, 0.3, 3.75)
    assert table.lookup("claude-opus-4-6") == Price(5.0, 25.0, 0.5, 6.25)
    # "gpt-4.1-mini*" beats the shorter "gpt-4.1*"; the exact "gpt-4o" is not "gpt-4o-mini".
    assert table.cost("gpt-4.1-mini-2025-04-14", MILLION) == pytest.approx(0.40)
    assert table.cost("gpt-4.1-2025-04-14", MILLION) == pytest.approx(2.0)
    assert table.cost("gpt-4o", MILLION) == pytest.approx(2.5)
    assert table.cost("gpt-4o-mini", MILLION) == pytest.approx(0.15)


def test_cost_weights_every_kind_of_token() -> None:
    usage = Usage(input_tokens=10, output_tokens=20, cache_read_tokens=30, cache_write_tokens=40)
    price = Price(input=1.0, output=2.0, cache_read=3.0, cache_write=4.0)
    assert PriceTable({"m": price}).cost("m", usage) == pytest.approx((10 + 40 + 90 + 160) / 1e6)
    assert usage + usage == Usage(20, 40, 60, 80)
    assert usage.prompt_tokens == 80


def test_toml_table_laid_over_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(
        '"Qwen/*" = "free"\n'
        '["claude-opus-4-6*"]\ninput = 4.0\noutput = 20.0\n'
        '["my-endpoint-model"]\ninput = 1\noutput = 2\ncache_read = 0.5\n'
    )
    table = PriceTable.default().updated(PriceTable.from_toml(path))
    assert table.lookup("Qwen/Qwen3-8B") == FREE
    # Omitted cache prices default to the input price.
    assert table.lookup("claude-opus-4-6") == Price(4.0, 20.0, 4.0, 4.0)
    assert table.lookup("my-endpoint-model") == Price(1.0, 2.0, 0.5, 1.0)
    assert table.lookup("claude-haiku-4-5") == Price(1.0, 5.0, 0.1, 1.25)  # still the default


def test_unknown_model_is_free_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    table = PriceTable.default()
    with caplog.at_level(logging.WARNING, logger="aar.core.prices"):
        costs = [table.cost("mystery-model", MILLION) for _ in range(3)]
    assert costs == [0.0, 0.0, 0.0]
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings == ["no price for model 'mystery-model': its calls count as free"]


@pytest.mark.parametrize(
    ("toml", "complaint"),
    [
        ('["m"]\ninput = 1.0\n', "needs input and output"),
        ('["m"]\ninput = 1.0\noutput = 2.0\ncache = 3\n', "needs input and output"),
        ('["m"]\ninput = -1.0\noutput = 2.0\n', "non-negative number"),
        ('["m"]\ninput = "cheap"\noutput = 2.0\n', "non-negative number"),
        ('"m" = "gratis"\n', 'or "free"'),
        ("[m\n", "not valid TOML"),
    ],
)
def test_malformed_tables_are_config_errors(tmp_path: Path, toml: str, complaint: str) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(toml)
    with pytest.raises(PriceTableError, match=complaint):
        PriceTable.from_toml(path)


def test_a_missing_table_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(PriceTableError, match="does not exist"):
        PriceTable.from_toml(tmp_path / "nope.toml")
