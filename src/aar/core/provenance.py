"""Where a number came from: the code's commit, whether the tree was dirty, library versions.

    code_provenance()   # {"commit": "3e99cee…", "dirty": "false"} ("unknown" outside git)
    library_versions()  # {"python": "3.11.7", "numpy": "2.1.3", "torch": "2.13.0+cpu", ...}

Records and cache keys carry both, so a result can be traced to the exact code and software
that produced it, and a cached artifact is never reused by other code. The commit is read
with ``git`` from the checkout that holds this package; an installed wheel (or a sandbox,
which sees the package without its checkout) says ``unknown``. A dirty tree also carries
``diff``: a digest of ``git diff HEAD``, so two different uncommitted states never share a
cache entry. Untracked files count for neither: a stray file beside the code (a secrets file,
a run's output) changes no result, and would otherwise void every cached artifact.
"""

from __future__ import annotations

import hashlib
import platform
import subprocess
import sys
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

UNKNOWN = "unknown"
TRACKED_LIBRARIES = ("aar", "numpy", "torch", "transformers", "scikit-learn", "pydantic")
GIT_SECONDS = 5.0


@cache
def code_provenance() -> dict[str, str]:
    """``commit``, ``dirty`` ("true"/"false"/"unknown") and, when dirty, ``diff``."""
    package = Path(__file__).resolve().parents[1]
    if _git(package, "ls-files", "--error-unmatch", str(package / "__init__.py")) is None:
        return {"commit": UNKNOWN, "dirty": UNKNOWN}
    commit = _git(package, "rev-parse", "HEAD")
    status = _git(package, "status", "--porcelain", "--untracked-files=no")
    if commit is None or status is None:
        return {"commit": UNKNOWN, "dirty": UNKNOWN}
    found = {"commit": commit.strip(), "dirty": "true" if status.strip() else "false"}
    if status.strip():
        diff = _git(package, "diff", "HEAD", "--binary") or ""
        found["diff"] = hashlib.sha256(diff.encode()).hexdigest()[:16]
    return found


@cache
def library_versions() -> dict[str, str]:
    """Python, the platform and the versions of the libraries that shape a result."""
    found = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in TRACKED_LIBRARIES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def _git(folder: Path, *args: str) -> str | None:
    """What ``git args`` prints in ``folder``, or None when git is missing or fails."""
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), *args],
            capture_output=True,
            text=True,
            timeout=GIT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None
