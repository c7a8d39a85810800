"""Snapshots: researchers share workspaces as tar.gz archives, content-addressed and immutable.

    POST /snapshots?parent_id=s_...&note=...   body: the tar.gz (Content-Type application/gzip)
    GET  /snapshots?author=alice&limit=100     newest first (operator: &flagged=true)
    GET  /snapshots/{id}                       metadata (the operator also sees flag_reason)
    GET  /snapshots/{id}/archive               the tar.gz bytes
    GET  /snapshots/{id}/lineage               the snapshot, its parent, its parent's parent...

Any account may upload and any account may read any snapshot (sharing code is the point).
The bytes go to the artifact store (``settings.resolved_artifact_url``, any fsspec URL) at
their sha256, written once: uploading the same content twice makes two snapshot records that
point at one stored object.

An upload holds no database session or write turn until its last step, so a slow or hostile
archive never makes other researchers wait:

1. the token, ``note`` (422) and ``parent_id`` (404) are checked, then the researcher's quota:
   ``snapshot_quota_count`` snapshots and ``snapshot_quota_bytes`` bytes in all, counting
   this upload's declared size (429; a quota never resets, the operator is not counted);
2. an account has one upload in progress at a time (429 with Retry-After); the body is read
   (413 above ``snapshot_max_bytes``, by the body-limit middleware);
3. ``archives.check`` and the snapshot scan (``aar.hub.snapshot_scan``) run on the worker
   pool of ``aar.hub.archive_pool``: 422 when the archive is unsafe, not a tar.gz, or expands
   beyond ``snapshot_max_ratio`` times its size (a likely gzip bomb, stopped as soon as the
   cap is passed); 503 with Retry-After when every worker and queue slot is busy;
4. the bytes are stored (content-addressed, so a repeat is harmless);
5. one short write transaction checks the quota again and inserts the row, with the scan's
   verdict on ``flag_reason`` (a flagged snapshot is stored; only the operator sees why).

Nothing is stored when steps 1–3 refuse.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from functools import partial
from typing import Annotated

import anyio
from fastapi import APIRouter, HTTPException, Query, Request, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aar.hub.archive_pool import PoolFull, UploadInProgress
from aar.hub.archives import ArchiveError
from aar.hub.artifacts import ArtifactError, ArtifactStore, store_for
from aar.hub.db import lock_account
from aar.hub.deps import AccountDep, SessionDep, StateDep, in_one_hop, require_operator
from aar.hub.models import Account, Snapshot
from aar.hub.schemas import SnapshotOperator, SnapshotPublic
from aar.hub.settings import HubSettings
from aar.hub.snapshot_scan import ScanRules
from aar.hub.state import OPERATOR, HubState

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
AnySnapshot = SnapshotOperator | SnapshotPublic  # the operator's view first: it has more fields


@dataclass(frozen=True)
class Uploader:
    id: int
    name: str
    quota: bool  # whether the quotas apply (not to the operator)
    stored_bytes: int


@router.post(
    "/snapshots",
    response_model=AnySnapshot,
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/gzip": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
    responses={
        413: {"description": "larger than snapshot_max_bytes"},
        422: {"description": "not a safe tar.gz, or over the compression-ratio cap"},
        429: {"description": "over the snapshot quota, or an upload already in progress"},
        503: {"description": "every archive-check worker is busy (see Retry-After)"},
    },
)
async def upload(
    request: Request,
    parent_id: Annotated[str | None, Query(max_length=64)] = None,
    note: Annotated[str, Query(max_length=2000)] = "",
) -> SnapshotPublic:
    """Store a workspace archive (tar.gz) and record it as a snapshot of the caller."""
    state: HubState = request.app.state.hub
    settings = state.settings
    declared = _declared_size(request)
    admit = partial(_admit, settings, parent_id, note, declared)
    uploader = await in_one_hop(request, admit, write=False)
    _check_content_type(request)
    try:
        with state.archive_checks.one_upload(uploader.id):
            data = await request.body()
            _check_body(settings, uploader, data)
            flag = await state.archive_checks.inspect(
                data, settings.snapshot_max_ratio, scan_rules(settings)
            )
    except UploadInProgress as error:
        raise HTTPException(
            429, f"{error}: wait for it to finish", headers={"Retry-After": "1"}
        ) from error
    except PoolFull as error:
        raise HTTPException(
            503, f"{error}; retry later", headers={"Retry-After": str(error.retry_after)}
        ) from error
    except ArchiveError as error:
        raise HTTPException(422, f"archive refused: {error}") from error
    sha = await anyio.to_thread.run_sync(_store(state).put, data)
    insert = partial(_insert, settings, parent_id, note, sha, len(data), flag)
    return await in_one_hop(request, insert, write=True)


def scan_rules(settings: HubSettings) -> ScanRules:
    return ScanRules(
        oracle_modules=settings.snapshot_oracle_modules,
        oracle_names=settings.snapshot_oracle_names,
        literal_elements=settings.snapshot_literal_elements,
        blob_chars=settings.snapshot_blob_chars,
    )


def _declared_size(request: Request) -> int:
    declared = request.headers.get("content-length", "")
    return int(declared) if declared.isdigit() else 0


def _check_content_type(request: Request) -> None:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind and kind not in ARCHIVE_TYPES:
        raise HTTPException(415, f"send the archive as application/gzip (a tar.gz), not {kind}")


def _admit(
    settings: HubSettings,
    parent_id: str | None,
    note: str,
    declared: int,
    session: Session,
    account: Account,
) -> Uploader:
    """Check the request and the researcher's quota before the body is even read."""
    if "\x00" in note:
        raise HTTPException(422, "note must not contain NUL characters")
    if parent_id is not None and lookup_snapshot(session, parent_id) is None:
        raise HTTPException(404, f"no snapshot with id {parent_id!r} (the parent_id)")
    uploader = Uploader(account.id, account.name, account.role != OPERATOR, 0)
    if not uploader.quota:
        return uploader
    count, stored = _stored(session, account.id)
    _check_count(settings, account.name, count)
    _check_bytes(settings, account.name, stored, declared)
    return Uploader(account.id, account.name, True, stored)


