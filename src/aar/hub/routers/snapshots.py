"""Snapshots: researchers share workspaces as tar.gz archives, content-addressed and immutable.

    POST /snapshots?parent_id=s_...&note=...   body: the tar.gz (Content-Type application/gzip)
    GET  /snapshots?author=alice&limit=100     newest first
    GET  /snapshots/{id}                       metadata
    GET  /snapshots/{id}/archive               the tar.gz bytes
    GET  /snapshots/{id}/lineage               the snapshot, its parent, its parent's parent...

Any account may upload and any account may read any snapshot (sharing code is the point).
An upload is refused with 413 above ``snapshot_max_bytes`` (the body-limit middleware) and
with 422 when ``archives.check`` finds it unsafe or not a tar.gz; nothing is stored then.
The bytes go to the artifact store (``settings.resolved_artifact_url``, any fsspec URL) at
their sha256, written once: uploading the same content twice makes two snapshot records that
point at one stored object.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from aar.hub.archives import ArchiveError, check
from aar.hub.artifacts import ArtifactError, ArtifactStore, store_for
from aar.hub.deps import AccountDep, SessionDep, StateDep
from aar.hub.models import Account, Snapshot
from aar.hub.schemas import SnapshotPublic
from aar.hub.state import HubState

router = APIRouter(tags=["snapshots"])

ARCHIVE_TYPES = {
    "application/gzip",
    "application/x-gzip",
    "application/x-tar+gzip",
    "application/x-compressed-tar",
    "application/octet-stream",
}
MAX_LINEAGE = 10_000
SNAPSHOT_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


async def archive_body(request: Request) -> bytes:
    """The raw request body (the body-limit middleware has already bounded its size)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind and kind not in ARCHIVE_TYPES:
        raise HTTPException(415, f"send the archive as application/gzip (a tar.gz), not {kind}")
    return await request.body()


ArchiveBody = Annotated[bytes, Depends(archive_body)]


@router.post(
    "/snapshots",
    response_model=SnapshotPublic,
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/gzip": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
    responses={413: {"description": "larger than snapshot_max_bytes"}},
)
def upload(
    account: AccountDep,
    data: ArchiveBody,
    session: SessionDep,
    state: StateDep,
    parent_id: Annotated[str | None, Query(max_length=64)] = None,
    note: Annotated[str, Query(max_length=2000)] = "",
) -> SnapshotPublic:
    """Store a workspace archive (tar.gz) and record it as a snapshot of the caller."""
    if parent_id is not None and _lookup(session, parent_id) is None:
        raise HTTPException(404, f"no snapshot with id {parent_id!r} (the parent_id)")
    if "\x00" in note:
        raise HTTPException(422, "note must not contain NUL characters")
    if not data:
        raise HTTPException(422, "the request body is empty; send the workspace as a tar.gz")
    try:
        check(data)
    except ArchiveError as error:
        raise HTTPException(422, f"archive refused: {error}") from error
    sha = _store(state).put(data)
    snapshot = Snapshot(
        id=f"s_{uuid.uuid4().hex[:16]}",
        account_id=account.id,
        sha256=sha,
        size=len(data),
        parent_id=parent_id,
        note=note,
    )
    session.add(snapshot)
    session.flush()
    return _public(snapshot, account.name)


@router.get("/snapshots", response_model=list[SnapshotPublic])
def list_snapshots(
    _account: AccountDep,
    session: SessionDep,
    author: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[SnapshotPublic]:
    """Snapshots, newest first, optionally only one author's."""
    query = select(Snapshot, Account.name).join(Account, Snapshot.account_id == Account.id)
    if author is not None:
        if "\x00" in author:
            return []  # no account name holds one (and PostgreSQL refuses them in queries)
        query = query.where(Account.name == author)
    query = query.order_by(Snapshot.created_at.desc(), Snapshot.id).limit(limit)
    return [_public(snapshot, name) for snapshot, name in session.execute(query)]


@router.get("/snapshots/{snapshot_id}", response_model=SnapshotPublic)
def get_snapshot(snapshot_id: str, _account: AccountDep, session: SessionDep) -> SnapshotPublic:
    """One snapshot's metadata."""
    snapshot = find_snapshot(session, snapshot_id)
    return _public(snapshot, _author(session, snapshot))


@router.get(
    "/snapshots/{snapshot_id}/archive",
    response_class=Response,
    responses={200: {"content": {"application/gzip": {}}, "description": "the tar.gz"}},
)
def download(
    snapshot_id: str, _account: AccountDep, session: SessionDep, state: StateDep
) -> Response:
    """The snapshot's tar.gz, exactly as uploaded."""
    snapshot = find_snapshot(session, snapshot_id)
    try:
        data = _store(state).get(snapshot.sha256)
    except ArtifactError as error:
        raise HTTPException(500, f"snapshot {snapshot_id}: {error}") from error
    return Response(
        data,
        media_type="application/gzip",
        headers={
            "Content-Disposition": f'attachment; filename="{snapshot.id}.tar.gz"',
            "ETag": f'"{snapshot.sha256}"',
        },
    )


@router.get("/snapshots/{snapshot_id}/lineage", response_model=list[SnapshotPublic])
def lineage(snapshot_id: str, _account: AccountDep, session: SessionDep) -> list[SnapshotPublic]:
    """The snapshot first, then its parent, and so on up to the first snapshot of the line."""
    chain = [find_snapshot(session, snapshot_id)]
    while (parent := chain[-1].parent_id) is not None and len(chain) < MAX_LINEAGE:
        found = session.get(Snapshot, parent)
        if found is None or found in chain:
            break
        chain.append(found)
    names = _authors(session, {s.account_id for s in chain})
    return [_public(s, names[s.account_id]) for s in chain]


def find_snapshot(session: Session, snapshot_id: str) -> Snapshot:
    snapshot = _lookup(session, snapshot_id)
    if snapshot is None:
        raise HTTPException(404, f"no snapshot with id {snapshot_id!r}")
    return snapshot


def _lookup(session: Session, snapshot_id: str) -> Snapshot | None:
    # ids are "s_" + hex; anything else (NUL bytes included) cannot name a snapshot
    return session.get(Snapshot, snapshot_id) if SNAPSHOT_ID.match(snapshot_id) else None


def _store(state: HubState) -> ArtifactStore:
    return store_for(state.settings.resolved_artifact_url)


def _author(session: Session, snapshot: Snapshot) -> str:
    return _authors(session, {snapshot.account_id})[snapshot.account_id]


def _authors(session: Session, ids: set[int]) -> dict[int, str]:
    rows = session.execute(select(Account.id, Account.name).where(Account.id.in_(ids)))
    return {account_id: name for account_id, name in rows}


def _public(snapshot: Snapshot, author: str) -> SnapshotPublic:
    return SnapshotPublic(
        id=snapshot.id,
        sha256=snapshot.sha256,
        size=snapshot.size,
        parent_id=snapshot.parent_id,
        note=snapshot.note,
        author=author,
        created_at=snapshot.created_at,
    )
