"""A campaign budgets and reports model spend from the hub gateway's meter, not transcripts.

An external agent's cost reaches the transcript from the agent itself (Claude Code prints its
``total_cost_usd``), so a researcher can forge it: inflate it to end the fleet's research by
"fleet dollar budget", or shrink it. Where the gateway carried a researcher's calls, the
supervisor's budgets, its restarts' budget left and the report read the hub's meter instead.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aar.campaign.config import CampaignConfig
from aar.campaign.executors import make_executor
from aar.campaign.jobs import HubAccess
from aar.campaign.layout import CampaignLayout
from aar.campaign.live import View
from aar.campaign.report_data import collect_summary
from aar.campaign.state import CampaignState, ResearcherState
from aar.campaign.supervisor import Supervisor
from aar.core.prices import PriceTable
from aar.researchers.providers.base import Usage
from aar.researchers.providers.wire import FakeReply
from tests.gatewaykit import GatewayWorld, gateway_world
from tests.replaykit import SECRET, publish_toy

OPUS = "claude-opus-4-6"
HI = [{"role": "user", "content": "hi"}]
FORGED = [
    {"kind": "event", "event": "start", "brain": "claude-code"},
    {"kind": "model", "cost_usd": 400.0, "usage": {"input_tokens": 9_000_000}},
    {"kind": "event", "event": "session_end", "cost_usd": 600.0, "usage": {"input_tokens": 1}},
]


def forge_transcript(layout: CampaignLayout, name: str) -> None:
    """What an agent that prints its own cost can make its transcript say: $1000 spent."""
    path = layout.transcript(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(line) + "\n" for line in FORGED))


def one_call(world: GatewayWorld, token: str) -> float:
    """One real call through the gateway; returns what the price table says it cost."""
    usage = Usage(input_tokens=1000, output_tokens=200)
    world.vendor.add(FakeReply(text="hello", usage=usage))
    world.anthropic(token).messages.create(model=OPUS, max_tokens=64, messages=HI)
    return PriceTable.default().cost(OPUS, usage)


def campaign(
    tmp_path: Path, world: GatewayWorld
) -> tuple[CampaignConfig, CampaignLayout, CampaignState, float]:
    layout = CampaignLayout(tmp_path / "campaign")
    layout.create()
    publish_toy(world.hub.operator, layout.bundle("toy"), SECRET)
    token = world.hub.operator.create_researcher("r01").token
    cost = one_call(world, token)
    forge_transcript(layout, "r01")
    state = CampaignState(
        researchers={"r01": ResearcherState(name="r01", token=token, status="finished")}
    )
    config = CampaignConfig.model_validate({
        "task": "toy", "task_options": {},
        "researchers": {"count": 1, "brain": "claude-code", "model": OPUS},
        "fleet": {"dollars": 50.0},
    })  # fmt: skip
    return config, layout, state, cost


def supervisor(config: CampaignConfig, layout: CampaignLayout, state: CampaignState,
               world: GatewayWorld, access: HubAccess) -> Supervisor:  # fmt: skip
    executor = make_executor("local")
    return Supervisor(config, layout, state, executor, world.hub.operator, access, View())


def test_the_fleet_budget_reads_the_gateway_not_a_forged_transcript(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with gateway_world(tmp_path / "hub", monkeypatch) as world:
        config, layout, state, cost = campaign(tmp_path, world)
        through = HubAccess("http://testserver", upstreams={None: "claude"})
        metered = supervisor(config, layout, state, world, through)
        metered.refresh()
        direct = supervisor(config, layout, state, world, HubAccess("http://testserver"))
        direct.refresh()
    assert metered.fleet.dollars == pytest.approx(cost)
    assert metered.spend("r01").dollars == pytest.approx(cost)
    assert metered.spend("r01").tokens == 1200
    assert metered.spend("r01").steps == 1  # what it did still comes from its transcript
    # the forged $1000 would have ended the fleet's research (its budget is $50) ...
    assert direct.fleet.dollars == pytest.approx(1000.0)
    # ... for researchers that call their vendor directly, the transcript is all there is
    assert direct.fleet.tokens == 9_000_001


def test_the_report_shows_the_gateways_meter_and_says_whose_counts_are_their_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with gateway_world(tmp_path / "hub", monkeypatch) as world:
        config, layout, state, cost = campaign(tmp_path, world)
        through = collect_summary(config, layout, state, world.hub.operator, None, {None})
        direct = collect_summary(config, layout, state, world.hub.operator, None)
    [row] = through.researchers
    assert (row.dollars, row.tokens, row.metered) == (pytest.approx(cost), 1200, True)
    assert through.cost.dollars == pytest.approx(cost)
    [own] = direct.researchers
    assert (own.dollars, own.metered) == (pytest.approx(1000.0), False)
