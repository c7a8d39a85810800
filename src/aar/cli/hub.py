"""``aar serve`` and ``aar hub``: run the hub, and the operator's commands against it.

    aar hub add-researcher alice | researchers | set-status alice paused
    aar hub pause alice | resume alice | stop alice
    aar hub budget alice [--per-hour N] [--total N] [--add N]     (--add -N cuts the total)
    aar hub budget alice --model-dollars 20 [--model-tokens N]    (gateway model limits)
    aar hub guidance TITLE --body TEXT [--tag T]                  (a post every researcher sees)
    aar hub quarantine POST_ID --reason TEXT | release POST_ID

Each command is one call of ``HubClient``; the hub validates and audits it, as it does the
dashboard's forms.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from aar.cli.output import stdout_console
from aar.core.errors import ConfigError

if TYPE_CHECKING:
    from aar.hub.client import HubClient

hub_app = typer.Typer(help="Operator commands against a running hub.", no_args_is_help=True)
console = stdout_console()


def serve(
    host: Annotated[
        str | None, typer.Option(help="TCP address ('' to disable TCP).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8765,
    socket: Annotated[Path | None, typer.Option(help="Also listen on this Unix socket.")] = None,
    directory: Annotated[
        Path, typer.Option("--dir", help="Folder for the database and artifacts.")
    ] = Path("."),
    database_url: Annotated[
        str | None, typer.Option(help="SQLAlchemy URL (default: SQLite in --dir).")
    ] = None,
    artifact_url: Annotated[
        str | None, typer.Option(help="fsspec URL for snapshots (default: --dir).")
    ] = None,
    per_hour: Annotated[int, typer.Option(help="Submissions per researcher per hour.")] = 20,
    total: Annotated[int, typer.Option(help="Submissions per researcher in total.")] = 200,
    resolution: Annotated[float, typer.Option(help="Public scores are rounded to this.")] = 0.01,
    probe_distance: Annotated[
        int, typer.Option(help="Flag submissions this close to an earlier one.")
    ] = 5,
    transcripts_dir: Annotated[
        Path | None,
        typer.Option(help="Researchers' transcripts for the dashboard (DIR/transcripts)."),
    ] = None,
    trivial_fraction: Annotated[
        float, typer.Option(help="Flag submissions with this share of one label.")
    ] = 0.98,
    probe_fraction: Annotated[
        float,
        typer.Option(help="Also flag submissions this share of the test set from an earlier one."),
    ] = 0.01,
    feedback: Annotated[
        Literal["rounded", "ladder"],
        typer.Option(help="rounded: every score; ladder: only new bests by the margin."),
    ] = "rounded",
    ladder_margin: Annotated[
        float, typer.Option(help="Ladder: public accuracy a new best must add.")
    ] = 0.01,
    access_log: Annotated[
        bool, typer.Option(help="Log every request to stderr (the audit log has them anyway).")
    ] = False,
    setting: Annotated[
        list[str] | None,
        typer.Option(
            "--set", help="Any other hub setting, KEY=VALUE (repeatable), e.g. rate_limit_burst=50."
        ),
    ] = None,
    gateway: Annotated[
        Path | None,
        typer.Option(help="LLM gateway TOML: upstreams, fleet limits (keys from the env)."),
    ] = None,
) -> None:
    """Start the hub (the operator's token is written to DIR/operator.token on first start)."""
    from pydantic import ValidationError

    from aar.cli.options import parse_assignments
    from aar.hub.gateway.config import load_gateway
    from aar.hub.server import serve as run
    from aar.hub.settings import HubSettings

    fields = {
        "dir": directory,
        "database_url": database_url,
        "artifact_url": artifact_url,
        "submissions_per_hour": per_hour,
        "submissions_total": total,
        "score_resolution": resolution,
        "probe_distance": probe_distance,
        "trivial_fraction": trivial_fraction,
        "probe_fraction": probe_fraction,
        "feedback": feedback,
        "ladder_margin": ladder_margin,
        "transcripts_dir": transcripts_dir,
        "gateway": load_gateway(gateway) if gateway else None,
    }
    try:
        settings = HubSettings(**(fields | parse_assignments(setting or [], "--set")))
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigError(f"--set {where}: {first['msg']}") from None
    console.print(f"hub in {directory.resolve()}; operator token in {directory / 'operator.token'}")
    run(settings, host or None, port, socket, access_log=access_log)


def _client(url: str | None, token: str | None) -> HubClient:
    from aar.hub.client import HubClient

    url = url or os.environ.get("AAR_HUB_URL", "http://127.0.0.1:8765")
    token = token or os.environ.get("AAR_HUB_TOKEN")
    if not token:
        raise ConfigError("no hub token: pass --token or set AAR_HUB_TOKEN")
    return HubClient.from_url(url, token)


UrlOpt = Annotated[
    str | None, typer.Option("--url", help="Hub URL, or unix:/path (default $AAR_HUB_URL).")
]
TokenOpt = Annotated[str | None, typer.Option("--token", help="Token (default $AAR_HUB_TOKEN).")]


@hub_app.command("add-researcher")
def add_researcher(name: str, url: UrlOpt = None, token: TokenOpt = None) -> None:
    """Create a researcher account; prints its token once."""
    created = _client(url, token).create_researcher(name)
    console.print(f"researcher {created.name}: token {created.token}")


@hub_app.command("researchers")
def researchers(url: UrlOpt = None, token: TokenOpt = None) -> None:
    """List accounts with status, budget use and flags."""
    from rich.table import Table

    table = Table("name", "role", "status", "used/hour", "used/total", "flagged", "last seen")
    for a in _client(url, token).accounts():
        b = a.budget
        table.add_row(
            a.name,
            a.role,
            a.status,
            f"{b.used_this_hour}/{b.per_hour}",
            f"{b.used_total}/{b.total}",
            str(a.flagged),
            str(a.last_seen or "-"),
        )
    console.print(table)


@hub_app.command("set-status")
def set_status(name: str, status: str, url: UrlOpt = None, token: TokenOpt = None) -> None:
    """Pause, resume (active) or stop a researcher."""
    _set_status(name, status, url, token)


def _set_status(name: str, status: str, url: str | None, token: str | None) -> None:
    account = _client(url, token).update_account(name, status=status)
    console.print(f"{account.name}: {account.status}")


@hub_app.command("pause")
def pause(name: str, url: UrlOpt = None, token: TokenOpt = None) -> None:
    """Pause a researcher: its submissions are refused until it is resumed."""
    _set_status(name, "paused", url, token)


@hub_app.command("resume")
def resume(name: str, url: UrlOpt = None, token: TokenOpt = None) -> None:
    """Make a paused (or stopped) researcher active again."""
    _set_status(name, "active", url, token)


@hub_app.command("stop")
def stop(name: str, url: UrlOpt = None, token: TokenOpt = None) -> None:
    """Stop a researcher: the hub refuses its token for everything until it is resumed."""
    _set_status(name, "stopped", url, token)


@hub_app.command("budget")
def budget(
    name: str,
    per_hour: Annotated[
        int | None, typer.Option("--per-hour", min=1, help="Submissions per rolling hour.")
    ] = None,
    total: Annotated[
        int | None, typer.Option("--total", min=1, help="Submissions in all (not below used).")
    ] = None,
    add: Annotated[
        int | None,
        typer.Option("--add", help="Add N to the total (negative cuts; not below used)."),
    ] = None,
    model_dollars: Annotated[
        float | None, typer.Option(min=0, help="Model spend limit through the gateway, USD.")
    ] = None,
    model_tokens: Annotated[
        int | None, typer.Option(min=0, help="Model token limit through the gateway.")
    ] = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Extend or cut a researcher's budget; prints the budget as it now stands.

    The hub refuses a total below the submissions already made (it cannot take them back):
    to allow no more, set the total to what is used, or pause the researcher. Model limits
    apply to calls through the hub's LLM gateway from the next call on.
    """
    changes = {"per_hour": per_hour, "total": total, "add_total": add,
               "model_dollars": model_dollars, "model_tokens": model_tokens}  # fmt: skip
    if all(value is None for value in changes.values()):
        raise typer.BadParameter(
            "give --per-hour, --total, --add, --model-dollars or --model-tokens"
        )
    if total is not None and add is not None:
        raise typer.BadParameter("give --total or --add, not both")
    account = _client(url, token).update_account(
        name, **{key: value for key, value in changes.items() if value is not None}
    )
    b = account.budget
    console.print(
        f"{account.name}: {b.per_hour} per hour ({b.used_this_hour} used this hour), "
        f"{b.total} in total ({b.used_total} used)"
    )
    if account.model is not None and (model_dollars is not None or model_tokens is not None):
        m = account.model
        console.print(
            f"model: ${m.dollars:.2f} of {_limit(m.dollar_limit, '$')}, "
            f"{m.tokens} tokens of {_limit(m.token_limit, '')}"
        )


def _limit(value: float | None, unit: str) -> str:
    return "no limit" if value is None else f"{unit}{value:g}"


@hub_app.command("guidance")
def guidance(
    title: str,
    body: Annotated[str, typer.Option("--body", help="The guidance itself.")],
    tag: Annotated[list[str] | None, typer.Option("--tag", help="A tag (repeatable).")] = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Post guidance to the forum: every researcher sees it, by the operator, kind guidance."""
    post = _client(url, token).post("guidance", title, body, tags=tag or [])
    console.print(f"guidance {post['id']} posted: {post['title']}")


@hub_app.command("quarantine")
def quarantine(
    post_id: str,
    reason: Annotated[str, typer.Option("--reason", help="Why (kept for the operator).")],
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Hide a forum post from researchers; the post and the reason are kept."""
    post = _client(url, token).quarantine(post_id, reason)
    console.print(f"post {post['id']} quarantined: {post['quarantine_reason']}")


@hub_app.command("release")
def release(post_id: str, url: UrlOpt = None, token: TokenOpt = None) -> None:
    """Show a quarantined forum post to researchers again."""
    post = _client(url, token).release(post_id)
    console.print(f"post {post['id']} released")
