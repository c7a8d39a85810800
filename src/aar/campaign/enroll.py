"""Enrolling researchers: an account and token on the hub and a research direction each.

    enroll(config, state, operator)     # up to researchers.count; idempotent on resume

Directions are dealt without repeats (``aar.researchers.directions.assign``) from the
configured names, a custom file, or the shipped library. Budgets per account follow the
config, so ``--resume`` with a larger ``budget.submissions`` extends them.
"""

from __future__ import annotations

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
    b = config.budget
    for account in operator.accounts():
        if account.name in state.researchers and (
            account.budget.total != b.submissions
            or account.budget.per_hour != b.submissions_per_hour
        ):
            operator.update_account(
                account.name, total=b.submissions, per_hour=b.submissions_per_hour
            )


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
        token = operator.create_researcher(
            name, per_hour=config.budget.submissions_per_hour, total=config.budget.submissions
        ).token
    researcher = ResearcherState(name=name, token=token, direction=direction, group=group)
    state.researchers[name] = researcher
    taken.add(name)
    return researcher
