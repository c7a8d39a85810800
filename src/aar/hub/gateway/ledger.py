"""The gateway's book-keeping in the hub database: who may call, what each call cost.

    verdict = admit(session, token, config)      # Caller, or a Refused naming why
    record(session, caller.account_id, call, payload)   # a row, and the account's totals grow

Spend is kept as running totals on each account (updated in the transaction that stores the
call), so the budget check before a call reads one row and one sum over accounts.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from aar.core.usage import Usage
from aar.hub.gateway.config import GatewayConfig
from aar.hub.models import Account, ModelCall, ModelCallPayload
from aar.hub.schemas import ModelSpend
from aar.hub.security import hash_token
from aar.hub.state import OPERATOR


@dataclass(frozen=True)
class Caller:
    account_id: int
    name: str


@dataclass(frozen=True)
class Refused:
    situation: str
    """A key of ``vendors.REFUSALS``: auth, forbidden, budget, busy."""
    message: str
    account_id: int | None = None
    name: str | None = None


@dataclass(frozen=True)
class CallRecord:
    """What is stored about one call (tokens and cost zero for a refused one)."""

    upstream: str
    path: str
    model: str
    stream: bool
    status: int
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    metered: str = "none"
    duration_ms: float = 0.0
    first_byte_ms: float | None = None
    error: str | None = None


def tokens_of(usage: Usage) -> int:
    return usage.prompt_tokens + usage.output_tokens


def admit(session: Session, token: str | None, config: GatewayConfig) -> Caller | Refused:
    """The calling researcher, or why its call is refused before it is forwarded."""
    if not token:
        return Refused("auth", "no key: send the researcher's hub token as the API key")
    account = session.scalar(select(Account).where(Account.token_hash == hash_token(token)))
    if account is None:
        return Refused("auth", "invalid key: it is not a researcher's hub token")
    if account.role == OPERATOR:
        return Refused("forbidden", "the operator has no model budget; use a researcher's token")
    who = (account.id, account.name)
    if account.status == "stopped":
        return Refused("forbidden", f"researcher {account.name} is stopped", *who)
    if account.status == "paused":
        return Refused("busy", f"researcher {account.name} is paused by the operator", *who)
    spent = _spent_reason(session, account, config)
    return Refused("budget", spent, *who) if spent else Caller(*who)


def _spent_reason(session: Session, account: Account, config: GatewayConfig) -> str | None:
    name = account.name
    if account.model_dollars is not None and account.spent_dollars >= account.model_dollars:
        return (
            f"researcher {name}'s model budget of ${account.model_dollars:.2f} is spent "
            f"(${account.spent_dollars:.2f} used); no more model calls"
        )
    if account.model_tokens is not None and account.spent_tokens >= account.model_tokens:
        return (
            f"researcher {name}'s model budget of {account.model_tokens} tokens is spent "
            f"({account.spent_tokens} used); no more model calls"
        )
    fleet = config.fleet
    if fleet.dollars is None and fleet.tokens is None:
        return None
    dollars, tokens = fleet_spend(session)
    if fleet.dollars is not None and dollars >= fleet.dollars:
        return f"the fleet's model budget of ${fleet.dollars:.2f} is spent (${dollars:.2f} used)"
    if fleet.tokens is not None and tokens >= fleet.tokens:
        return f"the fleet's model budget of {fleet.tokens} tokens is spent ({tokens} used)"
    return None


def fleet_spend(session: Session) -> tuple[float, int]:
    dollars, tokens = session.execute(
        select(func.coalesce(func.sum(Account.spent_dollars), 0.0),
               func.coalesce(func.sum(Account.spent_tokens), 0))
    ).one()  # fmt: skip
    return float(dollars), int(tokens)


def record(
    session: Session,
    account_id: int,
    call: CallRecord,
    payload: tuple[bytes, bytes] | None,
) -> int:
    """Store ``call`` (and its bodies) and add its cost to the account; returns its id."""
    row = ModelCall(account_id=account_id, **_columns(call))
    session.add(row)
    session.flush()
    if payload is not None:
        request, response = payload
        session.add(
            ModelCallPayload(
                call_id=row.id, request_gz=gzip.compress(request, 6),
                response_gz=gzip.compress(response, 6),
            )
        )  # fmt: skip
    session.execute(
        update(Account)
        .where(Account.id == account_id)
        .values(
            spent_dollars=Account.spent_dollars + call.cost_usd,
            spent_tokens=Account.spent_tokens + tokens_of(call.usage),
            model_calls=Account.model_calls + (call.status < 400),
        )
    )
    return row.id


def _columns(call: CallRecord) -> dict[str, Any]:
    u = call.usage
    return {
        "upstream": call.upstream, "path": call.path[:64], "model": call.model[:128],
        "stream": call.stream, "status": call.status, "input_tokens": u.input_tokens,
        "output_tokens": u.output_tokens, "cache_read_tokens": u.cache_read_tokens,
        "cache_write_tokens": u.cache_write_tokens, "cost_usd": call.cost_usd,
        "metered": call.metered, "duration_ms": call.duration_ms,
        "first_byte_ms": call.first_byte_ms, "error": call.error,
    }  # fmt: skip


def spend_of(account: Account) -> ModelSpend:
    return ModelSpend(
        dollars=account.spent_dollars, tokens=account.spent_tokens, calls=account.model_calls,
        dollar_limit=account.model_dollars, token_limit=account.model_tokens,
    )  # fmt: skip