def _stored(session: Session, account_id: int) -> tuple[int, int]:
    """How many snapshots an account has stored, and their bytes."""
    query = select(func.count(Snapshot.id), func.coalesce(func.sum(Snapshot.size), 0))
    count, size = session.execute(query.where(Snapshot.account_id == account_id)).one()
    return int(count), int(size)


NEVER_RESETS = "the quota does not reset; ask the operator"


def _check_count(settings: HubSettings, name: str, count: int) -> None:
    if count >= settings.snapshot_quota_count:
        raise HTTPException(
            429,
            f"snapshot quota reached: {name} has stored {count} snapshots, "
            f"the limit is {settings.snapshot_quota_count} ({NEVER_RESETS})",
        )


def _check_bytes(settings: HubSettings, name: str, stored: int, adding: int) -> None:
    if stored + adding > settings.snapshot_quota_bytes:
        raise HTTPException(
            429,
            f"snapshot quota reached: {name} has stored {stored} bytes of snapshots and this "
            f"upload has {adding}; the limit is {settings.snapshot_quota_bytes} bytes "
            f"({NEVER_RESETS})",
        )


def _check_body(settings: HubSettings, uploader: Uploader, data: bytes) -> None:
    if not data:
        raise HTTPException(422, "the request body is empty; send the workspace as a tar.gz")
    if uploader.quota:  # the declared size may have been absent (a streamed body)
        _check_bytes(settings, uploader.name, uploader.stored_bytes, len(data))


def _insert(
    settings: HubSettings,
    parent_id: str | None,
    note: str,
    sha: str,
    size: int,
    flag: str | None,
    session: Session,
    account: Account,
) -> SnapshotPublic:
    """The short write transaction: the quota once more (uploads elsewhere), then the row."""
    if account.role != OPERATOR:
        lock_account(session.connection(), account.id)  # other hub processes: one at a time
        count, stored = _stored(session, account.id)
        _check_count(settings, account.name, count)
        _check_bytes(settings, account.name, stored, size)
    snapshot = Snapshot(
        id=f"s_{uuid.uuid4().hex[:16]}",
        account_id=account.id,
        sha256=sha,
        size=size,
        parent_id=parent_id,
        note=note,
        flag_reason=flag,
    )
    session.add(snapshot)
    session.flush()
    return _view(snapshot, account.name, account)


