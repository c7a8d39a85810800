"""The LLM gateway of a hub the campaign starts: its upstreams, limits, and the keys it hides.

    plan = gateway_plan(config)            # None when no researcher calls a model over HTTP
    plan.write(layout.hub / "gateway.toml")   # aar serve --gateway reads it
    plan.upstream_of(group)                # "anthropic", "openai", "openai-2", ...
    key_variables(config)                  # env vars kept from researchers and Ray workers

Every distinct model endpoint (API, base URL, key variable) of the researcher groups becomes
one upstream, offering the models those groups name. The fleet's dollar and token limits
become the gateway's; each researcher's own limits are set on its hub account at enrolment.
A hub the campaign is given (``hub.url``) must already offer each group's model over its API:
its gateway then holds the keys, and the campaign needs none.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aar.campaign.config import CampaignConfig, ResearchersConfig
from aar.core.errors import ConfigError
from aar.hub.gateway.config import VENDOR_KEYS, FleetLimits, GatewayConfig, Upstream
from aar.hub.schemas import GatewayUpstream

HTTP_BRAINS = {
    "anthropic": "anthropic", "openai": "openai", "claude-code": "anthropic", "codex": "openai",
}  # fmt: skip
"""Brains whose model is called over HTTP (so through the gateway), and the API they speak."""


@dataclass(frozen=True)
class GatewayPlan:
    config: GatewayConfig
    groups: dict[int | None, str]
    """Each group's upstream name (None: the researchers without a group)."""

    def upstream_of(self, group: int | None) -> str | None:
        return self.groups.get(group)

    def check_keys(self) -> None:
        """Refuse to start researchers whose upstream has no key here (the hub inherits it)."""
        missing = [m for u in self.config.upstreams if (m := u.missing_key())]
        if missing:
            raise ConfigError("; ".join(missing))

    def write(self, path: Path) -> Path:
        path.write_text(gateway_toml(self.config))
        return path


def _groups(config: CampaignConfig) -> dict[int | None, ResearchersConfig]:
    r = config.researchers
    if not r.groups:
        return {None: r}
    return {index: r.settings(index) for index in range(len(r.groups))}


def gateway_plan(config: CampaignConfig) -> GatewayPlan | None:
    """The gateway the campaign's hub needs (None: no researcher calls a model over HTTP)."""
    endpoints: dict[tuple[str, str | None, str | None], list[str]] = {}
    names: dict[tuple[str, str | None, str | None], str] = {}
    groups: dict[int | None, str] = {}
    for group, settings in _groups(config).items():
        brain = settings.resolved_brain
        if brain not in HTTP_BRAINS:
            continue
        endpoint = (HTTP_BRAINS[brain], settings.base_url, settings.api_key_env)
        if endpoint not in names:
            api = endpoint[0]
            taken = sum(1 for key in names if key[0] == api)
            names[endpoint] = api if taken == 0 else f"{api}-{taken + 1}"
        endpoints.setdefault(endpoint, []).append(str(settings.model))
        groups[group] = names[endpoint]
    if not groups:
        return None
    upstreams = tuple(
        Upstream(name=names[key], api=key[0], base_url=key[1], api_key_env=key[2],
                 models=tuple(dict.fromkeys(models)))
        for key, models in endpoints.items()
    )  # fmt: skip
    fleet = FleetLimits(dollars=config.fleet.dollars, tokens=config.fleet.tokens)
    gateway = GatewayConfig(upstreams=upstreams, fleet=fleet, prices=_prices(config))
    return GatewayPlan(gateway, groups)


def routes_on(
    config: CampaignConfig, offered: Sequence[GatewayUpstream], url: str
) -> dict[int | None, str]:
    """Each group's upstream on a hub the campaign was given (ConfigError: one has none)."""
    routes: dict[int | None, str] = {}
    for group, settings in _groups(config).items():
        api = HTTP_BRAINS.get(settings.resolved_brain)
        if api is None:
            continue
        model = str(settings.model)
        fits = [u for u in offered if u.api == api and _allows(u, model)]
        keyed = [u for u in fits if u.holds_key]
        if not keyed:
            raise ConfigError(_no_route(group, api, model, offered, fits, url))
        routes[group] = keyed[0].name
    return routes


def _allows(upstream: GatewayUpstream, model: str) -> bool:
    return Upstream(name=upstream.name, api=upstream.api, models=tuple(upstream.models)).allows(
        model
    )


def _no_route(
    group: int | None,
    api: str,
    model: str,
    offered: Sequence[GatewayUpstream],
    fits: list[GatewayUpstream],
    url: str,
) -> str:
    who = "researchers" if group is None else f"researcher group {group}"
    if fits:
        found = f"its upstream {fits[0].name!r} offers it but holds no key"
    elif offered:
        found = "it offers " + "; ".join(
            f"{u.name} ({u.api}: {', '.join(u.models)})" for u in offered
        )
        found += f", none of them {model!r} over the {api} API"
    else:
        found = "it has no LLM gateway"
    return (
        f"{who} call {model!r} over the {api} API, and the hub at {url} cannot carry it: "
        f"{found}. Serve that hub with `aar serve --gateway FILE` naming an {api} upstream "
        "for the model and its key (researchers never hold one), or leave hub.url unset so "
        "the campaign starts its own hub"
    )


def _prices(config: CampaignConfig) -> Path | None:
    tables = {s.prices.resolve() for s in _groups(config).values() if s.prices is not None}
    if len(tables) > 1:
        raise ConfigError(
            "researcher groups name different price tables; the hub's gateway meters every "
            "call with one: merge them into researchers.prices"
        )
    return next(iter(tables), None)


def check_agents(config: CampaignConfig) -> None:
    """Refuse to start when an external agent's binary is not here (ConfigError saying how)."""
    from aar.researchers.agents.claude_code import find_claude
    from aar.researchers.agents.codex import find_codex

    brains = {s.resolved_brain for s in _groups(config).values()}
    if "claude-code" in brains:
        find_claude(None)
    if "codex" in brains:
        find_codex(None)


def key_variables(config: CampaignConfig) -> tuple[str, ...]:
    """Environment variables that may hold a model key: kept from researcher processes."""
    named = {s.api_key_env for s in _groups(config).values() if s.api_key_env}
    return tuple(sorted(named | set(VENDOR_KEYS.values()) | {"ANTHROPIC_AUTH_TOKEN"}))


def gateway_toml(config: GatewayConfig) -> str:
    """``config`` as the TOML file ``aar serve --gateway`` reads."""
    lines = [f"concurrency = {config.concurrency}", f"max_body_bytes = {config.max_body_bytes}"]
    if config.prices is not None:
        lines.append(f"prices = {json.dumps(str(config.prices))}")
    lines += ["", "[fleet]"] + [
        f"{key} = {value}" for key, value in config.fleet.model_dump(exclude_none=True).items()
    ]
    for upstream in config.upstreams:
        lines += ["", "[[upstreams]]"]
        for key, value in upstream.model_dump(exclude_none=True).items():
            lines.append(f"{key} = {json.dumps(list(value) if key == 'models' else value)}")
    return "\n".join(lines) + "\n"
