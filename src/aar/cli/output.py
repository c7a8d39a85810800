"""Consoles for command output: tables never squeezed below a readable width."""

from __future__ import annotations

from rich.console import Console

MIN_WIDTH = 120


def stdout_console() -> Console:
    console = Console()
    if not console.is_terminal:  # piped or captured: rich would assume 80 columns
        console = Console(width=max(console.width, MIN_WIDTH))
    return console


def stderr_console() -> Console:
    return Console(stderr=True)
