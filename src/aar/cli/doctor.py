"""``aar doctor``: can this endpoint and model drive an LLM researcher?

    aar doctor --model claude-sonnet-4-5                              # Anthropic (key in env)
    aar doctor --model qwen2.5-coder --base-url http://127.0.0.1:8080/v1 --context-window 8192

Sends one tool-call round trip (``aar.researchers.doctor``), prints a table of what came back
(tool calls, tokens, seconds, output tokens per second) and a plain verdict; exits 1 when the
endpoint cannot drive a researcher, so scripts can check before a campaign spends anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from aar.cli.output import stdout_console

console = stdout_console()
Opt = typer.Option


def doctor(
    model: Annotated[str, Opt(help="Model name as the API knows it.")],
    brain: Annotated[
        str | None, Opt(help="anthropic or openai (default: claude-* anthropic, else openai).")
    ] = None,
    base_url: Annotated[str | None, Opt(help="API root, e.g. a local server's /v1.")] = None,
    api_key_env: Annotated[str | None, Opt(help="Env var with the API key.")] = None,
    context_window: Annotated[int | None, Opt(help="The model's context, tokens.")] = None,
    request_timeout: Annotated[
        float | None, Opt(min=1, help="Seconds per request attempt (default 300).")
    ] = None,
    prices: Annotated[Path | None, Opt(help="TOML price table over the defaults.")] = None,
) -> None:
    """Send one tool-call round trip and say whether the endpoint can drive a researcher."""
    from aar.researchers.doctor import check_endpoint
    from aar.researchers.providers import ProviderConfig, make_provider
    from aar.researchers.tools import default_tools

    kind = brain or ("anthropic" if model.startswith("claude") else "openai")
    settings = {
        "base_url": base_url, "api_key_env": api_key_env, "context_window": context_window,
        "timeout_s": request_timeout, "prices": prices,
    }  # fmt: skip
    given = {key: value for key, value in settings.items() if value is not None}
    config = ProviderConfig(kind=kind, model=model, max_retries=1, **given)
    with make_provider(config) as provider:
        report = check_endpoint(provider, [t.spec() for t in default_tools()])
    table = Table(show_header=False, title="aar doctor", title_justify="left")
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for name, value in report.rows():
        table.add_row(name, value)
    console.print(table)
    if not report.can_drive:
        raise typer.Exit(1)
