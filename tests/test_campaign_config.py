"""Campaign config: TOML, flags over it, validation that names the field, the saved copy."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

from aar.campaign.config import CampaignConfig, load_config, save_config, validate_config
from aar.campaign.gateway import gateway_plan, key_variables
from aar.campaign.jobs import HubAccess, researcher_job
from aar.campaign.layout import CampaignLayout
from aar.campaign.spend import Spend
from aar.campaign.state import CampaignState, ResearcherState
from aar.cli.main import app as cli
from aar.cli.run import FLAG_FIELDS
from aar.core.errors import ConfigError
from aar.hub.gateway.config import load_gateway


def fields(model: type[BaseModel], prefix: str = "") -> set[str]:
    found = set()
    for name, info in model.model_fields.items():
        kind = info.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            found |= fields(kind, f"{prefix}{name}.")
        else:
            found.add(prefix + name)
    return found


def test_every_config_field_is_also_a_flag() -> None:
    # --task-option KEY=VALUE; groups are tables, in the config file alone
    flagged = set(FLAG_FIELDS.values()) | {"task_options", "researchers.groups"}
    assert fields(CampaignConfig) == flagged


def test_defaults_are_a_short_baseline_campaign_on_geofacts() -> None:
    config = load_config(None)
    assert (config.task, config.researchers.count) == ("geofacts", 4)
    assert config.researchers.resolved_brain == "baseline"
    assert config.fleet.minutes <= 5
    assert config.heldout == ["toy"]
    assert load_config(None, {"task": "toy"}).heldout == []


def test_a_model_alone_picks_its_brain() -> None:
    assert load_config(
        None, {"researchers.model": "claude-opus-4-6"}
    ).researchers.resolved_brain == ("anthropic")
    qwen = load_config(None, {"researchers.model": "qwen3", "researchers.base_url": "http://x/v1"})
    assert qwen.researchers.resolved_brain == "openai"


def test_a_file_with_flags_over_it_round_trips_through_the_saved_copy(tmp_path: Path) -> None:
    file = tmp_path / "campaign.toml"
    file.write_text(
        'task = "toy"\n[researchers]\ncount = 2\ndirections = ["noisy-channel"]\n'
        "[fleet]\nminutes = 2.5\ndollars = 10.0\n[task_options]\nn_labeled = 300\n"
    )
    overrides = {"researchers.count": 3, "end.verify_seeds": [7, 8],
                 "researchers.extra_distributions": ["pytest"]}  # fmt: skip
    config = load_config(file, overrides)
    assert config.researchers.count == 3
    assert config.researchers.extra_distributions == ["pytest"]
    assert config.researchers.directions == ["noisy-channel"]
    assert (config.fleet.minutes, config.fleet.dollars) == (2.5, 10.0)
    assert config.task_options == {"n_labeled": 300}
    save_config(config, tmp_path / "saved.toml")
    assert load_config(tmp_path / "saved.toml") == config


@pytest.mark.parametrize(
    ("text", "overrides", "message"),
    [
        (
            "[researchers]\ncount = 0\n",
            {},
            "researchers.count: Input should be greater than or equal to 1",
        ),
        ("[budget]\nminuts = 3\n", {}, "budget.minuts: unknown field"),
        ("colour = 1\n", {}, "colour: unknown field"),
        ("", {"researchers.brain": "anthropic"}, "brain anthropic needs a model"),
        ("", {"researchers.brain": "scripted"}, "brain scripted needs a script"),
        ("", {"researchers.sandbox": "process"}, "sandbox process does not isolate"),
        ("", {"executor.kind": "slurm"}, "executor.kind: Input should be 'local' or 'ray'"),
        ("[fleet]\nminutes = -1\n", {}, "fleet.minutes: Input should be greater than 0"),
        ("task = [\n", {}, "not valid TOML"),
    ],
)
def test_bad_configs_name_the_field_and_the_problem(
    tmp_path: Path, text: str, overrides: dict[str, object], message: str
) -> None:
    file = tmp_path / "bad.toml"
    file.write_text(text)
    with pytest.raises(ConfigError, match=r"bad\.toml") as caught:
        load_config(file, overrides)
    assert message in str(caught.value)


def test_a_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no campaign config at"):
        load_config(tmp_path / "nope.toml")


def test_a_restarted_researcher_gets_only_what_is_left_of_its_budget(tmp_path: Path) -> None:
    config = load_config(None, {
        "researchers.model": "qwen3", "researchers.base_url": "http://llm/v1",
        "budget.dollars": 5.0, "budget.tokens": 1000, "researchers.api_key_env": "KEY",
    })  # fmt: skip
    layout = CampaignLayout(tmp_path)
    researcher = ResearcherState(name="r01", token="t0k", direction="noisy-channel")
    spent = Spend(dollars=1.5, tokens=400)
    job = researcher_job(config, layout, HubAccess("http://hub", "/s.sock"), researcher, spent, 2.0)
    argv = list(job.argv)
    assert argv[argv.index("--dollars") + 1] == "3.5"
    assert argv[argv.index("--tokens") + 1] == "600"
    assert argv[argv.index("--minutes") + 1] == "2.000"
    assert argv[argv.index("--hub-socket") + 1] == "/s.sock"
    assert argv[argv.index("--direction") + 1] == "noisy-channel"
    assert argv[argv.index("--transcript") + 1] == str(layout.transcript("r01"))
    assert job.env == {"AAR_HUB_TOKEN": "t0k"}
    assert "t0k" not in argv  # tokens stay out of process listings
    assert "--extra-distribution" not in argv


def test_extra_distributions_reach_the_researchers_and_unknown_ones_are_refused(
    tmp_path: Path,
) -> None:
    config = load_config(None, {"researchers.extra_distributions": ["pytest", "pluggy"]})
    shown = {d.split()[0] for d in config.researchers.sandbox_python().distributions}
    assert {"pytest", "pluggy", "numpy"} <= shown
    researcher = ResearcherState(name="r01", token="t0k")
    job = researcher_job(config, CampaignLayout(tmp_path), HubAccess("http://hub"), researcher,
                         Spend(), 1.0)  # fmt: skip
    argv = list(job.argv)
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "--extra-distribution"] == [
        "pytest", "pluggy"
    ]  # fmt: skip
    # aar run refuses a package that is not installed before it makes anything
    folder = tmp_path / "campaign"
    result = CliRunner().invoke(cli, ["run", "--dir", str(folder), "--task", "toy",
                                      "--extra-distribution", "no-such-dist"])  # fmt: skip
    assert isinstance(result.exception, ConfigError)
    assert str(result.exception).startswith(
        "researchers.extra_distributions: the sandbox's Python cannot include 'no-such-dist': "
        "it is not installed"
    )
    assert not folder.exists()


def test_state_is_saved_atomically_and_privately(tmp_path: Path) -> None:
    state = CampaignState()
    state.researchers["r01"] = ResearcherState(name="r01", token="secret")
    state.incident("restart", "r01", "exit code -9")
    state.save(tmp_path / "state.json")
    assert (tmp_path / "state.json").stat().st_mode & 0o777 == 0o600
    again = CampaignState.load_or_new(tmp_path / "state.json")
    assert again.researchers["r01"].token == "secret"
    assert again.incidents[0].detail == "exit code -9"
    (tmp_path / "state.json").write_text("{broken")
    with pytest.raises(Exception, match=r"state\.json is damaged"):
        CampaignState.load_or_new(tmp_path / "state.json")


def test_model_settings_reach_each_llm_researcher(tmp_path: Path) -> None:
    file = tmp_path / "c.toml"
    file.write_text(
        '[researchers]\nmodel = "qwen2.5-coder"\nbase_url = "http://127.0.0.1:8080/v1"\n'
        "context_window = 8192\nmax_tokens = 1024\nrequest_timeout = 900\nmax_retries = 0\n"
        "temperature = 0.2\n"
    )
    config = load_config(file, {"researchers.max_tokens": 2048})  # a flag beats the file
    researcher = ResearcherState(name="r01", token="t0k")
    argv = list(researcher_job(config, CampaignLayout(tmp_path), HubAccess("http://hub"),
                               researcher, Spend(), 1.0).argv)  # fmt: skip
    given = {
        flag: argv[argv.index(flag) + 1]
        for flag in (
            "--context-window",
            "--max-tokens",
            "--request-timeout",
            "--max-retries",
            "--temperature",
        )
    }
    assert given == {
        "--context-window": "8192",
        "--max-tokens": "2048",
        "--request-timeout": "900.0",
        "--max-retries": "0",
        "--temperature": "0.2",
    }
    baseline = load_config(None, {"researchers.max_tokens": 2048})
    plain = researcher_job(baseline, CampaignLayout(tmp_path), HubAccess("http://hub"),
                           researcher, Spend(), 1.0)  # fmt: skip
    assert "--max-tokens" not in plain.argv  # the baseline has no model to configure


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("researchers.temperature", -0.5, "researchers.temperature: Input should be greater"),
        ("researchers.max_tokens", 10, "researchers.max_tokens: Input should be greater"),
        ("researchers.request_timeout", 0, "researchers.request_timeout: Input should be greater"),
        ("researchers.context_window", 0, "researchers.context_window: Input should be greater"),
    ],
)
def test_bad_model_settings_name_their_field(field: str, value: float, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(None, {"researchers.model": "qwen3", field: value})


def test_researcher_groups_run_with_their_own_model_settings(tmp_path: Path) -> None:
    file = tmp_path / "mixed.toml"
    file.write_text(
        '[researchers]\nmodel = "claude-opus-4-6"\nmax_tokens = 8192\n\n'
        "[[researchers.groups]]\ncount = 2\n\n"
        '[[researchers.groups]]\nname = "local"\ncount = 1\nmodel = "qwen2.5-coder"\n'
        'base_url = "http://127.0.0.1:8080/v1"\ncontext_window = 8192\nmax_tokens = 1024\n'
        "text_tool_calls = false\n"
    )
    config = load_config(file)
    assert config.researchers.count == 3
    assert [config.researchers.group_of(i) for i in range(4)] == [0, 0, 1, None]
    argvs = []
    for group in (0, 1, None):
        researcher = ResearcherState(name="r01", token="t0k", group=group)
        job = researcher_job(config, CampaignLayout(tmp_path), HubAccess("http://hub"),
                             researcher, Spend(), 1.0)  # fmt: skip
        argvs.append(list(job.argv))
    claude, local, added = argvs
    assert claude[claude.index("--model") + 1] == "claude-opus-4-6"
    assert claude[claude.index("--max-tokens") + 1] == "8192"  # inherited
    assert "--base-url" not in claude
    assert local[local.index("--model") + 1] == "qwen2.5-coder"
    assert local[local.index("--base-url") + 1] == "http://127.0.0.1:8080/v1"  # no gateway
    assert local[local.index("--brain") + 1] == "openai"
    assert local[local.index("--max-tokens") + 1] == "1024"
    assert local[local.index("--context-window") + 1] == "8192"
    assert "--no-text-tool-calls" in local
    assert added == claude  # a researcher the operator adds takes [researchers]'s settings
    saved = tmp_path / "saved.toml"
    save_config(config, saved)
    assert load_config(saved) == config


@pytest.mark.parametrize(
    ("researchers", "message"),
    [
        ({"count": 5, "groups": [{"count": 2}]}, "count is 5 but the groups hold 2 researchers"),
        ({"groups": [{"count": 2, "brain": "openai"}]}, "groups.0: brain openai needs a model"),
        ({"groups": [{"count": 1, "modle": "x"}]}, "researchers.groups.0.modle: unknown field"),
        ({"groups": [{"count": 0}]}, "researchers.groups.0.count: Input should be greater"),
    ],
)
def test_bad_groups_are_named(researchers: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        validate_config({"researchers": researchers}, "mixed.toml")


def test_a_hub_with_a_gateway_takes_the_keys_out_of_researcher_processes(tmp_path: Path) -> None:
    file = tmp_path / "mixed.toml"
    file.write_text(
        '[researchers]\nmodel = "claude-opus-4-6"\napi_key_env = "TEAM_KEY"\n\n'
        "[[researchers.groups]]\ncount = 2\n\n"
        '[[researchers.groups]]\ncount = 1\nmodel = "qwen2.5-coder"\n'
        'base_url = "http://127.0.0.1:8080/v1"\napi_key_env = "LOCAL_KEY"\n'
        "[budget]\ndollars = 4.0\n[fleet]\ndollars = 10.0\ntokens = 5000000\n"
    )
    config = load_config(file)
    plan = gateway_plan(config)
    assert plan is not None
    assert plan.groups == {0: "anthropic", 1: "openai"}
    served = load_gateway(plan.write(tmp_path / "gateway.toml"))
    assert [(u.name, u.api, u.base_url, u.api_key_env, u.models) for u in served.upstreams] == [
        ("anthropic", "anthropic", None, "TEAM_KEY", ("claude-opus-4-6",)),
        ("openai", "openai", "http://127.0.0.1:8080/v1", "LOCAL_KEY", ("qwen2.5-coder",)),
    ]
    assert (served.fleet.dollars, served.fleet.tokens) == (10.0, 5_000_000)
    hidden = key_variables(config)
    assert {"TEAM_KEY", "LOCAL_KEY", "ANTHROPIC_API_KEY", "OPENAI_API_KEY"} <= set(hidden)
    access = HubAccess("http://hub", "/s.sock", upstreams=plan.groups, hidden_env=hidden)
    for group, upstream in ((0, "anthropic"), (1, "openai")):
        researcher = ResearcherState(name="r01", token="t0k", group=group)
        job = researcher_job(config, CampaignLayout(tmp_path), access, researcher, Spend(), 1.0)
        argv = list(job.argv)
        assert argv[argv.index("--gateway") + 1] == upstream
        assert "--base-url" not in argv
        assert "--api-key-env" not in argv
        assert job.unset == hidden
    # a baseline fleet calls no model: no gateway
    assert gateway_plan(load_config(None, {})) is None
