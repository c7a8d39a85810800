"""Fewer mounts for a curated folder: its small entries copied once into a host folder.

    staged = stage(shown)        # cached per folder, for the life of this process
    staged.base                  # host folder: copies of files, symlinks, .dist-info folders,
                                 # and an empty mount point for each folder still to bind
    staged.binds                 # the package folders, bound on top of their mount points

bubblewrap reads the whole mount table after each bind it makes, so a command's start
grows with the square of the number of mounts; a curated site-packages shown entry by
entry takes about 170. Copying what is small (modules, ``.pth`` files, metadata folders,
scripts) into one folder leaves one mount per package folder instead. The copies are made
when a sandbox first needs them, in a private temporary folder (mode 0700) that is removed
when the process exits; a sandbox sees it read-only.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass

from aar.sandbox.pyenv import Bind, ShownFolder

COPIED_FOLDERS = (".dist-info", ".egg-info")
"""Folders copied rather than bound: metadata, small, and one per distribution."""

_lock = threading.Lock()
_staged: dict[ShownFolder, StagedFolder] = {}
_root: list[str] = []  # the process's staging folder, made on first use


@dataclass(frozen=True)
class StagedFolder:
    """``base`` shown read-only at ``path``, then each of ``binds`` on top of it."""

    path: str
    base: str
    binds: tuple[Bind, ...]


def stage(shown: ShownFolder) -> StagedFolder:
    """``shown`` as one staged folder plus the binds of its package folders (cached)."""
    with _lock:
        if shown not in _staged:
            _staged[shown] = _build(shown, tempfile.mkdtemp(dir=_staging_root()))
        return _staged[shown]


def _staging_root() -> str:
    if not _root:
        _root.append(tempfile.mkdtemp(prefix="aar-sandbox-python-"))
        atexit.register(shutil.rmtree, _root[0], ignore_errors=True)
    return _root[0]


def _build(shown: ShownFolder, base: str) -> StagedFolder:
    binds: list[Bind] = []
    for bind in shown.binds:
        copy = os.path.join(base, os.path.relpath(bind.target, shown.path))
        os.makedirs(os.path.dirname(copy), exist_ok=True)
        if not os.path.isdir(bind.source):
            shutil.copy2(bind.source, copy)
        elif bind.source.endswith(COPIED_FOLDERS):
            shutil.copytree(bind.source, copy, symlinks=True)
        else:
            os.mkdir(copy)  # the mount point of a folder bound on top
            binds.append(bind)
    for link in shown.symlinks:
        where = os.path.join(base, os.path.relpath(link.target, shown.path))
        os.makedirs(os.path.dirname(where), exist_ok=True)
        os.symlink(link.text, where)
    os.chmod(base, 0o755)  # mkdtemp's 0700 would lock out the sandbox's uid
    return StagedFolder(shown.path, base, tuple(binds))
