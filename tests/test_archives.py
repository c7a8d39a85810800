"""Workspace archives: deterministic packing, safe extraction, and every refusal of check()."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from aar.hub.archives import (
    InvalidArchiveError,
    UnsafeArchiveError,
    check,
    pack,
    safe_extract,
)


def make_workspace(root: Path) -> Path:
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "src" / "pkg" / "method.py").write_text("def run():\n    return 42\n")
    (root / "README.md").write_text("# notes\n")
    (root / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (root / "run.sh").chmod(0o755)
    (root / "empty").mkdir()
    (root / "data.bin").write_bytes(bytes(range(256)) * 40)
    (root / "latest.py").symlink_to("src/pkg/method.py")
    (root / "src" / "pkg" / "readme").symlink_to("../../README.md")
    return root


def tar_gz(*members: tuple[tarfile.TarInfo, bytes | None]) -> bytes:
    """A tar.gz built by hand, so that it can hold what pack() never would."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for info, content in members:
            if content is not None:
                info.size = len(content)
            tar.addfile(info, io.BytesIO(content) if content is not None else None)
    return buffer.getvalue()


def member(
    name: str, kind: bytes = tarfile.REGTYPE, linkname: str = ""
) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info, (b"payload" if kind == tarfile.REGTYPE else None)


def test_compiled_python_is_never_extracted(tmp_path: Path) -> None:
    """A __pycache__ file whose header matches its source's size and time would run instead
    of the source; a top-level .pyc imports without any. Neither leaves the archive."""
    source = tmp_path / "ws"
    (source / "__pycache__").mkdir(parents=True)
    (source / "method.py").write_text("ANSWER = 'honest'\n")
    (source / "__pycache__" / "method.cpython-311.pyc").write_bytes(b"bytecode")
    (source / "oracle.pyc").write_bytes(b"bytecode")
    dest = tmp_path / "copy"
    names = safe_extract(pack(source), dest)
    assert "method.py" in names
    assert not any(name.endswith(".pyc") for name in names)
    assert sorted(p.name for p in dest.rglob("*") if p.is_file()) == ["method.py"]


def test_round_trip_keeps_files_folders_modes_and_internal_links(tmp_path: Path) -> None:
    source = make_workspace(tmp_path / "ws")
    data = pack(source)
    names = check(data)
    assert {"README.md", "src/pkg/method.py", "empty", "latest.py"} <= set(names)
    dest = tmp_path / "copy"
    assert safe_extract(data, dest) == names
    assert (dest / "src" / "pkg" / "method.py").read_text() == "def run():\n    return 42\n"
    assert (dest / "data.bin").read_bytes() == (source / "data.bin").read_bytes()
    assert (dest / "empty").is_dir()
    assert os.access(dest / "run.sh", os.X_OK)
    assert (dest / "latest.py").is_symlink()
    assert os.readlink(dest / "latest.py") == "src/pkg/method.py"
    assert (dest / "latest.py").read_text().startswith("def run")
    assert (dest / "src" / "pkg" / "readme").read_text() == "# notes\n"


def test_same_tree_packs_to_the_same_bytes(tmp_path: Path) -> None:
    first = pack(make_workspace(tmp_path / "a"))
    second_root = make_workspace(tmp_path / "b")
    os.utime(second_root / "README.md", (0, 1_000_000))  # times are not part of the archive
    (second_root / "README.md").chmod(0o600)  # nor are exact permission bits
    second = pack(second_root)
    assert hashlib.sha256(first).hexdigest() == hashlib.sha256(second).hexdigest()
    assert pack(tmp_path / "a") == first
    (second_root / "README.md").write_text("# changed\n")
    assert pack(second_root) != first


