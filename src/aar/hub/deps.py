"""Typed request dependencies: the hub's state, a database session, the calling account."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Annotated

import anyio
from fastapi import Depends, HTTPException, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from aar.hub.models import Account
from aar.hub.security import hash_token
from aar.hub.state import OPERATOR, HubState


def hub_state(request: Request) -> HubState:
    state: HubState = request.app.state.hub
    return state


WRITES = {"POST", "PUT", "PATCH", "DELETE"}


async def write_turn(
    request: Request, state: Annotated[HubState, Depends(hub_state)]
) -> AsyncIterator[None]:
    """Requests that may write hold the process's write turn (SQLite) for their transaction.

    The wait happens on threads of its own limiter: if waiters took the worker threads that
    handlers run on, the request holding the turn could never finish (a deadlock).
    """
    lock = state.writer
    if request.method not in WRITES or lock is None:
        yield
        return
    await anyio.to_thread.run_sync(lock.acquire, limiter=state.lock_waiters())
    try:
        yield
    finally:
        lock.release()


def db_session(
    state: Annotated[HubState, Depends(hub_state)], _turn: Annotated[None, Depends(write_turn)]
) -> Iterator[Session]:
    """A session whose transaction commits when the handler returns and rolls back if it raises."""
    with state.sessions.begin() as session:
        yield session


def current_account(request: Request, session: Annotated[Session, Depends(db_session)]) -> Account:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(401, "missing bearer token (Authorization: Bearer <token>)")
    account = session.scalar(select(Account).where(Account.token_hash == hash_token(token.strip())))
    if account is None:
        raise HTTPException(401, "invalid token")
    request.state.actor = account.name
    if account.status == "stopped":
        raise HTTPException(403, f"account {account.name} is stopped")
    return account


def operator_account(account: Annotated[Account, Depends(current_account)]) -> Account:
    if account.role != OPERATOR:
        raise HTTPException(403, "this endpoint is for the operator only")
    return account


def researcher_account(account: Annotated[Account, Depends(current_account)]) -> Account:
    if account.role == OPERATOR:
        raise HTTPException(403, "this endpoint is for researchers; the operator has no budget")
    if account.status == "paused":
        raise HTTPException(403, f"account {account.name} is paused by the operator")
    return account


SessionDep = Annotated[Session, Depends(db_session)]
AccountDep = Annotated[Account, Depends(current_account)]
OperatorDep = Annotated[Account, Depends(operator_account)]
ResearcherDep = Annotated[Account, Depends(researcher_account)]
StateDep = Annotated[HubState, Depends(hub_state)]
