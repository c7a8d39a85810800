"""Workspace archives: pack a folder into a deterministic tar.gz, check one, extract one safely.

    data = pack(Path("workspace"), exclude=[".venv", "__pycache__"])   # same tree → same bytes
    names = check(data)               # raises UnsafeArchiveError / InvalidArchiveError
    safe_extract(data, Path("copy"))  # check(), then tarfile's "data" filter, no bytecode

``check`` refuses, without writing anything: absolute member names, any ``..`` component,
symbolic or hard links whose target resolves outside the tree (following the archive's own
symlinks, so a chain of links cannot climb out either), devices, fifos and other special
members, more than ``max_members`` members, and more than ``max_bytes`` of uncompressed tar
stream (a decompression-bomb guard that stops reading as soon as the limit is passed, and
refuses at once a header that merely declares a huge size). With ``max_ratio`` it also
refuses a tar stream larger than ``max_ratio`` times the compressed bytes (but always allows
``RATIO_FLOOR`` bytes, so tiny honest archives pass): a gzip bomb is stopped after reading at
most that much. Bytes that are not a gzip compressed tar raise ``InvalidArchiveError``. Both
errors are ``ArchiveError``, a ValueError.
"""

from __future__ import annotations

import fnmatch
import gzip
import io
import os
import stat
import tarfile
import zlib
from collections.abc import Iterable
from pathlib import Path

MAX_MEMBERS = 100_000
MAX_BYTES = 2**30  # uncompressed tar stream, headers included
COMPILED = (".pyc", ".pyo")  # never extracted (safe_extract)
MAX_LINK_HOPS = 40
RATIO_FLOOR = 2**20  # a tar stream is padded to 10 KiB records: tiny archives compress ~100×
GZIP_MAGIC = b"\x1f\x8b"


class ArchiveError(ValueError):
    """An archive the hub will not store or extract; the message says why."""


class InvalidArchiveError(ArchiveError):
    """The bytes are not a gzip-compressed tar archive (or it is truncated or corrupt)."""


class UnsafeArchiveError(ArchiveError):
    """The archive is a valid tar.gz but extracting it could escape or harm the destination."""


# --- packing -------------------------------------------------------------------------------


def pack(folder: Path, exclude: Iterable[str] = ()) -> bytes:
    """A tar.gz of everything under ``folder``, byte-for-byte reproducible.

    Names are sorted and relative to ``folder``; times, owners and groups are zeroed and modes
    normalised (0755 for folders and executables, 0644 for other files), so the same tree
    gives the same sha256. Symlinks are stored as links, never followed; special files
    (sockets, fifos, devices) are left out. ``exclude`` takes glob patterns matched against
    each relative path and each name (``".venv"``, ``"*.pyc"``, ``"data/*"``); an excluded
    folder is not descended into.
    """
    root = Path(folder)
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is not a folder")
    patterns = list(exclude)
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0) as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for path, name in _walk(root, patterns):
            _add(tar, path, name)
    return buffer.getvalue()


def _walk(
    root: Path, patterns: list[str], folder: Path | None = None
) -> Iterable[tuple[Path, str]]:
    for entry in sorted(os.scandir(folder or root), key=lambda e: e.name):
        path = Path(entry.path)
        name = path.relative_to(root).as_posix()
        if _excluded(name, patterns):
            continue
        yield path, name
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(root, patterns, path)


def _excluded(name: str, patterns: list[str]) -> bool:
    base = name.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(base, p) for p in patterns)


