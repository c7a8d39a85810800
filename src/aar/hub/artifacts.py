"""Content-addressed, immutable storage of snapshot archives over fsspec.

    store = store_for(settings.resolved_artifact_url)   # one instance per URL (and options)
    sha = store.put(data)        # writes <url>/snapshots/<sha[:2]>/<sha>.tar.gz if absent
    data = store.get(sha)        # the bytes, checked against their sha256
    store.exists(sha)

The URL is anything fsspec understands: a local folder (the hub's default,
``<dir>/artifacts``), ``file://...``, ``s3://bucket/prefix``, ``gs://...``, ``memory://...``.
An object is written once and never overwritten: on a local folder it is written to a
temporary name and hard-linked into place (which fails if the name exists, so two concurrent
uploads cannot clobber each other) and made read-only; elsewhere it is written as one whole
object with ``mode="create"`` (on S3 a conditional ``If-None-Match: *`` PUT) after an
existence check.

Storage options (credentials, endpoints) come from the environment, read when a store is
built, never at import:

- ``AAR_ARTIFACT_OPTIONS``: a JSON object passed to fsspec as storage options, e.g.
  ``{"client_kwargs": {"endpoint_url": "http://127.0.0.1:9000"}}`` for an S3-compatible
  server, or ``{"anon": false, "key": "...", "secret": "..."}``;
- for S3, the standard AWS variables work as well, read by botocore through s3fs:
  ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_DEFAULT_REGION`` and
  ``AWS_ENDPOINT_URL`` (honoured by botocore >= 1.31; checked with s3fs 2026.9 and a
  ``moto_server`` on loopback).

fsspec reuses one filesystem instance per set of storage options, so an endpoint changed in
the environment of a running process is seen only by a store built with
``{"skip_instance_cache": true}`` or with different options.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import threading
import uuid
from pathlib import Path
from typing import Any

import fsspec.core
from fsspec.implementations.local import LocalFileSystem

OPTIONS_ENV = "AAR_ARTIFACT_OPTIONS"
SHA256 = re.compile(r"^[0-9a-f]{64}$")


class ArtifactError(OSError):
    """A stored object is missing or does not match its content address."""


class ArtifactStore:
    """Snapshot archives under ``<url>/snapshots/``, named by their sha256."""

    def __init__(self, url: str, options: dict[str, Any] | None = None) -> None:
        self.url = url
        self.options = _env_options() if options is None else options
        self.fs, root = fsspec.core.url_to_fs(url, **self.options)
        self.root = str(root).rstrip("/")
        self.local = isinstance(self.fs, LocalFileSystem)

    def path(self, sha: str) -> str:
        """Where the archive with this sha256 lives, in the filesystem's own terms."""
        if not SHA256.match(sha):
            raise ValueError(f"{sha!r} is not a lowercase hex sha256")
        return f"{self.root}/snapshots/{sha[:2]}/{sha}.tar.gz"

    def exists(self, sha: str) -> bool:
        return bool(self.fs.exists(self.path(sha)))

    def put(self, data: bytes) -> str:
        """Store ``data`` under its sha256 unless already there; return the sha256."""
        sha = hashlib.sha256(data).hexdigest()
        path = self.path(sha)
        if self.local:
            _put_local(Path(path), data)
        elif not self.fs.exists(path):
            with contextlib.suppress(FileExistsError):  # someone else stored the same bytes
                self.fs.pipe_file(path, data, mode="create")
        return sha

    def get(self, sha: str) -> bytes:
        """The stored bytes; ``ArtifactError`` if missing or not matching ``sha``."""
        try:
            data = bytes(self.fs.cat_file(self.path(sha)))
        except FileNotFoundError as error:
            raise ArtifactError(f"no stored archive with sha256 {sha}") from error
        if hashlib.sha256(data).hexdigest() != sha:
            raise ArtifactError(f"the stored archive {sha} does not match its sha256")
        return data


def _put_local(path: Path, data: bytes) -> None:
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with temporary.open("xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.chmod(0o444)
        try:
            os.link(temporary, path)  # atomic and never replaces an existing file
        except FileExistsError:
            pass
        except OSError:  # a filesystem without hard links
            if not path.exists():
                os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _env_options() -> dict[str, Any]:
    raw = os.environ.get(OPTIONS_ENV, "").strip()
    if not raw:
        return {}
    try:
        options = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ValueError(f"{OPTIONS_ENV} is not valid JSON: {error}") from error
    if not isinstance(options, dict):
        raise ValueError(f"{OPTIONS_ENV} must be a JSON object of fsspec storage options")
    return options


_STORES: dict[tuple[str, str], ArtifactStore] = {}
_STORES_LOCK = threading.Lock()


def store_for(url: str) -> ArtifactStore:
    """The store for ``url`` with the options now in the environment, built once and reused."""
    key = (url, os.environ.get(OPTIONS_ENV, ""))
    with _STORES_LOCK:
        store = _STORES.get(key)
        if store is None:
            store = _STORES[key] = ArtifactStore(url)
        return store
