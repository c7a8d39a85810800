"""``aar serve`` and ``aar hub``: run the hub, and the operator's commands against it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

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
    access_log: Annotated[
        bool, typer.Option(help="Log every request to stderr (the audit log has them anyway).")
    ] = False,
) -> None:
    """Start the hub (the operator's token is written to DIR/operator.token on first start)."""
    from aar.hub.server import serve as run
    from aar.hub.settings import HubSettings

    settings = HubSettings(
        dir=directory,
        database_url=database_url,
        artifact_url=artifact_url,
        submissions_per_hour=per_hour,
        submissions_total=total,
        score_resolution=resolution,
        probe_distance=probe_distance,
        trivial_fraction=trivial_fraction,
        transcripts_dir=transcripts_dir,
    )
    console.print(f"hub in {directory.resolve()}; operator token in {directory / 'operator.token'}")
    run(settings, host or None, port, socket, access_log=access_log)


def _client(url: str | None, token: str | None) -> HubClient:
    from aar.hub.client import HubClient

    url = url or os.environ.get("AAR_HUB_URL", "http://127.0.0.1:8765")
    token = token or os.environ.get("AAR_HUB_TOKEN")
    if not token:
        raise ConfigError("no hub token: pass --token or set AAR_HUB_TOKEN")
    if url.startswith("unix:"):
        return HubClient.unix(url.removeprefix("unix:"), token)
    return HubClient(url, token)


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
    account = _client(url, token).update_account(name, status=status)
    console.print(f"{account.name}: {account.status}")
