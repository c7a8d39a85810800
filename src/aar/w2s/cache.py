"""On-disk cache of computed arrays (embeddings, weak labels, baselines), keyed by config hash.

    cache = ArtifactCache.default()              # $AAR_CACHE_DIR or ~/.cache/aar
    arrays = cache.load_or_compute("weak", key, compute)

``key`` is any JSON-able description of what produced the arrays. The cache adds the library
versions and, unless ``code_bound=False``, the code's commit and dirty flag
(``aar.core.provenance``) before hashing, so an artifact is never reused by other code or
other software. Embeddings pass ``code_bound=False``: they are a function of the encoder's
weights and the texts only, and recomputing them costs minutes after every commit. The full
key is stored beside the arrays so a cache folder can be read by a person. Writes are
atomic (a temporary file renamed into place), so concurrent workers never see half a file.
``refresh=True`` recomputes and overwrites instead of reading (``--no-cache``).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from aar.core.hashing import canonical_json, config_hash
from aar.core.provenance import code_provenance, library_versions

Arrays = dict[str, np.ndarray]


def default_cache_dir() -> Path:
    if explicit := os.environ.get("AAR_CACHE_DIR"):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "aar"


class ArtifactCache:
    """A folder of ``<kind>/<hash>.npz`` files; ``root=None`` disables caching entirely."""

    def __init__(self, root: Path | None, refresh: bool = False) -> None:
        self.root = root
        self.refresh = refresh

    @classmethod
    def default(cls, refresh: bool = False) -> ArtifactCache:
        return cls(default_cache_dir(), refresh)

    def with_refresh(self, refresh: bool) -> ArtifactCache:
        return ArtifactCache(self.root, refresh)

    def path(self, kind: str, key: Mapping[str, Any], code_bound: bool = True) -> Path | None:
        if self.root is None:
            return None
        return _file(self.root, kind, full_key(key, code_bound))

    def load_or_compute(
        self,
        kind: str,
        key: Mapping[str, Any],
        compute: Callable[[], Arrays],
        code_bound: bool = True,
    ) -> Arrays:
        keyed = full_key(key, code_bound)
        path = None if self.root is None else _file(self.root, kind, keyed)
        if path is not None and not self.refresh and path.exists():
            with np.load(path, allow_pickle=False) as stored:
                return {name: stored[name] for name in stored.files}
        arrays = compute()
        if path is not None:
            _atomic_save(path, arrays, keyed)
        return arrays


def full_key(key: Mapping[str, Any], code_bound: bool = True) -> dict[str, Any]:
    """``key`` with the provenance the cache adds: library versions, and the code's commit."""
    libraries = {k: v for k, v in library_versions().items() if k != "platform"}
    added: dict[str, Any] = {"libraries": libraries}
    if code_bound:
        added["code"] = code_provenance()
    return {**key, "provenance": added}


def _file(root: Path, kind: str, keyed: Mapping[str, Any]) -> Path:
    return root / kind / f"{config_hash(keyed)}.npz"


def _atomic_save(path: Path, arrays: Arrays, key: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)  # type: ignore[arg-type]
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    key_file = path.with_suffix(".json")
    key_file.write_text(json.dumps(json.loads(canonical_json(key)), indent=2) + "\n")
