"""Enrolling researchers: an account and token on the hub and a research direction each.

    enroll(config, state, operator)     # up to researchers.count; idempotent on resume

Directions are dealt without repeats (``aar.researchers.directions.assign``) from the
configured names, a custom file, or the shipped library. Budgets per account follow the
config, so ``--resume`` with a larger ``budget.submissions`` extends them; ``budget.dollars``
and ``budget.tokens`` are the account's model limits, which the hub's gateway enforces.
"""

from __future__ import annotations

from typing import Any

from aar.campaign.config import CampaignConfig
from aar.campaign.state import CampaignState, ResearcherState
from aar.core.errors import ConfigError
from aar.hub.client import HubClient
from aar.researchers.directions import Direction, assign, library, load_directions


def directions(config: CampaignConfig) -> list[Direction]:
    r = config.researchers
    available = load_directions(r.directions_file) if r.directions_file else library()
    if not r.directions:
        return available
    by_name = {d.name: d for d in available}
    unknown = [name for name in r.directions if name not in by_name]
    if unknown:
        raise ConfigError(
            f"unknown directions {', '.join(unknown)}; directions: {', '.join(sorted(by_name))}"
        )
    return [by_name[name] for name in r.directions]


def enroll(config: CampaignConfig, state: CampaignState, operator: HubClient) -> None:
    """Create the accounts still missing, and bring every account's budget to the config's."""
    missing = config.researchers.count - len(state.researchers)
    dealt = assign(config.researchers.count, directions(config), seed=config.split_seed)
    taken = {a.name for a in operator.accounts()}
    for _ in range(max(missing, 0)):
        index = len(state.researchers)
        group = config.researchers.group_of(index)
        add_researcher(config, state, operator, taken, dealt[index].name, group)
    wanted = {key: value for key, value in budgets(config).items() if value is not None}
    for account in operator.accounts():
        if account.name not in state.researchers:
            continue
        model = account.model
        has = {
            "per_hour": account.budget.per_hour, "total": account.budget.total,
            "model_dollars": model.dollar_limit if model else None,
            "model_tokens": model.token_limit if model else None,
        }  # fmt: skip
        if any(has[key] != value for key, value in wanted.items()):
            operator.update_account(account.name, **wanted)


def budgets(config: CampaignConfig) -> dict[str, Any]:
    """A researcher account's limits: submissions, and model spend through the gateway."""
    b = config.budget
    return {"per_hour": b.submissions_per_hour, "total": b.submissions,
            "model_dollars": b.dollars, "model_tokens": b.tokens}  # fmt: skip


def add_researcher(
    config: CampaignConfig,
    state: CampaignState,
    operator: HubClient,
    taken: set[str],
    direction: str | None,
    group: int | None = None,
) -> ResearcherState:
    """A new researcher; an account a killed campaign made but never saved gets a new token."""
    name = state.next_name()
    if name in taken:
        token = operator.rotate_token(name).token
    else:
        token = operator.create_researcher(name, **budgets(config)).token
    researcher = ResearcherState(name=name, token=token, direction=direction, group=group)
    state.researchers[name] = researcher
    taken.add(name)
    return researcher
