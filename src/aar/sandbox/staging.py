"""Fewer mounts for a curated folder: its small entries copied once into a host folder.

    staged = stage(shown)        # cached per folder
    staged.base                  # host folder: copies of files, symlinks, .dist-info folders,
                                 # and an empty mount point for each folder still to bind
    staged.binds                 # the package folders, bound on top of their mount points

bubblewrap reads the whole mount table after each bind it makes, so a command's start
grows with the square of the number of mounts; a curated site-packages shown entry by
entry takes about 170. Copying what is small (modules, ``.pth`` files, metadata folders,
scripts) into one folder leaves one mount per package folder instead.

The copies live in ``$TMPDIR/aar-sandbox-python-UID/KEY`` (the parent private to this user),
where KEY hashes the folder's entries and the size and modification time of each copied
file: every process of this user with the same environment shares them (researchers are
often stopped by a signal, which would leave per-process copies behind), and a changed
environment gets a new KEY. Folders of older environments stay until removed; deleting the
whole folder is always safe. A sandbox sees its copy read-only.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import hashlib
import json
import os
import shutil
import stat
import tempfile
import threading
from dataclasses import dataclass

from aar.sandbox.pyenv import Bind, ShownFolder

COPIED_FOLDERS = (".dist-info", ".egg-info")
"""Folders copied rather than bound: metadata, small, and one per distribution."""

_lock = threading.Lock()
_staged: dict[ShownFolder, StagedFolder] = {}


@dataclass(frozen=True)
class StagedFolder:
    """``base`` shown read-only at ``path``, then each of ``binds`` on top of it."""

    path: str
    base: str
    binds: tuple[Bind, ...]


def stage(shown: ShownFolder) -> StagedFolder:
    """``shown`` as one staged folder plus the binds of its package folders (cached)."""
    with _lock:
        # a staging folder deleted since (by hand, or a /tmp cleaner) is built again
        if shown not in _staged or not os.path.isdir(_staged[shown].base):
            copied, bound = _split(shown)
            base = os.path.join(_staging_root(), _key(shown, copied))
            if not os.path.isdir(base):
                _build(shown, copied, bound, base)
            _staged[shown] = StagedFolder(shown.path, base, bound)
        return _staged[shown]


def _split(shown: ShownFolder) -> tuple[tuple[Bind, ...], tuple[Bind, ...]]:
    """The entries to copy (files, metadata folders) and the folders to bind."""
    copied = [b for b in shown.binds if _is_copied(b.source)]
    return tuple(copied), tuple(b for b in shown.binds if not _is_copied(b.source))


def _is_copied(source: str) -> bool:
    return not os.path.isdir(source) or source.endswith(COPIED_FOLDERS)


def _key(shown: ShownFolder, copied: tuple[Bind, ...]) -> str:
    """A hash of what the staged folder holds: entries, and what each copied file is now."""
    files = []
    for bind in copied:
        for path in _files_of(bind.source):
            info = os.lstat(path)
            files.append((path, info.st_size, info.st_mtime_ns))
    binds = [(bind.source, bind.target) for bind in shown.binds]
    links = [(link.text, link.target) for link in shown.symlinks]
    return hashlib.sha256(json.dumps([shown.path, binds, links, files]).encode()).hexdigest()[:32]


def _files_of(source: str) -> list[str]:
    if not os.path.isdir(source):
        return [source]
    return sorted(os.path.join(root, name) for root, _, names in os.walk(source) for name in names)


def _build(
    shown: ShownFolder, copied: tuple[Bind, ...], bound: tuple[Bind, ...], base: str
) -> None:
    """Fill a fresh folder and move it to ``base`` in one step, so that a process never
    sees a half-built one; when another process got there first, its copy is kept."""
    building = tempfile.mkdtemp(dir=os.path.dirname(base), prefix=".building-")
    try:
        for bind in copied:
            copy = _inside(building, shown, bind.target)
            if os.path.isdir(bind.source):
                shutil.copytree(bind.source, copy, symlinks=True)
            else:
                shutil.copy2(bind.source, copy, follow_symlinks=False)
        for bind in bound:
            os.mkdir(_inside(building, shown, bind.target))  # a mount point
        for link in shown.symlinks:
            os.symlink(link.text, _inside(building, shown, link.target))
        os.chmod(building, 0o755)  # mkdtemp's 0700; the parent keeps it private
        os.rename(building, base)
    except OSError:
        shutil.rmtree(building, ignore_errors=True)
        if not os.path.isdir(base):
            raise


def _inside(building: str, shown: ShownFolder, target: str) -> str:
    """Where ``target`` (inside the sandbox) goes in the folder being built."""
    where = os.path.join(building, os.path.relpath(target, shown.path))
    os.makedirs(os.path.dirname(where), exist_ok=True)
    return where


@functools.cache
def _staging_root() -> str:
    """``$TMPDIR/aar-sandbox-python-UID``, when it is this user's own private folder; else
    a fresh private folder for this process (removed when it exits)."""
    root = os.path.join(tempfile.gettempdir(), f"aar-sandbox-python-{os.geteuid()}")
    with contextlib.suppress(FileExistsError):
        os.mkdir(root, 0o700)
    info = os.lstat(root)
    if stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() and not info.st_mode & 0o077:
        return root
    # Someone else made it, or made it readable: copies there could be tampered with.
    private = tempfile.mkdtemp(prefix="aar-sandbox-python-")
    atexit.register(shutil.rmtree, private, ignore_errors=True)
    return private
