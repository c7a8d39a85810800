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
    try:
        return cls.model_validate(_nest(options))
    except ValidationError as err:
        first = err.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        if first["type"] == "extra_forbidden":
            known = ", ".join(sorted(cls.model_fields)) or "(none)"
            raise ConfigError(f"{owner}: unknown option {key!r}; known options: {known}") from None
        raise ConfigError(f"{owner}: option {key!r}: {first['msg']}") from None


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
