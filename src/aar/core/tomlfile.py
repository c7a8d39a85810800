"""Read a TOML file a user wrote, with errors that name the file and what it is for.

data = read_toml(Path("gateway.toml"), "gateway file")     # ConfigError when bad
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from aar.core.errors import ConfigError


def read_toml(path: Path, what: str, error: type[ConfigError] = ConfigError) -> dict[str, Any]:
    """The parsed file; ``error`` naming ``what`` and ``path`` when it is missing or not TOML."""
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise error(f"{what} {path} does not exist") from None
    except tomllib.TOMLDecodeError as err:
        raise error(f"{what} {path} is not valid TOML: {err}") from None
