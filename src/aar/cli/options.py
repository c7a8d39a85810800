"""Parsing of ``KEY=VALUE`` command-line options into typed values."""

from __future__ import annotations

import json
from typing import Any

from aar.core.errors import ConfigError


def parse_value(text: str) -> Any:
    """JSON literals (numbers, true/false, null, lists) become values; anything else a string."""
    if text.lower() in {"none", "null"}:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_assignments(items: list[str], flag: str) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{flag} {item!r}: expected KEY=VALUE")
        options[key.strip()] = parse_value(value.strip())
    return options


def parse_method_assignments(items: list[str], methods: list[str]) -> dict[str, dict[str, Any]]:
    """``confident.keep_fraction=0.3`` → ``{"confident": {"keep_fraction": 0.3}}``."""
    nested: dict[str, dict[str, Any]] = {}
    for key, value in parse_assignments(items, "--method-option").items():
        method, sep, option = key.partition(".")
        if not sep:
            raise ConfigError(f"--method-option {key!r}: expected METHOD.KEY=VALUE")
        if method not in methods:
            raise ConfigError(
                f"--method-option {key!r}: method {method!r} is not among those run "
                f"({', '.join(methods)})"
            )
        nested.setdefault(method, {})[option] = value
    return nested
