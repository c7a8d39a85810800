"""Parse user-given options into a frozen pydantic config, with errors a person can act on.

    parse_config(VanillaConfig, {"epochs": "5"}, owner="method vanilla")

Unknown keys name the known ones; bad values name the key and the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from aar.core.errors import ConfigError

C = TypeVar("C", bound=BaseModel)


def parse_config(cls: type[C], options: Mapping[str, Any], owner: str) -> C:
    """``options`` (dotted keys allowed) applied on top of ``cls``'s defaults, validated."""
    try:
        defaults = cls().model_dump()
        return cls.model_validate(merge(defaults, _nest(options)))
    except ValidationError as err:
        first = err.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        if first["type"] == "extra_forbidden":
            known = ", ".join(sorted(cls.model_fields)) or "(none)"
            raise ConfigError(f"{owner}: unknown option {key!r}; known options: {known}") from None
        raise ConfigError(f"{owner}: option {key!r}: {first['msg']}") from None


def merge(defaults: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge ``overrides`` into ``defaults``.

    Nested options change only what they name: ``student.train.lr`` keeps the task's other
    student settings. A nested config whose ``kind`` changes is replaced, not merged, since
    the other kind has other fields.
    """
    merged = dict(defaults)
    for key, value in overrides.items():
        base = merged.get(key)
        if isinstance(base, dict) and isinstance(value, dict) and _same_kind(base, value):
            merged[key] = merge(base, value)
        else:
            merged[key] = value
    return merged


def _same_kind(base: Mapping[str, Any], value: Mapping[str, Any]) -> bool:
    return value.get("kind", base.get("kind")) == base.get("kind")


def _nest(options: Mapping[str, Any]) -> dict[str, Any]:
    """``{"student.train.lr": 0.1}`` → ``{"student": {"train": {"lr": 0.1}}}``."""
    nested: dict[str, Any] = {}
    for dotted, value in options.items():
        *parents, leaf = dotted.split(".")
        node = nested
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"option {dotted!r} conflicts with option {part!r}")
        node[leaf] = value
    return nested
