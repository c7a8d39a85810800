"""Safe access to a workspace folder from the host, against a sandbox that controls its content.

    ws = HostWorkspace(Path("runs/r1"))
    ws.read("notes/plan.md", max_bytes=10_000)
    ws.write("/workspace/train.py", b"...")
    ws.listing(".", recursive=True)
    ws.usage()          # bytes on disk, for the workspace quota

Sandboxed code can put anything in its workspace, in particular symlinks to host files
(``ln -s /root/.ssh/id_rsa key``), FIFOs that would block a reader forever, and folders that
it swaps for symlinks while the host is opening a path. So paths are resolved component by
component the way the sandbox would see them (``/workspace/...`` is the root, any other
absolute target is outside), and then opened from a descriptor of the workspace root with
``O_NOFOLLOW`` on every component: a path changed in between fails instead of escaping.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from aar.sandbox.base import WORKSPACE, FileInfo, SandboxPathError

MAX_SYMLINKS = 40  # what the kernel allows when it resolves a path
MAX_DEPTH = 128  # folders deeper than this are not walked (see usage())
BLOCK = 4096  # every entry counts at least one block: empty files still cost inodes

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def relative_parts(path: str) -> list[str]:
    """``path`` as components below the workspace root, before any symlink is looked at.

    Accepts ``x/y``, ``./x`` and ``/workspace/x``; any other absolute path is outside.
    """
    if "\0" in path:
        raise SandboxPathError(f"{path!r}: path contains a NUL byte")
    pure = PurePosixPath(path)
    if pure.is_absolute():
        root = PurePosixPath(WORKSPACE)
        if pure != root and root not in pure.parents:
            raise SandboxPathError(f"{path}: outside the workspace ({WORKSPACE})")
        pure = pure.relative_to(root)
    return [part for part in pure.parts if part != "."]


@dataclass(frozen=True)
class HostWorkspace:
    """A workspace folder on the host, read and written without leaving it."""

    root: Path

    def resolve(self, path: str) -> tuple[str, ...]:
        """The real components of ``path`` inside the workspace, symlinks followed.

        Components that do not exist are kept as they are (a file about to be written).
        """
        todo = list(reversed(relative_parts(path)))
        done: list[str] = []
        followed = 0
        while todo:
            part = todo.pop()
            if part == "..":
                if not done:
                    raise SandboxPathError(f"{path}: leaves the workspace")
                done.pop()
                continue
            target = self._link_target([*done, part])
            if target is None:
                done.append(part)
                continue
            followed += 1
            if followed > MAX_SYMLINKS:
                raise SandboxPathError(f"{path}: too many levels of symbolic links")
            if PurePosixPath(target).is_absolute():
                done = []
            try:
                todo.extend(reversed(relative_parts(target)))
            except SandboxPathError:
                raise SandboxPathError(f"{path}: a symlink points outside the workspace") from None
        return tuple(done)

    def _link_target(self, parts: list[str]) -> str | None:
        location = self.root.joinpath(*parts)
        try:
            if stat.S_ISLNK(os.lstat(location).st_mode):
                return os.readlink(location)
        except FileNotFoundError:
            return None
        except OSError as error:
            raise SandboxPathError(f"{'/'.join(parts)}: {error.strerror}") from None
        return None

    @contextmanager
    def folder(self, parts: tuple[str, ...], *, create: bool = False) -> Iterator[int]:
        """A descriptor of the folder ``parts``, opened without following any symlink."""
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for index, part in enumerate(parts):
                shown = "/".join(parts[: index + 1])
                if create:
                    _mkdir_at(part, fd, shown)
                child = _open_at(part, _DIR_FLAGS, fd, shown)
                os.close(fd)
                fd = child
            yield fd
        finally:
            os.close(fd)

    def read(self, path: str, max_bytes: int) -> bytes:
        parts = self._file_parts(path)
        with self.folder(parts[:-1]) as parent:
            fd = _open_at(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, parent, path)
        try:
            _require_regular(os.fstat(fd).st_mode, path)
        except SandboxPathError:
            os.close(fd)
            raise
        with os.fdopen(fd, "rb") as file:
            return file.read(max_bytes)

    def write(self, path: str, data: bytes) -> None:
        parts = self._file_parts(path)
        flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK
        with self.folder(parts[:-1], create=True) as parent:
            fd = _open_at(parts[-1], flags, parent, path)
        try:
            # Truncate only once we know it is a regular file we opened, not a FIFO.
            _require_regular(os.fstat(fd).st_mode, path)
        except SandboxPathError:
            os.close(fd)
            raise
        with os.fdopen(fd, "wb") as file:
            file.truncate(0)
            file.write(data)

    def size_of(self, path: str) -> int:
        """The disk space ``path`` takes now (0 when missing), as ``usage()`` counts it."""
        try:
            parts = self._file_parts(path)
            with self.folder(parts[:-1]) as parent:
                return _usage(os.stat(parts[-1], dir_fd=parent, follow_symlinks=False))
        except (SandboxPathError, FileNotFoundError):
            return 0

    def _file_parts(self, path: str) -> tuple[str, ...]:
        parts = self.resolve(path)
        if not parts:
            raise SandboxPathError(f"{path}: is the workspace folder, not a file")
        return parts

    def listing(self, path: str, recursive: bool) -> list[FileInfo]:
        parts = self.resolve(path)
        with self.folder(parts) as fd:
            entries = list(_walk(fd, "/".join(parts), recursive, depth=0))
        return sorted(entries, key=lambda entry: entry.path)

    def usage(self) -> int:
        """Disk space the workspace takes: allocated blocks of every entry, at least one block
        each (so a million empty files count too), hard links counted once per name.

        Folders nested deeper than ``MAX_DEPTH`` make the total infinite: no real workspace
        has them, and a walk that skipped them would let data hide from the quota.
        """
        total = 0
        with self.folder(()) as fd:
            stack = [(os.dup(fd), 0)]
        try:
            while stack:
                folder, depth = stack.pop()
                try:
                    with os.scandir(folder) as entries:
                        for entry in entries:
                            info = _lstat(entry)
                            if info is None:
                                continue
                            total += _usage(info)
                            if not stat.S_ISDIR(info.st_mode):
                                continue
                            if depth + 1 > MAX_DEPTH:
                                return 1 << 62
                            child = _try_open_dir(entry.name, folder)
                            if child is not None:
                                stack.append((child, depth + 1))
                finally:
                    os.close(folder)
        finally:
            for folder, _ in stack:
                os.close(folder)
        return total


def _usage(info: os.stat_result) -> int:
    return max(info.st_blocks * 512, BLOCK)


def _lstat(entry: os.DirEntry[str]) -> os.stat_result | None:
    # The sandbox may delete an entry while we walk: skip it then.
    try:
        return entry.stat(follow_symlinks=False)
    except OSError:
        return None


def _walk(fd: int, prefix: str, recursive: bool, depth: int) -> Iterator[FileInfo]:
    with os.scandir(fd) as entries:
        found = [(entry.name, _lstat(entry)) for entry in entries]
    for name, info in found:
        if info is None:
            continue
        is_dir = stat.S_ISDIR(info.st_mode)
        path = f"{prefix}/{name}" if prefix else name
        yield FileInfo(path=path, is_dir=is_dir, size=info.st_size)
        if is_dir and recursive and depth < MAX_DEPTH:
            child = _try_open_dir(name, fd)
            if child is not None:
                try:
                    yield from _walk(child, path, recursive, depth + 1)
                finally:
                    os.close(child)


def _try_open_dir(name: str, parent: int) -> int | None:
    # The sandbox may delete or replace the folder while we walk: skip it then.
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent)
    except OSError:
        return None


def _open_at(name: str, flags: int, parent: int, shown: str) -> int:
    try:
        return os.open(name, flags | os.O_CLOEXEC, 0o644, dir_fd=parent)
    except FileNotFoundError:
        raise SandboxPathError(f"{shown}: no such file or folder") from None
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR) and flags & os.O_DIRECTORY:
            raise SandboxPathError(f"{shown}: not a folder") from None
        if error.errno == errno.ELOOP:
            raise SandboxPathError(f"{shown}: changed while being opened") from None
        if error.errno == errno.EISDIR:
            raise SandboxPathError(f"{shown}: is a folder") from None
        raise SandboxPathError(f"{shown}: {error.strerror}") from None


def _mkdir_at(name: str, parent: int, shown: str) -> None:
    try:
        os.mkdir(name, 0o755, dir_fd=parent)
    except FileExistsError:
        pass
    except OSError as error:
        raise SandboxPathError(f"{shown}: {error.strerror}") from None


def _require_regular(mode: int, path: str) -> None:
    if stat.S_ISDIR(mode):
        raise SandboxPathError(f"{path}: is a folder")
    if not stat.S_ISREG(mode):
        raise SandboxPathError(f"{path}: not a regular file")
