"""Finding an agent's executable on the host: given, from an environment variable, or on PATH.

    path = find_binary(None, "AAR_CLAUDE_BINARY", "claude", "the claude-code brain", hint)

Links are followed, so a symlinked install is bound into the sandbox by its real folder.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from aar.core.errors import ConfigError


def find_binary(explicit: Path | None, variable: str, command: str, who: str, hint: str) -> Path:
    """The executable ``command`` (ConfigError with ``hint`` when there is none)."""
    named = explicit or os.environ.get(variable) or shutil.which(command)
    if not named:
        raise ConfigError(f"{who} needs the {command} binary: {hint}")
    return Path(named).resolve()


def executable(path: Path, command: str, hint: str) -> Path:
    """``path`` if it is an executable file (ConfigError with ``hint`` if not)."""
    if not path.is_file() or not os.access(path, os.X_OK):
        raise ConfigError(f"no executable {command} binary at {path}: {hint}")
    return path
