"""Accounts: the operator creates researchers and their tokens; anyone can ask who they are."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aar.hub.budgets import budget_of
from aar.hub.deps import AccountDep, OperatorDep, SessionDep, StateDep
from aar.hub.gateway.ledger import spend_of
from aar.hub.models import Account, AuditEntry, Scoring
from aar.hub.schemas import (
    BIG,
    AccountCreate,
    AccountCreated,
    AccountOperator,
    AccountPublic,
    AccountUpdate,
)
from aar.hub.security import hash_token, new_token
from aar.hub.settings import HubSettings
from aar.hub.state import OPERATOR

router = APIRouter(tags=["accounts"])


@router.get("/me", response_model=AccountPublic)
def me(account: AccountDep) -> Account:
    """The calling account."""
    return account


@router.post("/accounts", response_model=AccountCreated, status_code=201)
def create_account(
    body: AccountCreate, _op: OperatorDep, session: SessionDep, state: StateDep
) -> AccountCreated:
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
            model_dollars=body.model_dollars,
            model_tokens=body.model_tokens,
        )
    )
    state.rate_limits.know(hash_token(token), body.name)
    return AccountCreated(name=body.name, role="researcher", token=token)


@router.get("/accounts", response_model=list[AccountOperator])
def list_accounts(_op: OperatorDep, session: SessionDep, state: StateDep) -> list[AccountOperator]:
    """Every account with its budget use, flags and last activity."""
    return [
        _operator_view(session, state.settings, a)
        for a in session.scalars(select(Account).order_by(Account.id))
    ]


@router.patch("/accounts/{name}", response_model=AccountOperator)
def update_account(
    name: str, body: AccountUpdate, _op: OperatorDep, session: SessionDep, state: StateDep
) -> AccountOperator:
    """Pause, resume or stop a researcher, or change its budget (``add_total``: extend or cut)."""
    return change_account(session, state.settings, name, body)


def change_account(
    session: Session, settings: HubSettings, name: str, body: AccountUpdate
) -> AccountOperator:
    """Apply the operator's change to researcher ``name``; the API and the dashboard share it.

    Raises HTTPException (404 unknown name, 422 a change that cannot apply) before it
    changes anything.
    """
    account = session.scalar(select(Account).where(Account.name == name))
    if account is None:
        raise HTTPException(404, f"no account named {name!r}")
    if account.role == OPERATOR:
        raise HTTPException(422, "the operator account's status and budget cannot be changed")
    changes = body.model_dump(exclude_none=True)  # null: leave unchanged
    if "total" in changes or "add_total" in changes:
        changes["total"] = _new_total(session, settings, account, body)
        changes.pop("add_total", None)
    for field, value in changes.items():
        setattr(account, field, value)
    session.flush()
    return _operator_view(session, settings, account)


def _new_total(
    session: Session, settings: HubSettings, account: Account, body: AccountUpdate
) -> int:
    """The total budget ``body`` asks for, checked against what the researcher has used.

    A total below the submissions already made cannot take any back and would only make the
    budget read "12 of 10 used", so it is refused; the message names the lowest total, which
    allows no more submissions.
    """
    if body.total is not None and body.add_total is not None:
        raise HTTPException(422, "give total or add_total, not both")
    budget = budget_of(session, account, settings)
    total = body.total if body.total is not None else budget.total + (body.add_total or 0)
    if total < budget.used_total:
        raise HTTPException(
            422,
            f"a total of {total} is below the {budget.used_total} submissions {account.name} "
            f"has made; {budget.used_total} is the lowest (no more submissions)",
        )
    if total < 1:
        raise HTTPException(422, f"a total of {total} is below 1 (pause or stop to refuse all)")
    if total > BIG:
        raise HTTPException(422, f"a total of {total} is above the limit of {BIG}")
    return total


def _operator_view(session: Session, settings: HubSettings, account: Account) -> AccountOperator:
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
        budget=budget_of(session, account, settings),
        flagged=flagged,
        last_seen=last_seen,
        model=spend_of(account),
    )


@router.post("/accounts/{name}/token", response_model=AccountCreated)
def rotate_token(
    name: str, _op: OperatorDep, session: SessionDep, state: StateDep
) -> AccountCreated:
    """A new token for a researcher (the old one stops working); shown once, like at creation.

    A campaign killed between creating an account and saving its token recovers this way.
    """
    account = session.scalar(select(Account).where(Account.name == name))
    if account is None:
        raise HTTPException(404, f"no account named {name!r}")
    if account.role == OPERATOR:
        raise HTTPException(422, "the operator's token cannot be rotated here")
    token = new_token()
    old, account.token_hash = account.token_hash, hash_token(token)
    state.rate_limits.know(account.token_hash, account.name, replaces=old)
    return AccountCreated(name=account.name, role=account.role, token=token)