def _add(tar: tarfile.TarFile, path: Path, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
    status = path.lstat()
    mode = status.st_mode
    if stat.S_ISLNK(mode):
        info.type, info.mode, info.linkname = tarfile.SYMTYPE, 0o777, os.readlink(path)
        tar.addfile(info)
    elif stat.S_ISDIR(mode):
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
    elif stat.S_ISREG(mode):
        info.mode = 0o755 if mode & 0o111 else 0o644
        info.size = status.st_size
        with path.open("rb") as handle:
            tar.addfile(info, handle)


# --- checking ------------------------------------------------------------------------------


def check(
    data: bytes,
    max_members: int = MAX_MEMBERS,
    max_bytes: int = MAX_BYTES,
    max_ratio: float | None = None,
) -> list[str]:
    """The member names of a safe tar.gz; raises ``ArchiveError`` saying what is wrong."""
    members = _members(data, max_members, _limit(len(data), max_bytes, max_ratio))
    links = {_normal(m.name): m.linkname for m in members if m.issym()}
    for member in members:
        _check_member(member, links)
    return [m.name for m in members]


def safe_extract(
    data: bytes, dest: Path, max_members: int = MAX_MEMBERS, max_bytes: int = MAX_BYTES
) -> list[str]:
    """Check ``data``, then extract it into ``dest`` (created if missing); the names of the
    members extracted. Compiled Python (``*.pyc``, ``*.pyo``) is never extracted: Python runs
    a ``__pycache__`` file instead of its source when the header matches the source's size
    and time, which a tar member keeps, so shipped bytecode could run other code than the
    source everyone reads. Python compiles the source again where it is run."""
    names = check(data, max_members, max_bytes)
    dest.mkdir(parents=True, exist_ok=True)
    with _open(data, _limit(len(data), max_bytes, None)) as tar:
        try:
            tar.extractall(dest, filter=_source_only)
        except tarfile.FilterError as error:
            raise UnsafeArchiveError(f"refused while extracting: {error}") from error
    return [name for name in names if not name.endswith(COMPILED)]


def _source_only(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo | None:
    return None if member.name.endswith(COMPILED) else tarfile.data_filter(member, path)


class _Limit:
    """How many bytes the tar stream may hold, and what to say when it holds more."""

    def __init__(self, size: int, message: str) -> None:
        self.size, self.message = size, message

    def refuse(self) -> UnsafeArchiveError:
        return UnsafeArchiveError(self.message)


def _limit(compressed: int, max_bytes: int, max_ratio: float | None) -> _Limit:
    by_size = _Limit(max_bytes, f"the archive expands to more than the limit of {max_bytes} bytes")
    if max_ratio is None:
        return by_size
    allowed = max(RATIO_FLOOR, int(max_ratio * compressed))
    if allowed >= max_bytes:
        return by_size
    return _Limit(
        allowed,
        f"the archive expands to more than {max_ratio:g} times its compressed size "
        f"({allowed} bytes of tar stream for {compressed} bytes uploaded): "
        "the compression-ratio cap refuses it as a likely decompression bomb",
    )


def _members(data: bytes, max_members: int, limit: _Limit) -> list[tarfile.TarInfo]:
    members: list[tarfile.TarInfo] = []
    declared = 0
    with _open(data, limit) as tar:
        try:
            while (member := tar.next()) is not None:
                members.append(member)
                declared += member.size
                if declared > limit.size:
                    raise limit.refuse()
                if len(members) > max_members:
                    raise UnsafeArchiveError(
                        f"the archive has more than the limit of {max_members} members"
                    )
        except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
            raise InvalidArchiveError(f"the archive is corrupt or truncated: {error}") from error
    return members


def _open(data: bytes, limit: _Limit) -> tarfile.TarFile:
    if not data.startswith(GZIP_MAGIC):
        raise InvalidArchiveError("the upload is not a gzip-compressed tar archive (.tar.gz)")
    stream = _Bounded(gzip.GzipFile(fileobj=io.BytesIO(data), mode="rb"), limit)
    try:
        return tarfile.open(fileobj=stream, mode="r:")
    except UnsafeArchiveError:
        raise
    except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
        raise InvalidArchiveError(
            f"the upload is not a gzip-compressed tar archive (.tar.gz): {error}"
        ) from error


class _Bounded:
    """A read-only view of the decompressed stream that refuses to go past ``limit`` bytes."""

    def __init__(self, inner: gzip.GzipFile, limit: _Limit) -> None:
        self.inner, self.limit = inner, limit

    def tell(self) -> int:
        return self.inner.tell()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        target = {io.SEEK_SET: 0, io.SEEK_CUR: self.inner.tell()}.get(whence)
        if target is None:
            raise OSError("seeking from the end of a compressed stream is not supported")
        self._guard(target + offset)
        return self.inner.seek(target + offset)

    def read(self, size: int = -1) -> bytes:
        room = self.limit.size - self.inner.tell() + 1
        wanted = room if size < 0 else min(size, room)
        chunk = self.inner.read(wanted)
        self._guard(self.inner.tell())
        return chunk

    def write(self, _data: bytes) -> int:
        raise OSError("the archive is opened read-only")

    def close(self) -> None:
        self.inner.close()

    def _guard(self, position: int) -> None:
        if position > self.limit.size:
            raise self.limit.refuse()


def _check_member(member: tarfile.TarInfo, links: dict[str, str]) -> None:
    name = member.name
    _check_name(name)
    if member.issym() or member.islnk():
        target = member.linkname
        kind = "symlink" if member.issym() else "hard link"
        # a symlink's target is relative to its folder, a hard link's to the archive's root
        base = _normal(name).rpartition("/")[0] if member.issym() else ""
        problem = _link_problem(f"{base}/{target}", links)
        if target.startswith("/") or (member.islnk() and ".." in target.split("/")):
            problem = "points outside the archive's tree"
        if problem:
            raise UnsafeArchiveError(f"{kind} {name!r} {problem} ({target!r})")
    elif not (member.isfile() or member.isdir()):
        kind = "device" if member.ischr() or member.isblk() else "fifo" if member.isfifo() else ""
        raise UnsafeArchiveError(
            f"member {name!r} is a {kind or 'special'} file; "
            "only files, folders and links are allowed"
        )


def _check_name(name: str) -> None:
    if not name or "\x00" in name:
        raise UnsafeArchiveError("the archive has a member with an empty or invalid name")
    if name.startswith("/"):
        raise UnsafeArchiveError(f"member {name!r} has an absolute path")
    if ".." in name.replace("\\", "/").split("/"):
        raise UnsafeArchiveError(f"member {name!r} has a '..' component")


def _normal(name: str) -> str:
    return "/".join(p for p in name.split("/") if p not in ("", "."))


def _link_problem(path: str, links: dict[str, str]) -> str | None:
    """Why ``path`` (relative to the root) is unsafe, following the archive's own symlinks."""
    resolved: list[str] = []
    pending = path.split("/")
    hops = 0
    while pending:
        part = pending.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            if not resolved:
                return "points outside the archive's tree"
            resolved.pop()
            continue
        resolved.append(part)
        target = links.get("/".join(resolved))
        if target is not None:
            hops += 1
            if target.startswith("/"):
                return "points outside the archive's tree (through an absolute symlink)"
            if hops > MAX_LINK_HOPS:
                return "is part of a loop of symlinks"
            resolved.pop()
            pending = target.split("/") + pending
    return None
