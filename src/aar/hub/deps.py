"""Typed request dependencies: the hub's state, a database session, the calling account."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import nullcontext
from typing import Annotated, Literal, TypeVar

import anyio
from fastapi import Depends, HTTPException, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from aar.hub.models import Account
from aar.hub.security import bearer, hash_token
from aar.hub.state import OPERATOR, HubState


async def hub_state(request: Request) -> HubState:  # async: no worker-thread hop
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


def bearer_token(request: Request) -> str:
    token = bearer(request.headers.get("authorization", ""))
    if token is None:
        raise HTTPException(401, "missing bearer token (Authorization: Bearer <token>)")
    return token


def find_account(session: Session, token: str) -> Account:
    """The account holding ``token`` (401 when none does)."""
    account = session.scalar(select(Account).where(Account.token_hash == hash_token(token)))
    if account is None:
        raise HTTPException(401, "invalid token")
    return account


def require_active(account: Account) -> Account:
    if account.status == "stopped":
        raise HTTPException(403, f"account {account.name} is stopped")
    return account


def require_operator(account: Account) -> Account:
    if account.role != OPERATOR:
        raise HTTPException(403, "this endpoint is for the operator only")
    return account


def require_researcher(account: Account) -> Account:
    if account.role == OPERATOR:
        raise HTTPException(403, "this endpoint is for researchers; the operator has no budget")
    if account.status == "paused":
        raise HTTPException(403, f"account {account.name} is paused by the operator")
    return account


def current_account(request: Request, session: Annotated[Session, Depends(db_session)]) -> Account:
    account = find_account(session, bearer_token(request))
    request.state.actor = account.name  # audited as who it is, even when refused below
    return require_active(account)


async def operator_account(account: Annotated[Account, Depends(current_account)]) -> Account:
    return require_operator(account)


async def researcher_account(account: Annotated[Account, Depends(current_account)]) -> Account:
    return require_researcher(account)


T = TypeVar("T")
Role = Literal["any", "researcher", "operator"]


async def in_one_hop(
    request: Request, work: Callable[[Session, Account], T], *, write: bool, role: Role = "any"
) -> T:
    """Authenticate and run ``work(session, account)`` in one transaction on one worker thread.

    The busiest endpoints use this instead of the dependency chain above: under load, each
    hop between the event loop and the thread pool costs more than the database work.
    Writers take the write turn first (SQLite), on threads of their own limiter.
    """
    state: HubState = request.app.state.hub
    token = bearer_token(request)
    checks = {"any": require_active, "researcher": require_researcher, "operator": require_operator}

    def run() -> T:
        with state.write_turn() if write else nullcontext(), state.sessions.begin() as session:
            account = find_account(session, token)
            request.state.actor = account.name
            return work(session, checks[role](require_active(account)))

    limiter = state.lock_waiters() if write else None
    return await anyio.to_thread.run_sync(run, limiter=limiter)


SessionDep = Annotated[Session, Depends(db_session)]
AccountDep = Annotated[Account, Depends(current_account)]
OperatorDep = Annotated[Account, Depends(operator_account)]
ResearcherDep = Annotated[Account, Depends(researcher_account)]
StateDep = Annotated[HubState, Depends(hub_state)]
