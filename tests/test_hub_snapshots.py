"""Hub snapshots: upload, content addressing, immutability, lineage, limits, refusals, and S3.

The S3 tests run the hub against ``moto_server`` on loopback (the ``moto[server]`` dev
dependency); they skip when it is not installed.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from aar.hub.app import create_app
from aar.hub.archives import pack
from aar.hub.artifacts import OPTIONS_ENV, ArtifactStore
from aar.hub.client import HubClient, HubError
from aar.hub.settings import HubSettings

GZIP = {"Content-Type": "application/gzip"}


@dataclass
class Hub:
    app: Any
    settings: HubSettings
    operator_token: str

    def http(self, token: str | None = None) -> TestClient:
        """A fresh test client (no lifespan of its own) carrying ``token``."""
        client = TestClient(self.app)
        if token:
            client.headers["Authorization"] = f"Bearer {token}"
        return client

    def researcher(self, name: str) -> HubClient:
        answer = self.http(self.operator_token).post("/accounts", json={"name": name})
        assert answer.status_code == 201, answer.text
        return HubClient("http://testserver", answer.json()["token"], http=self.http(), retries=0)

    def stored(self) -> list[Path]:
        root = self.settings.dir / "artifacts" / "snapshots"
        return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@contextmanager
def running_hub(folder: Path, **settings: Any) -> Iterator[Hub]:
    hub_settings = HubSettings(dir=folder, **settings)
    app = create_app(hub_settings)
    with TestClient(app):
        token = (folder / "operator.token").read_text().strip()
        yield Hub(app, hub_settings, token)


def workspace(root: Path, marker: str = "v1") -> Path:
    (root / "src").mkdir(parents=True)
    (root / "src" / "method.py").write_text(f"VERSION = {marker!r}\n")
    (root / "notes.md").write_text("what I tried\n")
    (root / "current.py").symlink_to("src/method.py")
    return root


def evil_archive() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("../escaped.txt")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"evil"))
    return buffer.getvalue()


def test_upload_metadata_and_download_round_trip(tmp_path: Path) -> None:
    source = workspace(tmp_path / "ws")
    with running_hub(tmp_path / "hub") as hub:
        alice, bob = hub.researcher("alice"), hub.researcher("bob")
        snap = alice.upload_snapshot(source, note="first try")
        data = pack(source)
        assert snap.id.startswith("s_")
        assert snap.sha256 == hashlib.sha256(data).hexdigest()
        assert (snap.size, snap.author, snap.note, snap.parent_id) == (
            len(data),
            "alice",
            "first try",
            None,
        )
        assert bob.snapshot(snap.id) == snap  # researchers read each other's snapshots
        raw = bob.http.get(f"/snapshots/{snap.id}")
        assert set(raw.json()) == {
            "id",
            "sha256",
            "size",
            "parent_id",
            "note",
            "author",
            "created_at",
        }
        archive = bob.http.get(f"/snapshots/{snap.id}/archive")
        assert archive.status_code == 200
        assert archive.headers["content-type"] == "application/gzip"
        assert archive.content == data
        dest = bob.download_snapshot(snap.id, tmp_path / "copy")
        assert (dest / "src" / "method.py").read_text() == "VERSION = 'v1'\n"
        assert (dest / "notes.md").read_text() == "what I tried\n"
        assert os.readlink(dest / "current.py") == "src/method.py"


def test_same_content_is_stored_once_and_never_rewritten(tmp_path: Path) -> None:
    data = pack(workspace(tmp_path / "ws"))
    sha = hashlib.sha256(data).hexdigest()
    with running_hub(tmp_path / "hub") as hub:
        alice, bob = hub.researcher("alice"), hub.researcher("bob")
        first = alice.upload_snapshot(data)
        [stored] = hub.stored()
        assert stored == hub.settings.dir / "artifacts" / "snapshots" / sha[:2] / f"{sha}.tar.gz"
        assert stored.read_bytes() == data
        assert not os.access(stored, os.W_OK) or os.geteuid() == 0  # read-only on disk
        before = stored.stat().st_mtime_ns, stored.stat().st_ino
        time.sleep(0.02)
        second = bob.upload_snapshot(data, note="same bytes")
        assert first.id != second.id
        assert first.sha256 == second.sha256 == sha
        assert hub.stored() == [stored]  # one object for two records
        assert (stored.stat().st_mtime_ns, stored.stat().st_ino) == before
        assert {s.id for s in alice.snapshots()} == {first.id, second.id}


def test_lineage_listing_and_unknown_parent(tmp_path: Path) -> None:
    with running_hub(tmp_path / "hub") as hub:
        alice, bob = hub.researcher("alice"), hub.researcher("bob")
        root = alice.upload_snapshot(workspace(tmp_path / "a", "v1"), note="root")
        child = bob.upload_snapshot(workspace(tmp_path / "b", "v2"), parent_id=root.id)
        grandchild = alice.upload_snapshot(workspace(tmp_path / "c", "v3"), parent_id=child.id)
        assert child.parent_id == root.id
        assert [s.id for s in alice.lineage(grandchild.id)] == [grandchild.id, child.id, root.id]
        assert [s.author for s in bob.lineage(grandchild.id)] == ["alice", "bob", "alice"]
        assert [s.id for s in alice.lineage(root.id)] == [root.id]
        assert [s.id for s in bob.snapshots()] == [grandchild.id, child.id, root.id]
        assert [s.id for s in bob.snapshots(author="alice")] == [grandchild.id, root.id]
        assert [s.id for s in bob.snapshots(limit=1)] == [grandchild.id]
        assert bob.snapshots(author="nobody") == []
        stored = hub.stored()
        with pytest.raises(HubError, match="no snapshot with id 's_missing'") as refused:
            alice.upload_snapshot(workspace(tmp_path / "d", "v4"), parent_id="s_missing")
        assert refused.value.status == 404
        assert hub.stored() == stored
        assert len(bob.snapshots()) == 3


def test_oversized_upload_is_refused_with_413(tmp_path: Path) -> None:
    folder = tmp_path / "ws"
    folder.mkdir()
    (folder / "noise.bin").write_bytes(os.urandom(8192))  # incompressible
    data = pack(folder)
    assert len(data) > 4096
    with running_hub(tmp_path / "hub", snapshot_max_bytes=4096) as hub:
        alice = hub.researcher("alice")
        with pytest.raises(HubError, match="larger than the limit of 4096 bytes") as refused:
            alice.upload_snapshot(data)
        assert refused.value.status == 413
        chunks = [data[i : i + 1024] for i in range(0, len(data), 1024)]
        streamed = alice.http.post("/snapshots", content=iter(chunks), headers=GZIP)
        assert streamed.status_code == 413  # no Content-Length: counted while reading
        assert hub.stored() == []
        assert alice.snapshots() == []


def test_unsafe_or_invalid_archives_are_refused_and_nothing_is_stored(tmp_path: Path) -> None:
    with running_hub(tmp_path / "hub") as hub:
        alice = hub.researcher("alice")
        with pytest.raises(HubError, match=r"archive refused: .*'\.\.' component") as refused:
            alice.upload_snapshot(evil_archive())
        assert refused.value.status == 422
        for body, reason in [
            (b"not an archive at all", "not a gzip-compressed tar archive"),
            (b"", "the request body is empty"),
        ]:
            answer = alice.http.post("/snapshots", content=body, headers=GZIP)
            assert answer.status_code == 422
            assert reason in answer.json()["detail"]
        wrong_type = alice.http.post(
            "/snapshots", content=b"{}", headers={"Content-Type": "application/json"}
        )
        assert wrong_type.status_code == 415
        assert hub.stored() == []
        assert alice.snapshots() == []
        assert not (tmp_path / "hub" / "escaped.txt").exists()


def test_unknown_ids_and_missing_tokens(tmp_path: Path) -> None:
    with running_hub(tmp_path / "hub") as hub:
        alice = hub.researcher("alice")
        for path in ["/snapshots/s_nope", "/snapshots/s_nope/archive", "/snapshots/s_nope/lineage"]:
            answer = alice.http.get(path)
            assert answer.status_code == 404
            assert answer.json() == {"detail": "no snapshot with id 's_nope'"}
        assert alice.http.get("/snapshots/bad%00id").status_code == 404
        snap = alice.upload_snapshot(workspace(tmp_path / "ws"))
        with pytest.raises(HubError, match="NUL"):
            alice.upload_snapshot(workspace(tmp_path / "ws2"), note="a\x00b")
        assert alice.snapshots(author="a\x00b") == []
        anonymous = hub.http()
        for method, path in [
            ("POST", "/snapshots"),
            ("GET", "/snapshots"),
            ("GET", f"/snapshots/{snap.id}"),
            ("GET", f"/snapshots/{snap.id}/archive"),
            ("GET", f"/snapshots/{snap.id}/lineage"),
        ]:
            refused = anonymous.request(method, path, content=pack(tmp_path / "ws"), headers=GZIP)
            assert refused.status_code == 401, path
        assert hub.http("wrong").get(f"/snapshots/{snap.id}").status_code == 401


def test_the_operator_can_share_and_read_snapshots_too(tmp_path: Path) -> None:
    with running_hub(tmp_path / "hub") as hub:
        operator = hub.http(hub.operator_token)
        data = pack(workspace(tmp_path / "ws"))
        made = operator.post("/snapshots", params={"note": "reference"}, content=data, headers=GZIP)
        assert made.status_code == 201
        assert made.json()["author"] == "operator"
        alice = hub.researcher("alice")
        assert alice.snapshot(made.json()["id"]).note == "reference"


# --- S3 through moto_server on loopback -----------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on 127.0.0.1 for this module's tests; its endpoint URL."""
    server = Path(sys.executable).parent / "moto_server"
    command = str(server) if server.exists() else shutil.which("moto_server")
    if command is None:
        pytest.skip("moto_server (moto[server]) is not installed")
    port = _free_port()
    process = subprocess.Popen(
        [command, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(endpoint, timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"moto_server did not start on {endpoint}")
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def s3_bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket on the moto server, with test credentials in the environment."""
    import boto3

    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    name = f"aar-{os.urandom(4).hex()}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=name)
    return name


def test_hub_stores_snapshots_on_s3(
    tmp_path: Path, s3_endpoint: str, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    options = {"client_kwargs": {"endpoint_url": s3_endpoint}}
    monkeypatch.setenv(OPTIONS_ENV, json.dumps(options))
    source = workspace(tmp_path / "ws")
    data = pack(source)
    sha = hashlib.sha256(data).hexdigest()
    with running_hub(tmp_path / "hub", artifact_url=f"s3://{s3_bucket}/campaign") as hub:
        alice, bob = hub.researcher("alice"), hub.researcher("bob")
        first = alice.upload_snapshot(source, note="on s3")
        second = bob.upload_snapshot(data, parent_id=first.id)
        assert first.sha256 == second.sha256 == sha
        dest = bob.download_snapshot(first.id, tmp_path / "copy")
        assert (dest / "src" / "method.py").read_text() == "VERSION = 'v1'\n"
        assert [s.id for s in bob.lineage(second.id)] == [second.id, first.id]
        assert not (tmp_path / "hub" / "artifacts").exists()  # nothing went to the local default
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    key = f"campaign/snapshots/{sha[:2]}/{sha}.tar.gz"
    assert s3.get_object(Bucket=s3_bucket, Key=key)["Body"].read() == data
    listed = s3.list_objects_v2(Bucket=s3_bucket)["Contents"]
    assert [item["Key"] for item in listed] == [key]  # two records, one object


def test_s3_store_honours_aws_endpoint_url_and_never_overwrites(
    s3_endpoint: str, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    store = ArtifactStore(f"s3://{s3_bucket}/env", options={"skip_instance_cache": True})
    sha = store.put(b"\x1f\x8bsome bytes")
    assert store.exists(sha)
    assert store.get(sha) == b"\x1f\x8bsome bytes"
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    key = f"env/snapshots/{sha[:2]}/{sha}.tar.gz"
    etag = s3.head_object(Bucket=s3_bucket, Key=key)["ETag"]
    s3.put_object(Bucket=s3_bucket, Key=key, Body=b"tampered")  # someone writes behind our back
    assert store.put(b"\x1f\x8bsome bytes") == sha  # present: not written again
    assert s3.head_object(Bucket=s3_bucket, Key=key)["ETag"] != etag
    with pytest.raises(OSError, match="does not match its sha256"):
        store.get(sha)
