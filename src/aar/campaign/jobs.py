"""One researcher's ``aar research`` command line, with what is left of its budgets.

    job = researcher_job(config, layout, hub_access, state.researchers["r01"], spent)

A restarted researcher gets the same workspace and transcript (so it resumes from its
notebook and transcript) and only the budget it has not yet used.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field

from aar.campaign.config import CampaignConfig
from aar.campaign.executors import ResearcherJob
from aar.campaign.layout import CampaignLayout
from aar.campaign.spend import Spend
from aar.campaign.state import ResearcherState

MIN_MINUTES = 0.1
"""``aar research`` needs at least this much wall time; less is treated as none left."""


@dataclass(frozen=True)
class HubAccess:
    """How researchers reach the hub: its Unix socket (local sandboxes) or its URL; and,
    when the campaign started it with an LLM gateway, each group's upstream there and the
    variables that may hold a model key (kept from researcher processes)."""

    url: str
    socket: str | None = None
    upstreams: Mapping[int | None, str] = field(default_factory=dict)
    hidden_env: tuple[str, ...] = ()


def remaining_minutes(config: CampaignConfig, researcher: ResearcherState) -> float:
    return config.researcher_minutes - researcher.seconds / 60


def researcher_job(
    config: CampaignConfig,
    layout: CampaignLayout,
    hub: HubAccess,
    researcher: ResearcherState,
    spent: Spend,
    minutes: float,
) -> ResearcherJob:
    """The job that runs ``researcher`` for at most ``minutes`` more."""
    r, name = config.researchers.settings(researcher.group), researcher.name
    argv = [sys.executable, "-m", "aar", "research", "--task", config.task]
    argv += [
        "--bundle",
        str(layout.bundle(config.task)),
        "--workspace",
        str(layout.workspace(name)),
    ]
    argv += ["--hub-socket", hub.socket] if hub.socket else ["--hub-url", hub.url]
    argv += ["--sandbox", r.sandbox] + (["--allow-unsafe"] if r.allow_unsafe else [])
    argv += ["--brain", r.resolved_brain, "--minutes", f"{minutes:.3f}"]
    argv += ["--transcript", str(layout.transcript(name))]
    upstream = hub.upstreams.get(researcher.group)
    endpoint = (
        {"gateway": upstream}
        if upstream
        else {"base_url": r.base_url, "api_key_env": r.api_key_env}
    )
    argv += _optional(
        model=r.model, **endpoint, script=r.script, prices=r.prices,
        directions=r.directions_file, direction=researcher.direction,
    )  # fmt: skip
    if r.resolved_brain != "baseline":
        argv += _optional(
            context_window=r.context_window, max_tokens=r.max_tokens,
            request_timeout=r.request_timeout, max_retries=r.max_retries,
            temperature=r.temperature,
        )  # fmt: skip
        if r.text_tool_calls is not None:
            argv += ["--text-tool-calls" if r.text_tool_calls else "--no-text-tool-calls"]
    for name in r.extra_distributions:
        argv += ["--extra-distribution", name]
    argv += _left(config, r.resolved_brain, spent)
    resources = {"num_cpus": config.executor.cpus, "num_gpus": config.executor.gpus}
    return ResearcherJob(
        name=name,
        argv=tuple(argv),
        env={"AAR_HUB_TOKEN": researcher.token},
        unset=hub.hidden_env if upstream else (),
        log_path=layout.log(name),
        resources=resources,
    )


def _optional(**flags: object) -> list[str]:
    argv: list[str] = []
    for key, value in flags.items():
        if value is not None:
            argv += [f"--{key.replace('_', '-')}", str(value)]
    return argv


def _left(config: CampaignConfig, brain: str, spent: Spend) -> list[str]:
    """What is left of the budgets the researcher process counts itself: its own, capped by
    an even share of the fleet's, so the fleet's dollars and tokens hold as hard stops too."""
    if brain == "baseline":
        return []  # the baseline spends no model budget; the hub counts its submissions
    b, f = config.budget, config.fleet
    dollars = _smallest(b.dollars, _share(f.dollars, config))
    tokens = _smallest(b.tokens, _share(f.tokens, config))
    left: dict[str, object] = {
        "dollars": None if dollars is None else max(dollars - spent.dollars, 0.0),
        "tokens": None if tokens is None else max(int(tokens) - spent.tokens, 0),
        "steps": None if b.steps is None else max(b.steps - spent.steps, 0),
    }
    return _optional(**left)


def _share(fleet: float | None, config: CampaignConfig) -> float | None:
    return None if fleet is None else fleet / config.researchers.count


def _smallest(*limits: float | None) -> float | None:
    given = [limit for limit in limits if limit is not None]
    return min(given) if given else None
