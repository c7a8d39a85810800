"""``aar tasks`` and ``aar methods``: what is registered, with each option and its default."""

from __future__ import annotations

import inspect

from pydantic import BaseModel
from rich.table import Table

from aar.cli.output import stdout_console

console = stdout_console()


def _options(config: type[BaseModel]) -> str:
    """Every option with its default, nested ones as the dotted keys a user types."""
    return ", ".join(f"{k}={v!r}" for k, v in _flatten(config().model_dump(mode="json"))) or "-"


def _flatten(values: dict[str, object], prefix: str = "") -> list[tuple[str, object]]:
    flat: list[tuple[str, object]] = []
    for key, value in values.items():
        if isinstance(value, dict):
            flat += _flatten(value, f"{prefix}{key}.")
        else:
            flat.append((f"{prefix}{key}", value))
    return flat


def _summary(obj: object) -> str:
    doc = inspect.getdoc(inspect.getmodule(obj)) or ""
    return doc.split("\n\n")[0].replace("\n", " ")


def tasks() -> None:
    """List the registered tasks and their options."""
    table = Table("task", "what", "options (-o KEY=VALUE)", show_lines=True)
    from aar.w2s.tasks import TASKS

    for name in TASKS:
        cls = TASKS.get(name)
        table.add_row(name, _summary(cls), _options(cls.Config))
    console.print(table)


def methods() -> None:
    """List the registered weak-to-strong methods and their options."""
    table = Table("method", "what", "options (--method-option METHOD.KEY=VALUE)", show_lines=True)
    from aar.w2s.methods import METHODS

    for name in METHODS:
        cls = METHODS.get(name)
        table.add_row(name, _summary(cls), _options(cls.Config))
    console.print(table)
