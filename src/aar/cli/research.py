"""``aar research``: one researcher in a sandbox, working against a running hub.

    aar research --task geofacts --bundle campaign/public/geofacts --workspace ws/r1 \\
        --hub-socket campaign/hub.sock --token $TOKEN --minutes 10

The researcher's code runs in the sandbox (``--sandbox bwrap`` by default; ``process`` is
for development only and needs ``--allow-unsafe``); its tools run here, in this process,
and reach the hub with the researcher's token. ``aar run`` starts many of these.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aar.cli.output import stdout_console
from aar.core.errors import ConfigError

console = stdout_console()
SOCKET_INSIDE = "/run/aar/hub.sock"


def research(
    task: Annotated[str, typer.Option(help="The task's name on the hub.")],
    bundle: Annotated[Path, typer.Option(help="The task's public bundle (aar hub publish-task).")],
    workspace: Annotated[Path, typer.Option(help="The researcher's workspace folder.")],
    token: Annotated[str, typer.Option(envvar="AAR_HUB_TOKEN", help="The researcher's token.")],
    hub_socket: Annotated[
        Path | None, typer.Option(help="The hub's Unix socket (bound into the sandbox).")
    ] = None,
    hub_url: Annotated[str | None, typer.Option(help="The hub's URL, if no socket.")] = None,
    sandbox: Annotated[str, typer.Option(help="Sandbox backend: bwrap or process.")] = "bwrap",
    allow_unsafe: Annotated[
        bool, typer.Option(help="Allow the process backend, which does NOT isolate.")
    ] = False,
    brain: Annotated[str, typer.Option(help="Who decides: baseline (no LLM).")] = "baseline",
    minutes: Annotated[float, typer.Option(min=0.1, help="Wall-clock budget.")] = 10.0,
    transcript: Annotated[
        Path | None, typer.Option(help="JSON-lines transcript (default: WORKSPACE/../NAME.jsonl).")
    ] = None,
) -> None:
    """Run one researcher until its budget is spent or its search is done."""
    from aar.hub.client import HubClient
    from aar.researchers.baseline import BaselineBudget, BaselineResearcher
    from aar.researchers.tools import Toolbox, ToolContext, default_tools
    from aar.researchers.transcripts import Transcript
    from aar.sandbox.base import Mount, SandboxSpec
    from aar.sandbox.registry import make_sandbox

    if brain != "baseline":
        raise ConfigError(f"unknown brain {brain!r}; this command runs: baseline")
    if (hub_socket is None) == (hub_url is None):
        raise ConfigError("give the hub as --hub-socket PATH or --hub-url URL (one of them)")
    hub = HubClient.unix(str(hub_socket), token) if hub_socket else HubClient(str(hub_url), token)
    name = hub.me().name
    workspace.mkdir(parents=True, exist_ok=True)
    inside = f"/data/{task}"
    spec = SandboxSpec(
        workspace=workspace.resolve(),
        readonly=(Mount(bundle.resolve(), inside),),
        hub_socket=hub_socket.resolve() if hub_socket else None,
        env={"AAR_HUB_URL": f"unix:{SOCKET_INSIDE}", "AAR_HUB_TOKEN": token} if hub_socket else {},
    )
    log_path = transcript or workspace.resolve().parent / f"{name}.jsonl"
    with make_sandbox(sandbox, spec, allow_unsafe=allow_unsafe) as box, Transcript(log_path) as log:
        context = ToolContext(sandbox=box, hub=hub, task=task, bundle=inside, researcher=name)
        researcher = BaselineResearcher(
            Toolbox(context, default_tools()), log, BaselineBudget(minutes=minutes)
        )
        reason = researcher.run()
    best = researcher.best()
    summary = f"{name} stopped: {reason}"
    if best is not None:
        summary += f"; best public PGR {best['public_pgr']:.2f} (first {best['first']:.2f})"
    console.print(summary + f"; transcript {log_path}")
