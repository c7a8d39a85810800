"""The hub under hostile uploads: archive checks run outside the write lock on a bounded pool,
a compression-ratio cap stops gzip bombs, and per-researcher quotas stop a flood of archives.

Everything goes through the HTTP interface; nothing is timed. "In progress" is read from the
operator's ``/stats`` (``archive_checks``), so the tests assert what happens while a check
runs, not how long anything took.
"""

from __future__ import annotations

import gzip
import os
import tarfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aar.hub.archives import pack
from aar.hub.client import BudgetExceededError, HubClient
from tests.hubkit import Hub, noisy, running_hub, toy_task

GZIP = {"Content-Type": "application/gzip"}
CHUNK = 1 << 24  # 16 MiB of zeros: one gzip member of about 16 KB


def gzip_bomb(expanded: int) -> bytes:
    """A tar.gz of one file of ``expanded`` zero bytes (a multiple of 16 MiB), ~1000× smaller.

    Built in milliseconds from repeated gzip members (a gzip stream may hold many): what a
    researcher would send, without compressing a gigabyte in the test.
    """
    assert expanded % CHUNK == 0
    info = tarfile.TarInfo("zeros.bin")
    info.size = expanded
    header = gzip.compress(info.tobuf(tarfile.USTAR_FORMAT), mtime=0)
    zeros = gzip.compress(b"\0" * CHUNK, mtime=0)
    end = gzip.compress(b"\0" * 1024, mtime=0)  # the two empty blocks that end a tar
    return header + zeros * (expanded // CHUNK) + end


def workspace(root: Path, marker: str = "v1") -> Path:
    root.mkdir(parents=True)
    (root / "method.py").write_text(f"import numpy as np\nVERSION = {marker!r}\n")
    (root / "notes.md").write_text("what I tried\n")
    return root


def stored_files(hub: Hub) -> list[Path]:
    root = hub.settings.dir / "artifacts" / "snapshots"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def checks_in_progress(hub: Hub) -> int:
    return int(hub.operator.http.get("/stats").json()["archive_checks"])


def wait_until(condition: Callable[[], bool], what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.01)


def upload_in_background(client: HubClient, data: bytes) -> tuple[threading.Thread, list[Any]]:
    answers: list[Any] = []

    def send() -> None:
        answers.append(client.http.post("/snapshots", content=data, headers=GZIP))

    thread = threading.Thread(target=send)
    thread.start()
    return thread, answers


def test_a_gzip_bomb_being_checked_blocks_no_one(tmp_path: Path) -> None:
    task, labels = toy_task()
    # 768 MiB of zeros in about 800 KB: its check takes seconds, many times what the requests
    # below need, so they run while it holds the slot even on a slow machine
    bomb = gzip_bomb(48 * CHUNK)
    # ratio cap off, one worker and no queue: the bomb is decompressed in full and holds
    # the only slot, so the hub's answers to everyone else while it runs can be checked
    settings = {"snapshot_max_ratio": 1e9, "snapshot_check_workers": 1, "snapshot_check_queue": 0}
    with running_hub(tmp_path, **settings) as hub:
        hub.operator.register_task(task)
        mallory, alice, bob = (hub.researcher(name) for name in ("mallory", "alice", "bob"))
        thread, answers = upload_in_background(mallory, bomb)
        wait_until(lambda: checks_in_progress(hub) == 1, "the bomb's check to start")

        submitted = alice.submit("toy", noisy(labels, 0.2, 1), method="m")
        posted = bob.post("result", "meanwhile", "the forum works too")
        again = mallory.http.post(
            "/snapshots", content=pack(workspace(tmp_path / "m")), headers=GZIP
        )
        busy = bob.http.post("/snapshots", content=pack(workspace(tmp_path / "b")), headers=GZIP)
        still_checking = checks_in_progress(hub)

        thread.join()
    assert still_checking == 1, "the submission waited for the bomb's check to finish"
    assert submitted.public_accuracy > 0.5
    assert posted["author"] == "bob"
    assert again.status_code == 429
    assert "already has an upload in progress" in again.text
    assert busy.status_code == 503
    assert busy.headers["Retry-After"].isdigit()
    assert answers[0].status_code == 201  # ratio cap off: zeros are a valid archive


def test_the_compression_ratio_cap_refuses_a_bomb_and_stores_nothing(tmp_path: Path) -> None:
    bomb = gzip_bomb(64 * CHUNK)  # 1 GiB of zeros in about a megabyte: a ratio near 1000
    with running_hub(tmp_path) as hub:
        alice = hub.researcher("alice")
        refused = alice.http.post("/snapshots", content=bomb, headers=GZIP)
        assert refused.status_code == 422
        detail = refused.json()["detail"]
        assert "100 times its compressed size" in detail
        assert "compression-ratio cap" in detail
        assert stored_files(hub) == []
        assert alice.snapshots() == []
        honest = alice.upload_snapshot(workspace(tmp_path / "ws"))  # ordinary archives pass
        assert alice.snapshot(honest.id).size == honest.size


def test_the_snapshot_count_quota_refuses_before_the_check(tmp_path: Path) -> None:
    with running_hub(tmp_path, snapshot_quota_count=2) as hub:
        alice, bob = hub.researcher("alice"), hub.researcher("bob")
        for index in range(2):
            alice.upload_snapshot(workspace(tmp_path / f"a{index}", f"v{index}"))
        kept = stored_files(hub)
        with pytest.raises(BudgetExceededError) as refused:
            alice.upload_snapshot(workspace(tmp_path / "a2", "v2"))
        assert refused.value.status == 429
        assert "has stored 2 snapshots, the limit is 2" in refused.value.detail
        assert "does not reset" in refused.value.detail
        assert refused.value.resets_at is None
        garbage = alice.http.post("/snapshots", content=b"not even an archive", headers=GZIP)
        assert garbage.status_code == 429  # refused before the archive is looked at
        assert stored_files(hub) == kept
        assert len(alice.snapshots(author="alice")) == 2
        bob.upload_snapshot(workspace(tmp_path / "b", "mine"))  # the quota is per researcher
        operator = hub.operator.http
        for index in range(3):  # the operator is not counted
            data = pack(workspace(tmp_path / f"op{index}", f"op{index}"))
            assert operator.post("/snapshots", content=data, headers=GZIP).status_code == 201


def test_the_snapshot_bytes_quota_counts_the_declared_and_the_real_size(tmp_path: Path) -> None:
    with running_hub(tmp_path, snapshot_quota_bytes=4096) as hub:
        alice = hub.researcher("alice")
        first = alice.upload_snapshot(workspace(tmp_path / "a", "v1"))
        noise = tmp_path / "noise"
        noise.mkdir()
        (noise / "noise.bin").write_bytes(os.urandom(8192))  # incompressible: over the quota
        big = pack(noise)
        declared = alice.http.post("/snapshots", content=big, headers=GZIP)
        assert declared.status_code == 429
        assert f"has stored {first.size} bytes" in declared.json()["detail"]
        assert "the limit is 4096 bytes" in declared.json()["detail"]
        chunks = [big[i : i + 1024] for i in range(0, len(big), 1024)]
        streamed = alice.http.post("/snapshots", content=iter(chunks), headers=GZIP)
        assert streamed.status_code == 429  # no Content-Length: counted once the body is read
        assert [s.id for s in alice.snapshots()] == [first.id]
        assert len(stored_files(hub)) == 1


def test_a_flood_of_uploads_gets_429_and_leaves_the_quota_intact(tmp_path: Path) -> None:
    """Ten 10 MB snapshots, sent at once: one is checked at a time per researcher, the quota
    caps what is stored, and an honest researcher's upload still goes through."""
    noise = tmp_path / "noise"
    noise.mkdir()
    (noise / "noise.bin").write_bytes(os.urandom(10_000_000))
    big = pack(noise)
    with running_hub(tmp_path / "hub", snapshot_quota_bytes=25_000_000) as hub:
        mallory, alice = hub.researcher("mallory"), hub.researcher("alice")
        threads = [upload_in_background(mallory, big) for _ in range(10)]
        honest = alice.upload_snapshot(workspace(tmp_path / "a"))
        for thread, _ in threads:
            thread.join()
        stored = sum(s.size for s in mallory.snapshots())
    statuses = sorted(answers[0].status_code for _, answers in threads)
    assert 1 <= statuses.count(201) <= 2  # the quota holds two
    assert set(statuses) <= {201, 429}
    refusals = [a[0].json()["detail"] for _, a in threads if a[0].status_code == 429]
    assert all("upload in progress" in r or "snapshot quota reached" in r for r in refusals)
    assert stored <= 25_000_000
    assert honest.author == "alice"
