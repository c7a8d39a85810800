"""Accounts: the operator creates researchers and their tokens; anyone can ask who they are."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from sqlalchemy import func, select

from aar.hub.budgets import budget_of
from aar.hub.deps import AccountDep, OperatorDep, SessionDep, StateDep
from aar.hub.models import Account, AuditEntry, Scoring
from aar.hub.schemas import (
    AccountCreate,
    AccountCreated,
    AccountOperator,
    AccountPublic,
    AccountUpdate,
)
from aar.hub.security import hash_token, new_token
from aar.hub.state import OPERATOR

router = APIRouter(tags=["accounts"])


@router.get("/me", response_model=AccountPublic)
def me(account: AccountDep) -> Account:
    """The calling account."""
    return account


@router.post("/accounts", response_model=AccountCreated, status_code=201)
def create_account(body: AccountCreate, _op: OperatorDep, session: SessionDep) -> AccountCreated:
    """Create a researcher; the answer carries its token, which the hub never shows again."""
    if session.scalar(select(Account).where(Account.name == body.name)) is not None:
        raise HTTPException(409, f"an account named {body.name!r} already exists")
    token = new_token()
    session.add(
        Account(
            name=body.name,
            role="researcher",
            token_hash=hash_token(token),
            per_hour=body.per_hour,
            total=body.total,
        )
    )
    return AccountCreated(name=body.name, role="researcher", token=token)


@router.get("/accounts", response_model=list[AccountOperator])
def list_accounts(_op: OperatorDep, session: SessionDep, state: StateDep) -> list[AccountOperator]:
    """Every account with its budget use, flags and last activity."""
    return [
        _operator_view(session, state, a)
        for a in session.scalars(select(Account).order_by(Account.id))
    ]


@router.patch("/accounts/{name}", response_model=AccountOperator)
def update_account(
    name: str, body: AccountUpdate, _op: OperatorDep, session: SessionDep, state: StateDep
) -> AccountOperator:
    """Pause, resume or stop a researcher, or change its budget."""
    account = session.scalar(select(Account).where(Account.name == name))
    if account is None:
        raise HTTPException(404, f"no account named {name!r}")
    if account.role == OPERATOR:
        raise HTTPException(422, "the operator account's status and budget cannot be changed")
    for field, value in body.model_dump(exclude_none=True).items():  # null: leave unchanged
        setattr(account, field, value)
    session.flush()
    return _operator_view(session, state, account)


def _operator_view(session: SessionDep, state: StateDep, account: Account) -> AccountOperator:
    flagged = (
        session.scalar(
            select(func.count()).where(Scoring.account_id == account.id, Scoring.flagged)
        )
        or 0
    )
    last_seen = session.scalar(
        select(func.max(AuditEntry.at)).where(AuditEntry.actor == account.name)
    )
    return AccountOperator(
        name=account.name,
        role=account.role,
        status=account.status,
        created_at=account.created_at,
        budget=budget_of(session, account, state.settings),
        flagged=flagged,
        last_seen=last_seen,
    )
