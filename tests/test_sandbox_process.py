"""The process backend (no isolation), the registry, and host-side workspace file access.

The file functions run on the host for every local backend, against a workspace whose
content the sandboxed code controls: each path test plants one trap (a symlink out, a
FIFO, a folder swapped for a symlink) and checks that it is refused.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from aar.core.errors import UnknownNameError
from aar.sandbox import (
    SANDBOXES,
    FileInfo,
    ProcessSandbox,
    Sandbox,
    SandboxError,
    SandboxPathError,
    SandboxSpec,
    UnsafeSandboxError,
    make_sandbox,
)
from aar.sandbox.paths import HostWorkspace
from tests.sandboxkit import SMALL, processes_running, workspace


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Sandbox]:
    spec = SandboxSpec(workspace=workspace(tmp_path), env={"EXTRA": "1"}, limits=SMALL)
    with make_sandbox("process", spec, allow_unsafe=True) as sandbox:
        yield sandbox


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    secret = tmp_path / "labels.jsonl"
    secret.write_text("secret labels")
    return secret


# --- registry and the unsafe flag ------------------------------------------------------


def test_registry_lists_both_backends() -> None:
    assert SANDBOXES.names() == ["bwrap", "process"]


def test_unknown_backend_names_the_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError, match="bwrap, process"):
        make_sandbox("docker-nope", SandboxSpec(workspace=tmp_path))


def test_process_backend_refuses_without_explicit_permission(tmp_path: Path) -> None:
    spec = SandboxSpec(workspace=tmp_path)
    with pytest.raises(UnsafeSandboxError):
        make_sandbox("process", spec)
    with pytest.raises(UnsafeSandboxError):
        ProcessSandbox(spec)


def test_process_backend_warns_loudly_that_it_is_not_isolated(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.WARNING),
        make_sandbox("process", SandboxSpec(workspace=tmp_path), allow_unsafe=True),
    ):
        pass
    assert any("NOT isolated" in record.message for record in caplog.records)


# --- exec on the process backend -------------------------------------------------------


def test_exec_output_exit_code_stdin_and_cwd(box: Sandbox) -> None:
    box.write_file("sub/x.txt", "X")
    result = box.exec("cat x.txt; cat; echo err >&2; exit 4", cwd="sub", stdin="-in")
    assert (result.exit_code, result.stdout, result.stderr) == (4, "X-in", "err\n")


def test_environment_is_minimal(box: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-secret")
    result = box.exec(["env"])
    names = {line.split("=", 1)[0] for line in result.stdout.splitlines()}
    assert names == {"PATH", "HOME", "LANG", "EXTRA"}


def test_timeout_kills_background_children_too(box: Sandbox) -> None:
    result = box.exec("sleep 3141 & sleep 3141", timeout=1)
    assert result.killed == "timeout"
    assert processes_running("sleep\x003141") == []


def test_output_is_cut_to_the_limit(box: Sandbox) -> None:
    result = box.exec("seq 100000")
    assert result.truncated
    assert result.stdout.startswith("1\n")
    assert result.stdout.endswith("100000\n")


def test_file_size_limit_applies(box: Sandbox) -> None:
    assert box.exec("head -c 10000000 /dev/zero > big").killed == "file size"


def test_bad_arguments_are_developer_errors(box: Sandbox) -> None:
    with pytest.raises(ValueError, match="empty"):
        box.exec([])
    with pytest.raises(ValueError, match="positive"):
        box.exec("true", timeout=0)


# --- host-side file access -------------------------------------------------------------


def test_write_read_and_list(box: Sandbox) -> None:
    box.write_file("a/b/c.txt", "héllo")
    box.write_file("/workspace/top.txt", "top")
    assert box.read_file("a/b/c.txt") == "héllo"
    assert box.read_file("/workspace/a/b/c.txt", max_bytes=2) == "h"
    assert box.read_file("./a/../top.txt") == "top"
    assert box.list_files() == [FileInfo("a", True, 4096), FileInfo("top.txt", False, 3)]
    assert [info.path for info in box.list_files("a", recursive=True)] == ["a/b", "a/b/c.txt"]


@pytest.mark.parametrize("path", ["../labels.jsonl", "a/../../labels.jsonl", "/etc/passwd"])
def test_paths_that_leave_the_workspace_are_refused(box: Sandbox, path: str) -> None:
    box.write_file("a/keep.txt", "")
    with pytest.raises(SandboxPathError):
        box.read_file(path)
    with pytest.raises(SandboxPathError):
        box.write_file(path, "owned")
    with pytest.raises(SandboxPathError):
        box.list_files(path)


def test_workspace_lookalike_prefix_is_outside(box: Sandbox) -> None:
    with pytest.raises(SandboxPathError, match="outside"):
        box.read_file("/workspace2/x")


@pytest.mark.parametrize("relative", [False, True])
def test_symlink_to_a_host_file_is_refused(
    box: Sandbox, outside: Path, tmp_path: Path, relative: bool
) -> None:
    target = os.path.relpath(outside, tmp_path / "workspace") if relative else str(outside)
    os.symlink(target, tmp_path / "workspace" / "link")
    with pytest.raises(SandboxPathError, match="workspace"):
        box.read_file("link")
    with pytest.raises(SandboxPathError):
        box.write_file("link", "owned")
    assert outside.read_text() == "secret labels"


def test_symlinked_folder_pointing_out_is_refused(
    box: Sandbox, outside: Path, tmp_path: Path
) -> None:
    os.symlink(outside.parent, tmp_path / "workspace" / "dir")
    for call in (
        lambda: box.read_file("dir/labels.jsonl"),
        lambda: box.write_file("dir/new.txt", "x"),
        lambda: box.list_files("dir"),
        lambda: box.exec("true", cwd="dir"),
    ):
        with pytest.raises(SandboxPathError):
            call()
    assert not (outside.parent / "new.txt").exists()


def test_symlinks_inside_the_workspace_work_as_the_sandbox_sees_them(
    box: Sandbox, tmp_path: Path
) -> None:
    box.write_file("real/data.txt", "data")
    os.symlink("real/data.txt", tmp_path / "workspace" / "relative")
    os.symlink("/workspace/real", tmp_path / "workspace" / "absolute")
    assert box.read_file("relative") == "data"
    assert box.read_file("absolute/data.txt") == "data"
    assert FileInfo("absolute", False, len("/workspace/real")) in box.list_files()


def test_fifo_is_refused_without_blocking(box: Sandbox, tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "workspace" / "pipe")
    done: list[str] = []

    def attempt() -> None:
        try:
            box.read_file("pipe")
        except SandboxPathError as error:
            done.append(str(error))

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout=5)
    assert done
    assert "not a regular file" in done[0]


def test_missing_files_and_folders_are_path_errors(box: Sandbox) -> None:
    box.write_file("d/f.txt", "")
    with pytest.raises(SandboxPathError, match="no such"):
        box.read_file("missing.txt")
    with pytest.raises(SandboxPathError, match="is a folder"):
        box.read_file("d")
    with pytest.raises(SandboxPathError, match="not a folder"):
        box.list_files("d/f.txt")


def test_a_folder_swapped_for_a_symlink_after_resolution_is_refused(
    tmp_path: Path, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The sandbox can race the host: a path checked as a real folder becomes a symlink
    # before the host opens it. Opening never follows a symlink, so the race fails.
    root = workspace(tmp_path)
    os.symlink(outside.parent, root / "swapped")
    monkeypatch.setattr(HostWorkspace, "resolve", lambda self, path: ("swapped", outside.name))
    with pytest.raises(SandboxPathError, match="not a folder"):
        HostWorkspace(root).read("swapped/" + outside.name, 100)


def test_writes_beyond_the_limits_are_refused(box: Sandbox) -> None:
    with pytest.raises(SandboxPathError, match="file limit"):
        box.write_file("big.txt", "x" * (SMALL.file_bytes + 1))
    chunk = "x" * (SMALL.file_bytes - 4096)
    for index in range(SMALL.workspace_bytes // SMALL.file_bytes):
        box.write_file(f"part{index}.txt", chunk)
    with pytest.raises(SandboxPathError, match="workspace over"):
        box.write_file("one-more.txt", chunk)
    box.write_file("part0.txt", chunk)  # rewriting a file counts only the difference


def test_workspace_usage_counts_blocks_and_entries(tmp_path: Path) -> None:
    root = workspace(tmp_path)
    for index in range(10):
        (root / str(index)).touch()
    (root / "sparse").write_bytes(b"")
    os.truncate(root / "sparse", 10**9)  # a hole takes no disk
    assert HostWorkspace(root).usage() == 11 * 4096


def test_limits_and_specs_are_checked(tmp_path: Path) -> None:
    from aar.core.errors import ConfigError
    from aar.sandbox import Mount

    with pytest.raises(ConfigError):
        dataclasses.replace(SMALL, processes=0)
    with pytest.raises(ConfigError):
        Mount(tmp_path, "relative/target")
    with pytest.raises(ConfigError):
        SandboxSpec(workspace=tmp_path, env={"A=B": "x"})


def test_missing_workspace_fails_at_start(tmp_path: Path) -> None:
    sandbox = make_sandbox(
        "process", SandboxSpec(workspace=tmp_path / "missing"), allow_unsafe=True
    )
    with pytest.raises(SandboxError, match="not a folder"):
        sandbox.start()
