"""The bwrap sandbox under attack on its resources: each bomb is contained and reported.

Limits are small (tests/sandboxkit.py: 256 MiB, 32 processes, 2 MiB files, 8 MiB
workspace) so every bomb ends in well under a second or two.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from aar.sandbox import BwrapSandbox, ExecResult, SandboxSpec
from aar.sandbox.paths import HostWorkspace
from tests.sandboxkit import SMALL, processes_running, require_bwrap, workspace

FORK_BOMB = "bomb() { bomb | bomb & }; bomb; sleep 30"
MEMORY_BOMB = "python -c 'x = []\nwhile True: x.append(bytearray(2**20))'"


@pytest.fixture
def box(tmp_path: Path) -> Iterator[BwrapSandbox]:
    require_bwrap()
    with BwrapSandbox(SandboxSpec(workspace=workspace(tmp_path), limits=SMALL)) as sandbox:
        yield sandbox


def _require_cgroup(box: BwrapSandbox, controller: str) -> None:
    if not box.uses_cgroups[controller]:
        pytest.skip(f"no writable {controller} cgroup here: that limit falls back to rlimits")


def test_timeout_kills_the_command_and_its_background_children(box: BwrapSandbox) -> None:
    marker = str(1000 + uuid.uuid4().int % 1000)  # a sleep length no other test uses
    result = box.exec(f"sleep {marker} & sleep {marker}", timeout=1)
    assert result.killed == "timeout"
    assert result.exit_code is None
    assert 1 <= result.duration_s < 3
    assert processes_running(f"sleep\0{marker}") == []


def test_background_children_do_not_outlive_a_finished_command(box: BwrapSandbox) -> None:
    marker = str(2000 + uuid.uuid4().int % 1000)
    result = box.exec(f"sleep {marker} & echo started")
    assert result.stdout == "started\n"
    assert result.duration_s < 2
    assert processes_running(f"sleep\0{marker}") == []


def test_fork_bomb_is_killed_at_the_process_limit(box: BwrapSandbox) -> None:
    _require_cgroup(box, "pids")
    result = box.exec(FORK_BOMB)
    assert result.killed == "processes"
    assert result.exit_code is None
    assert result.duration_s < 5
    # Every copy of the bomb is a fork of the same shell, so they share its command line.
    assert processes_running("bomb()") == []


def test_memory_bomb_is_killed_by_the_memory_limit(box: BwrapSandbox) -> None:
    _require_cgroup(box, "memory")
    result = box.exec(MEMORY_BOMB)
    assert result.killed == "memory"
    assert result.exit_code is None


def test_filling_tmpfs_counts_as_memory(box: BwrapSandbox) -> None:
    # /tmp and /dev/shm live in memory: writing them must not escape the memory limit.
    fill = "i=0; while head -c 1000000 /dev/zero > /dev/shm/f$i; do i=$((i+1)); done; echo $i"
    result = box.exec(fill)
    assert result.killed == "memory" or "No space left" in result.stderr
    if result.killed is None:
        assert int(result.stdout) * 1_000_000 <= SMALL.memory_bytes


def test_memory_limit_without_cgroups_falls_back_to_address_space(
    box: BwrapSandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr("aar.sandbox.bwrap.find_parents", lambda: None)
    spec = SandboxSpec(workspace=workspace(tmp_path), limits=SMALL)
    with BwrapSandbox(spec) as plain:
        assert plain.uses_cgroups == {"pids": False, "memory": False}
        assert plain.exec("python -c 'print(1)'").stdout == "1\n"
        result = plain.exec(MEMORY_BOMB)
    assert result.exit_code == 1
    assert "MemoryError" in result.stderr


def test_cpu_time_limit_stops_a_busy_loop(tmp_path: Path) -> None:
    require_bwrap()
    limits = dataclasses.replace(SMALL, cpu_seconds=1)
    with BwrapSandbox(SandboxSpec(workspace=workspace(tmp_path), limits=limits)) as sandbox:
        result = sandbox.exec("python -c 'while True: pass'", timeout=10)
    assert result.killed == "cpu time"
    assert result.duration_s < 5


def test_one_big_file_stops_at_the_file_size_limit(box: BwrapSandbox) -> None:
    result = box.exec("head -c 50000000 /dev/zero > big")
    assert result.killed == "file size"
    assert (box.workspace.root / "big").stat().st_size <= SMALL.file_bytes


def test_many_files_stop_at_the_workspace_limit(box: BwrapSandbox) -> None:
    fill = "i=0; while true; do head -c 1000000 /dev/zero > f$i; i=$((i+1)); done"
    result = box.exec(fill, timeout=8)
    assert result.killed == "workspace full"
    assert result.duration_s < 4
    # It is stopped, not undone: the next command may shrink the workspace but not grow it.
    again = box.exec("head -c 1000000 /dev/zero > more; sleep 5", timeout=8)
    assert again.killed == "workspace full"
    assert box.exec("rm -f f* more").exit_code == 0
    assert HostWorkspace(box.workspace.root).usage() < SMALL.workspace_bytes


def test_a_burst_over_the_workspace_limit_is_reported_even_when_it_ends_first(
    box: BwrapSandbox,
) -> None:
    # Faster than the watchdog's first walk: the final check still reports it.
    result = box.exec("for i in 1 2 3 4 5; do head -c 1900000 /dev/zero > f$i; done")
    assert result.killed == "workspace full"
    assert result.exit_code == 0


def test_empty_files_count_against_the_workspace_limit(box: BwrapSandbox) -> None:
    # Each file costs an inode: a million empty files would exhaust the disk another way.
    result = box.exec("mkdir d && cd d && i=0; while true; do : > $i; i=$((i+1)); done", timeout=8)
    assert result.killed == "workspace full"


def _run_in_thread(box: BwrapSandbox, command: str) -> tuple[threading.Thread, list[ExecResult]]:
    results: list[ExecResult] = []
    thread = threading.Thread(target=lambda: results.append(box.exec(command)))
    thread.start()
    return thread, results


def test_a_bomb_in_one_sandbox_leaves_another_sandbox_working(tmp_path: Path) -> None:
    require_bwrap()
    spec_a = SandboxSpec(workspace=workspace(tmp_path / "a"), limits=SMALL)
    spec_b = SandboxSpec(workspace=workspace(tmp_path / "b"), limits=SMALL)
    with BwrapSandbox(spec_a) as first, BwrapSandbox(spec_b) as second:
        _require_cgroup(first, "pids")  # as root, only a pids cgroup stops a fork bomb
        bombs = [_run_in_thread(first, bomb) for bomb in (FORK_BOMB, MEMORY_BOMB)]
        time.sleep(0.1)
        started = time.monotonic()
        result = second.exec("echo fine; ls /proc | grep -cE '^[0-9]+$'")
        took = time.monotonic() - started
        for thread, _ in bombs:
            thread.join(timeout=15)
    assert result.stdout.split()[0] == "fine"
    assert int(result.stdout.split()[1]) <= 4  # it sees none of the bomb's processes
    assert took < 5
    assert all(not thread.is_alive() and results[0].killed for thread, results in bombs)


def test_no_cgroup_is_left_behind(box: BwrapSandbox) -> None:
    _require_cgroup(box, "pids")
    for command in ("true", FORK_BOMB, "sleep 5"):
        box.exec(command, timeout=1)
    mine = f"aar-{os.getpid()}-"
    for root in Path("/sys/fs/cgroup").glob("*"):
        assert not any(path.name.startswith(mine) for path in root.rglob("aar-*"))
