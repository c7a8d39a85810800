"""``aar research --brain claude-code|codex|command``: an external agent in the sandbox.

    summary = run_agent(AgentRun(brain="claude-code", model="claude-opus-4-6", ...), hub,
                        token, spec_for)

Every setting is checked before the sandbox starts. The agent reaches the model only through
the hub's LLM gateway (``--gateway``, default ``anthropic`` for Claude Code, ``openai`` for
Codex and a command), and the hub only through a socket bound into the bwrap sandbox (required): the
hub's own (``--hub-socket``), or a relay this process serves to a hub given by ``--hub-url``
(``aar.researchers.agents.relay``). ``aar.researchers.agents`` has the agents themselves and
the session supervisor.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aar.core.errors import ConfigError
from aar.hub.client import HubClient


@dataclass(frozen=True)
class AgentRun:
    brain: str
    model: str | None
    gateway: str | None
    binary: Path | None
    command: str | None
    sandbox: str
    socket: Path
    task: str
    direction: Any
    transcript: Path
    budget: dict[str, Any]


def _check(run: AgentRun) -> None:
    if run.sandbox != "bwrap":
        raise ConfigError(f"brain {run.brain} runs only in the bwrap sandbox (--sandbox bwrap)")
    if run.brain == "claude-code" and not run.model:
        raise ConfigError("brain claude-code needs --model (e.g. claude-opus-4-6)")
    if run.brain == "codex" and not run.model:
        raise ConfigError("brain codex needs --model (e.g. gpt-5-codex)")
    if run.brain == "command" and not (run.command or "").strip():
        raise ConfigError("brain command needs --agent-command (the agent's command line)")


@contextmanager
def hub_socket_for(socket: Path | None, url: str | None) -> Iterator[Path]:
    """The hub's socket, or a relay's to the hub at ``url`` (closed on exit)."""
    from aar.researchers.agents.relay import HubRelay

    if socket is not None:
        yield socket
        return
    with HubRelay(str(url)) as relay:
        yield relay.path


def run_agent(run: AgentRun, hub: HubClient, token: str, spec_for: Callable[..., Any]) -> str:
    """Run the agent's sessions until a budget ends them; a one-line summary."""
    from aar.core.transcripts import Transcript
    from aar.researchers.agents.codex_stream import CodexReader
    from aar.researchers.agents.sessions import AgentBudget, AgentSessions
    from aar.researchers.agents.stream import LineReader, StreamReader
    from aar.researchers.prompts import research_prompt
    from aar.sandbox.registry import make_sandbox

    _check(run)
    inside = f"/data/{run.task}"
    system = research_prompt(hub.me().name, hub.task(run.task), inside, run.direction,
                             run.budget)  # fmt: skip
    if run.brain == "claude-code":
        spec, command = _claude_code(run, token, system, spec_for)
        reader: Any = StreamReader
    elif run.brain == "codex":
        spec, command = _codex(run, token, system, spec_for)
        reader = CodexReader
    else:
        spec, command = _command(run, token, system, spec_for)
        reader = LineReader
    with make_sandbox("bwrap", spec) as box, Transcript(run.transcript) as log:
        sessions = AgentSessions(box, log, hub, command, AgentBudget(**run.budget), reader)
        reason = sessions.run()
    spent = f"{sessions.sessions} sessions, {sessions.turns} turns, ${sessions.dollars:.4f}"
    return f"{reason}; {spent}"


def _claude_code(
    run: AgentRun, token: str, system: str, spec_for: Callable[..., Any]
) -> tuple[Any, Callable[[str, float | None, int | None], list[str]]]:
    from aar.researchers.agents.claude_code import ClaudeCode, find_claude

    agent = ClaudeCode(find_claude(run.binary), str(run.model), run.gateway or "anthropic")
    spec = spec_for((agent.mount,), agent.env(token))
    mcp = _mcp_argv(run.task)

    def command(prompt: str, dollars: float | None, turns: int | None) -> list[str]:
        return agent.command(system, prompt, mcp, dollars_left=dollars, turns_left=turns)

    return spec, command


def _codex(
    run: AgentRun, token: str, system: str, spec_for: Callable[..., Any]
) -> tuple[Any, Callable[[str, float | None, int | None], list[str]]]:
    from aar.researchers.agents.codex import Codex, find_codex

    agent = Codex(find_codex(run.binary), str(run.model), run.gateway or "openai")
    spec = spec_for((agent.mount,), agent.env(token, system, sys.executable))

    def command(prompt: str, dollars: float | None, turns: int | None) -> list[str]:
        return agent.command(system, prompt, _mcp_argv(run.task))  # its budgets: the gateway's

    return spec, command


def _mcp_argv(task: str) -> list[str]:
    """aar's MCP server, as the agent starts it inside the sandbox."""
    return [sys.executable, "-m", "aar.researchers.agents.mcp_server", "--task", task,
            "--bundle", f"/data/{task}"]  # fmt: skip


def _command(
    run: AgentRun, token: str, system: str, spec_for: Callable[..., Any]
) -> tuple[Any, Callable[[str, float | None, int | None], list[str]]]:
    from aar.researchers.agents.command import CommandAgent

    agent = CommandAgent(tuple(shlex.split(str(run.command))), run.gateway or "openai")
    spec = spec_for((), agent.env(token, system, sys.executable))

    def command(prompt: str, dollars: float | None, turns: int | None) -> list[str]:
        return agent.command(prompt, system)

    return spec, command