@router.get("/snapshots", response_model=list[AnySnapshot])
def list_snapshots(
    account: AccountDep,
    session: SessionDep,
    author: str | None = None,
    flagged: Annotated[
        bool | None, Query(description="operator only: only flagged (true) or clean (false)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[SnapshotPublic]:
    """Snapshots, newest first, optionally only one author's (or, for the operator, only the
    ones the upload scan flagged)."""
    query = select(Snapshot, Account.name).join(Account, Snapshot.account_id == Account.id)
    if author is not None:
        if "\x00" in author:
            return []  # no account name holds one (and PostgreSQL refuses them in queries)
        query = query.where(Account.name == author)
    if flagged is not None:
        require_operator(account)
        is_flagged = Snapshot.flag_reason.is_not(None)
        query = query.where(is_flagged if flagged else ~is_flagged)
    query = query.order_by(Snapshot.created_at.desc(), Snapshot.id).limit(limit)
    return [_view(snapshot, name, account) for snapshot, name in session.execute(query)]


@router.get("/snapshots/{snapshot_id}", response_model=AnySnapshot)
def get_snapshot(snapshot_id: str, account: AccountDep, session: SessionDep) -> SnapshotPublic:
    """One snapshot's metadata."""
    snapshot = find_snapshot(session, snapshot_id)
    return _view(snapshot, _author(session, snapshot), account)


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


@router.get("/snapshots/{snapshot_id}/lineage", response_model=list[AnySnapshot])
def lineage(snapshot_id: str, account: AccountDep, session: SessionDep) -> list[SnapshotPublic]:
    """The snapshot first, then its parent, and so on up to the first snapshot of the line."""
    chain = [find_snapshot(session, snapshot_id)]
    while (parent := chain[-1].parent_id) is not None and len(chain) < MAX_LINEAGE:
        found = session.get(Snapshot, parent)
        if found is None or found in chain:
            break
        chain.append(found)
    names = _authors(session, {s.account_id for s in chain})
    return [_view(s, names[s.account_id], account) for s in chain]


def find_snapshot(session: Session, snapshot_id: str) -> Snapshot:
    snapshot = lookup_snapshot(session, snapshot_id)
    if snapshot is None:
        raise HTTPException(404, f"no snapshot with id {snapshot_id!r}")
    return snapshot


def lookup_snapshot(session: Session, snapshot_id: str) -> Snapshot | None:
    # ids are "s_" + hex; anything else (NUL bytes included) cannot name a snapshot
    return session.get(Snapshot, snapshot_id) if SNAPSHOT_ID.match(snapshot_id) else None


def _store(state: HubState) -> ArtifactStore:
    return store_for(state.settings.resolved_artifact_url)


def _author(session: Session, snapshot: Snapshot) -> str:
    return _authors(session, {snapshot.account_id})[snapshot.account_id]


def _authors(session: Session, ids: set[int]) -> dict[int, str]:
    rows = session.execute(select(Account.id, Account.name).where(Account.id.in_(ids)))
    return {account_id: name for account_id, name in rows}


def _view(snapshot: Snapshot, author: str, reader: Account) -> SnapshotPublic:
    """The snapshot as ``reader`` may see it: the scan's verdict is for the operator only
    (telling a researcher what tripped the scan would teach it to dodge it)."""
    fields = {
        "id": snapshot.id,
        "sha256": snapshot.sha256,
        "size": snapshot.size,
        "parent_id": snapshot.parent_id,
        "note": snapshot.note,
        "author": author,
        "created_at": snapshot.created_at,
    }
    if reader.role == OPERATOR:
        return SnapshotOperator(**fields, flag_reason=snapshot.flag_reason)
    return SnapshotPublic(**fields)