def test_pack_follows_no_symlink_and_can_exclude(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("not part of the workspace")
    root = make_workspace(tmp_path / "ws")
    (root / "linked_dir").symlink_to("src")
    (root / ".venv" / "lib").mkdir(parents=True)
    (root / ".venv" / "lib" / "x.py").write_text("")
    (root / "src" / "pkg" / "__pycache__").mkdir()
    names = check(pack(root, exclude=[".venv", "__pycache__"]))
    assert "linked_dir" in names
    assert not any(n.startswith("linked_dir/") for n in names)
    assert not any(".venv" in n or "__pycache__" in n for n in names)
    assert ".venv/lib/x.py" in check(pack(root))


def test_a_tar_from_the_tar_tool_layout_with_dot_prefix_is_fine(tmp_path: Path) -> None:
    data = tar_gz(
        member("./", tarfile.DIRTYPE), member("./a.txt"), member("./b", tarfile.SYMTYPE, "a.txt")
    )
    safe_extract(data, tmp_path / "out")
    assert (tmp_path / "out" / "b").read_text() == "payload"


OUTSIDE = "points outside the archive's tree"
UNSAFE: dict[str, tuple[Callable[[], bytes], str]] = {
    "absolute path": (lambda: tar_gz(member("/tmp/evil.txt")), "absolute path"),
    "parent component": (lambda: tar_gz(member("../x")), "'..' component"),
    "parent component inside": (lambda: tar_gz(member("a/../../x")), "'..' component"),
    "symlink to an absolute path": (
        lambda: tar_gz(member("passwd", tarfile.SYMTYPE, "/etc/passwd")),
        OUTSIDE,
    ),
    "symlink climbing out": (
        lambda: tar_gz(member("a/up", tarfile.SYMTYPE, "../../outside")),
        OUTSIDE,
    ),
    "symlink chain climbing out": (
        lambda: tar_gz(
            member("x", tarfile.DIRTYPE),
            member("x/b", tarfile.SYMTYPE, ".."),  # x/b is the root: fine on its own
            member("escape", tarfile.SYMTYPE, "x/b/.."),  # lexically "x", really outside
        ),
        OUTSIDE,
    ),
    "symlink loop": (
        lambda: tar_gz(member("a", tarfile.SYMTYPE, "b"), member("b", tarfile.SYMTYPE, "a/c")),
        "loop of symlinks",
    ),
    "hardlink to an absolute path": (
        lambda: tar_gz(member("h", tarfile.LNKTYPE, "/etc/passwd")),
        OUTSIDE,
    ),
    "hardlink climbing out": (lambda: tar_gz(member("h", tarfile.LNKTYPE, "../outside")), OUTSIDE),
    "character device": (lambda: tar_gz(member("null", tarfile.CHRTYPE)), "device file"),
    "block device": (lambda: tar_gz(member("sda", tarfile.BLKTYPE)), "device file"),
    "fifo": (lambda: tar_gz(member("pipe", tarfile.FIFOTYPE)), "fifo file"),
}


@pytest.mark.parametrize("case", list(UNSAFE))
def test_check_refuses_unsafe_members(case: str, tmp_path: Path) -> None:
    build, reason = UNSAFE[case]
    data = build()
    with pytest.raises(UnsafeArchiveError, match=re.escape(reason)):
        check(data)
    dest = tmp_path / "dest"
    with pytest.raises(UnsafeArchiveError):
        safe_extract(data, dest)
    assert not dest.exists()  # refused before anything is written
    assert not (tmp_path / "outside").exists()


def test_check_refuses_a_decompression_bomb() -> None:
    zeros = b"\0" * 4_000_000
    info = tarfile.TarInfo("zeros.bin")
    data = tar_gz((info, zeros))
    assert len(data) < 20_000  # tiny on the wire
    with pytest.raises(UnsafeArchiveError, match="more than the limit of 1000000 bytes"):
        check(data, max_bytes=1_000_000)
    assert check(data, max_bytes=5_000_000) == ["zeros.bin"]


def test_check_refuses_a_declared_huge_member_without_reading_it() -> None:
    info = tarfile.TarInfo("huge.bin")
    info.size = 2**40  # a header that merely claims a terabyte, with no data behind it
    data = gzip.compress(info.tobuf(tarfile.PAX_FORMAT), mtime=0)
    with pytest.raises(UnsafeArchiveError, match="expands to more than"):
        check(data)


def test_check_refuses_too_many_members() -> None:
    data = tar_gz(*(member(f"f{i}") for i in range(11)))
    with pytest.raises(UnsafeArchiveError, match="more than the limit of 10 members"):
        check(data, max_members=10)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"definitely not an archive",
        b"\x1f\x8b\x08\x00garbage after a gzip magic",
        gzip.compress(b"gzip, but not a tar inside" * 30),
    ],
    ids=["empty", "garbage", "broken gzip", "gzip of not a tar"],
)
def test_check_refuses_what_is_not_a_tar_gz(data: bytes) -> None:
    with pytest.raises(InvalidArchiveError, match="tar"):
        check(data)


def test_a_plain_tar_is_not_accepted() -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("a.txt")
        info.size = 7
        tar.addfile(info, io.BytesIO(b"payload"))
    with pytest.raises(InvalidArchiveError, match=r"gzip-compressed tar archive \(\.tar\.gz\)"):
        check(buffer.getvalue())


def test_truncated_archive_is_invalid(tmp_path: Path) -> None:
    data = pack(make_workspace(tmp_path / "ws"))
    with pytest.raises(InvalidArchiveError):
        check(data[: len(data) // 2])


def pax_bomb(expanded: int) -> bytes:
    """A tar.gz whose one member declares 0 bytes but whose pax header holds ``expanded``
    bytes: only the guard on the decompressed stream itself can stop it."""
    info = tarfile.TarInfo("empty.txt")
    info.pax_headers = {"comment": "a" * expanded}
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        tar.addfile(info, io.BytesIO(b""))
    return buffer.getvalue()


def test_the_ratio_cap_stops_a_bomb_while_streaming() -> None:
    data = pax_bomb(4_000_000)
    assert len(data) < 20_000
    assert check(data) == ["empty.txt"]  # under the absolute limit: only the ratio refuses it
    with pytest.raises(UnsafeArchiveError, match="compression-ratio cap") as refused:
        check(data, max_ratio=100)
    assert f"100 times its compressed size (1048576 bytes of tar stream for {len(data)}" in str(
        refused.value
    )


def test_the_ratio_cap_refuses_a_declared_size_at_once() -> None:
    info = tarfile.TarInfo("huge.bin")
    info.size = 2**29  # declared, with no data behind it: refused from the header alone
    data = gzip.compress(info.tobuf(tarfile.PAX_FORMAT), mtime=0)
    with pytest.raises(UnsafeArchiveError, match="compression-ratio cap"):
        check(data, max_ratio=100)


def test_the_ratio_cap_lets_small_and_ordinary_archives_through(tmp_path: Path) -> None:
    tiny = tar_gz(member("a.txt"))  # 10 KiB of tar records in ~100 bytes: a ratio near 100
    assert len(tiny) * 50 < 10_240
    assert check(tiny, max_ratio=2) == ["a.txt"]  # the floor: a bomb needs more than 1 MiB
    data = pack(make_workspace(tmp_path / "ws"))
    assert check(data, max_ratio=100) == check(data)
