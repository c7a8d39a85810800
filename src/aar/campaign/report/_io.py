"""Atomic file writes for the report: a reader never sees half a file, even after a crash.

The report's pages, charts and ``summary.json`` all go through it:

    write_atomic(Path("report/index.html"), page.encode())
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

MODE = 0o644
"""mkstemp makes files private (0600); a report is meant to be read by others."""


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            os.fchmod(f.fileno(), MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
