"""``aar run`` and ``aar report``: a whole campaign from one command, and its report again.

    aar run                                          # geofacts, 4 baseline researchers, 3 min
    aar run --researchers 8 --budget-minutes 30 --dir campaigns/big
    aar run --model claude-opus-4-6 --researcher-dollars 5        # LLM researchers
    aar run --executor ray --ray-address auto                     # on a Ray cluster
    aar run --config campaign.toml                                # every flag, from a file
    aar run --resume campaigns/big --budget-minutes 60            # go on, with more time
    aar report campaigns/big                                      # rebuild the report

Flags override the config file; ``--resume`` keeps the campaign's saved config and lays the
flags given over it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from aar.cli.options import parse_assignments
from aar.cli.output import stdout_console

console = stdout_console()
Opt = typer.Option

R, B, F, E, H, V = (
    "Researchers",
    "Budgets per researcher",
    "Fleet budgets",
    "Executor",
    "Hub",
    "End",
)

FLAG_FIELDS = {
    "name": "name", "task": "task", "seeds": "seeds", "split_seed": "split_seed",
    "task_secrets": "task_secrets",
    "researchers": "researchers.count", "brain": "researchers.brain",
    "model": "researchers.model", "base_url": "researchers.base_url",
    "api_key_env": "researchers.api_key_env", "script": "researchers.script",
    "prices": "researchers.prices", "context_window": "researchers.context_window",
    "max_tokens": "researchers.max_tokens", "request_timeout": "researchers.request_timeout",
    "max_retries": "researchers.max_retries", "temperature": "researchers.temperature",
    "text_tool_calls": "researchers.text_tool_calls",
    "direction": "researchers.directions", "directions_file": "researchers.directions_file",
    "sandbox": "researchers.sandbox", "allow_unsafe": "researchers.allow_unsafe",
    "max_restarts": "researchers.max_restarts",
    "extra_distribution": "researchers.extra_distributions",
    "researcher_minutes": "budget.minutes", "researcher_dollars": "budget.dollars",
    "researcher_tokens": "budget.tokens", "researcher_submissions": "budget.submissions",
    "submissions_per_hour": "budget.submissions_per_hour", "researcher_steps": "budget.steps",
    "researcher_gpu_hours": "budget.gpu_hours",
    "budget_minutes": "fleet.minutes", "fleet_dollars": "fleet.dollars",
    "fleet_tokens": "fleet.tokens", "fleet_submissions": "fleet.submissions",
    "fleet_gpu_hours": "fleet.gpu_hours",
    "executor": "executor.kind", "ray_address": "executor.ray_address",
    "cpus_per_researcher": "executor.cpus", "gpus_per_researcher": "executor.gpus",
    "hub_url": "hub.url", "operator_token_env": "hub.operator_token_env",
    "hub_port": "hub.port", "database_url": "hub.database_url", "artifact_url": "hub.artifact_url",
    "verify_top_k": "end.verify_top_k", "verify_seed": "end.verify_seeds",
    "heldout_task": "end.heldout_tasks", "heldout_seeds": "end.heldout_seeds",
    "verify_tolerance": "end.tolerance", "verify_agreement": "end.agreement",
    "verify_agreement_reruns": "end.agreement_reruns",
}  # fmt: skip
"""Each ``aar run`` flag and the config field it sets (README: "Campaign config")."""


def run(
    directory: Annotated[Path | None, Opt("--dir", help="New campaign folder.")] = None,
    resume: Annotated[Path | None, Opt(help="Continue the campaign in this folder.")] = None,
    config: Annotated[Path | None, Opt(help="Campaign config (TOML).")] = None,
    live: Annotated[bool | None, Opt(help="Live table (default: on a terminal).")] = None,
    name: Annotated[str | None, Opt(help="Campaign name in the report.")] = None,
    task: Annotated[str | None, Opt(help="Task (default geofacts).")] = None,
    task_option: Annotated[list[str] | None, Opt(help="Task option KEY=VALUE.")] = None,
    seeds: Annotated[int | None, Opt(help="Seeds in the public bundle.")] = None,
    split_seed: Annotated[int | None, Opt(help="Seed of the fixed split.")] = None,
    task_secrets: Annotated[
        Path | None, Opt(help="Secrets file of a task the hub already has (publish-task's).")
    ] = None,
    researchers: Annotated[int | None, Opt(help="How many.", rich_help_panel=R)] = None,
    brain: Annotated[
        str | None,
        Opt(help="baseline, anthropic, openai, scripted, claude-code, codex.", rich_help_panel=R),
    ] = None,
    model: Annotated[str | None, Opt(help="Model for LLM researchers.", rich_help_panel=R)] = None,
    base_url: Annotated[
        str | None, Opt(help="OpenAI-compatible API root.", rich_help_panel=R)
    ] = None,
    api_key_env: Annotated[
        str | None, Opt(help="Env var with the API key.", rich_help_panel=R)
    ] = None,
    script: Annotated[
        Path | None, Opt(help="Turns for the scripted brain.", rich_help_panel=R)
    ] = None,
    prices: Annotated[Path | None, Opt(help="Price table (TOML).", rich_help_panel=R)] = None,
    context_window: Annotated[
        int | None, Opt(help="The model's context, tokens.", rich_help_panel=R)
    ] = None,
    max_tokens: Annotated[
        int | None, Opt(help="Most tokens per answer (4096).", rich_help_panel=R)
    ] = None,
    request_timeout: Annotated[
        float | None, Opt(help="Seconds per request attempt (300).", rich_help_panel=R)
    ] = None,
    max_retries: Annotated[
        int | None, Opt(help="Retries on 429/5xx/timeouts (3).", rich_help_panel=R)
    ] = None,
    temperature: Annotated[
        float | None, Opt(help="Sampling temperature.", rich_help_panel=R)
    ] = None,
    text_tool_calls: Annotated[
        bool | None,
        Opt(help="Parse tool calls written as text (default: on for openai).", rich_help_panel=R),
    ] = None,
    direction: Annotated[
        list[str] | None, Opt(help="Directions to deal (repeat).", rich_help_panel=R)
    ] = None,
    directions_file: Annotated[
        Path | None, Opt(help="Custom directions.", rich_help_panel=R)
    ] = None,
    sandbox: Annotated[str | None, Opt(help="bwrap or process.", rich_help_panel=R)] = None,
    allow_unsafe: Annotated[
        bool | None, Opt(help="Allow the process sandbox.", rich_help_panel=R)
    ] = None,
    max_restarts: Annotated[
        int | None, Opt(help="Restarts per researcher.", rich_help_panel=R)
    ] = None,
    extra_distribution: Annotated[
        list[str] | None,
        Opt(help="Add an installed package to the sandboxes' Python (repeat).", rich_help_panel=R),
    ] = None,
    researcher_minutes: Annotated[float | None, Opt(help="Wall time.", rich_help_panel=B)] = None,
    researcher_dollars: Annotated[float | None, Opt(help="Model spend.", rich_help_panel=B)] = None,
    researcher_tokens: Annotated[int | None, Opt(help="Model tokens.", rich_help_panel=B)] = None,
    researcher_submissions: Annotated[int | None, Opt(help="Scorings.", rich_help_panel=B)] = None,
    submissions_per_hour: Annotated[
        int | None, Opt(help="Scorings an hour.", rich_help_panel=B)
    ] = None,
    researcher_steps: Annotated[int | None, Opt(help="Model turns.", rich_help_panel=B)] = None,
    researcher_gpu_hours: Annotated[float | None, Opt(help="GPU-hours.", rich_help_panel=B)] = None,
    budget_minutes: Annotated[
        float | None, Opt(help="Research phase wall time.", rich_help_panel=F)
    ] = None,
    fleet_dollars: Annotated[float | None, Opt(help="Model spend.", rich_help_panel=F)] = None,
    fleet_tokens: Annotated[int | None, Opt(help="Model tokens.", rich_help_panel=F)] = None,
    fleet_submissions: Annotated[int | None, Opt(help="Scorings.", rich_help_panel=F)] = None,
    fleet_gpu_hours: Annotated[float | None, Opt(help="GPU-hours.", rich_help_panel=F)] = None,
    executor: Annotated[str | None, Opt(help="local or ray.", rich_help_panel=E)] = None,
    ray_address: Annotated[
        str | None, Opt(help="auto or ray://host:port.", rich_help_panel=E)
    ] = None,
    cpus_per_researcher: Annotated[
        float | None, Opt(help="Ray CPUs each.", rich_help_panel=E)
    ] = None,
    gpus_per_researcher: Annotated[
        float | None, Opt(help="Ray GPUs each.", rich_help_panel=E)
    ] = None,
    hub_url: Annotated[str | None, Opt(help="Use this running hub.", rich_help_panel=H)] = None,
    operator_token_env: Annotated[
        str | None, Opt(help="Its operator token's env var.", rich_help_panel=H)
    ] = None,
    hub_port: Annotated[int | None, Opt(help="Port of the started hub.", rich_help_panel=H)] = None,
    database_url: Annotated[str | None, Opt(help="SQLAlchemy URL.", rich_help_panel=H)] = None,
    artifact_url: Annotated[
        str | None, Opt(help="fsspec URL for snapshots.", rich_help_panel=H)
    ] = None,
    verify_top_k: Annotated[int | None, Opt(help="Results to re-run.", rich_help_panel=V)] = None,
    verify_seed: Annotated[
        list[int] | None, Opt(help="Fresh seeds (repeat).", rich_help_panel=V)
    ] = None,
    heldout_task: Annotated[
        list[str] | None, Opt(help="Held-out tasks (repeat).", rich_help_panel=V)
    ] = None,
    heldout_seeds: Annotated[
        int | None, Opt(help="Seeds per held-out run.", rich_help_panel=V)
    ] = None,
    verify_tolerance: Annotated[
        float | None, Opt(help="Least PGR slack of the sealed check.", rich_help_panel=V)
    ] = None,
    verify_agreement: Annotated[
        float | None,
        Opt(help="Share of the submitted vector a re-run must reproduce.", rich_help_panel=V),
    ] = None,
    verify_agreement_reruns: Annotated[
        int | None, Opt(help="Seeds re-run for agreement per entry.", rich_help_panel=V)
    ] = None,
) -> None:
    """Run a campaign: hub, task, N researchers, live view, verification and the report."""
    flags = {k: v for k, v in locals().items() if k in FLAG_FIELDS}
    overrides = {FLAG_FIELDS[k]: v for k, v in flags.items() if v is not None}
    if task_option:
        overrides["task_options"] = parse_assignments(task_option, "--task-option")
    _run(directory, resume, config, overrides, live)


def _run(
    directory: Path | None, resume: Path | None, config_file: Path | None,
    overrides: dict[str, Any], live: bool | None,
) -> None:  # fmt: skip
    from aar.campaign.config import load_config
    from aar.campaign.live import make_view
    from aar.campaign.run import Campaign
    from aar.core.errors import ConfigError

    if resume is not None:
        if directory is not None or config_file is not None:
            raise ConfigError("--resume takes the campaign's own config; drop --dir and --config")
        campaign = Campaign.resume(resume, overrides)
    else:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        folder = directory or Path("campaigns") / stamp
        campaign = Campaign.create(folder, load_config(config_file, overrides))
    console.print(f"campaign in {campaign.layout.root}")
    with make_view(console, live) as view:
        report = campaign.run(view)
    console.print(f"report: {report}")


def report(
    directory: Annotated[Path, typer.Argument(help="A campaign folder.")],
) -> None:
    """Rebuild a campaign's report (HTML, PNG plots, summary.json) from its hub and state."""
    from aar.campaign.run import Campaign

    console.print(f"report: {Campaign.resume(directory).report()}")
