"""Codex CLI as a researcher's brain, run headless (``codex exec``) inside the sandbox.

    agent = Codex(binary=find_codex(None), model="gpt-5-codex", upstream="openai")
    spec = SandboxSpec(..., readonly=(..., agent.mount), env={**env, **agent.env(token, py)})
    argv = agent.command(system_prompt, KICKOFF, mcp_argv)

The ``codex`` binary (npm ``@openai/codex`` ships a static Linux build) is bound read-only into
the sandbox. It speaks OpenAI's Responses API, which the hub's gateway forwards and meters;
it cannot use a Unix socket, so it reaches the gateway through the loopback forwarder of the
``command`` agent (``aar.researchers.agents.command``), with the researcher's hub token as its
key (a model provider ``aar`` defined on the command line, so no config file is read for it).
It runs with approvals and its own sandbox off (the bwrap sandbox is the boundary), web
search disabled (the gateway would refuse it anyway), and aar's hub tools as the MCP server
``aar``. aar's research prompt goes before the session's message; ``--json`` prints one JSON
event per line, which ``codex_stream.CodexReader`` writes into the transcript.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from aar.core.errors import ConfigError
from aar.researchers.agents.binaries import executable, find_binary
from aar.researchers.agents.command import PORT, CommandAgent
from aar.sandbox.base import Mount

AGENT_DIR = "/opt/agent"
PINNED_VERSION = "0.171.0"
"""The Codex CLI release aar is tested with (.ci/codex installs it)."""
INSTALL_HINT = (
    f"install Codex CLI (npm install -g @openai/codex@{PINNED_VERSION}), or give its binary "
    "with --agent-binary PATH or $AAR_CODEX_BINARY"
)
CODEX_HOME = "/tmp/.codex"
MCP_VARIABLES = ("AAR_HUB_URL", "AAR_HUB_TOKEN")
TOOLS_NOTE = (
    "\n\n# Your tools in this session\n\nYou are running as Codex CLI: use your shell for the "
    "workspace, and the aar hub tools (forum_read, forum_post, forum_reply, forum_search, "
    "leaderboard, submit_predictions, declare_final, share_snapshot, fetch_snapshot, "
    "run_method, notebook) from the MCP server `aar`. Keep your notebook up to date: when "
    "this session ends, the next one starts from it.\n\n# This session\n\n"
)


def find_codex(explicit: Path | None) -> Path:
    """The ``codex`` binary: given, from ``$AAR_CODEX_BINARY``, or on PATH (links followed).

    npm's ``codex`` on PATH is a Node launcher; the native binary it starts sits beside it
    in the ``@openai/codex-linux-x64`` package, and that one is what runs in the sandbox.
    """
    found = find_binary(explicit, "AAR_CODEX_BINARY", "codex", "the codex brain", INSTALL_HINT)
    return executable(_native_beside(found) if found.suffix == ".js" else found, "codex",
                      INSTALL_HINT)  # fmt: skip


def _native_beside(launcher: Path) -> Path:
    """The native build npm installed next to the Node launcher ``bin/codex.js``."""
    modules = launcher.parent.parent.parent  # node_modules/@openai/codex/bin/codex.js
    found = sorted(modules.glob("codex-linux-*/vendor/*/bin/codex"))
    if not found:
        raise ConfigError(f"no native codex build beside {launcher}: {INSTALL_HINT}")
    return found[0]


@dataclass(frozen=True)
class Codex:
    binary: Path
    """On the host; bound read-only at ``AGENT_DIR`` with its folder."""
    model: str
    upstream: str
    """The gateway upstream it calls (``/llm/{upstream}``; an OpenAI-API one)."""
    max_retries: int = 1
    port: int = PORT

    @property
    def mount(self) -> Mount:
        return Mount(self.binary.parent, AGENT_DIR)

    @property
    def forwarder(self) -> CommandAgent:
        """The command agent's launch: its loopback forwarder to the gateway, its keys."""
        return CommandAgent((), self.upstream, self.port)

    def env(self, token: str, system: str, python: str) -> dict[str, str]:
        """The command agent's environment (the forwarder, the keys) and Codex's home."""
        return {**self.forwarder.env(token, system, python), "CODEX_HOME": CODEX_HOME}

    def command(self, system: str, prompt: str, mcp: list[str]) -> list[str]:
        """One headless session, behind the forwarder the command agent starts first."""
        provider = {
            "name": "aar", "base_url": f"{self.forwarder.base_url}/v1",
            "env_key": "OPENAI_API_KEY", "wire_api": "responses",
            "request_max_retries": self.max_retries, "stream_max_retries": self.max_retries,
        }  # fmt: skip
        # Codex starts MCP servers with a bare environment: the hub's address and token are
        # passed on by name
        server = {"command": mcp[0], "args": mcp[1:], "env_vars": list(MCP_VARIABLES)}
        codex = [
            f"{AGENT_DIR}/{self.binary.name}", "exec", "--json", "--skip-git-repo-check",
            "--dangerously-bypass-approvals-and-sandbox", "--model", self.model,
            "-c", 'model_provider="aar"', "-c", f"model_providers.aar={_toml(provider)}",
            "-c", 'web_search="disabled"', "-c", f"mcp_servers.aar={_toml(server)}",
            system + TOOLS_NOTE + prompt,
        ]  # fmt: skip
        home = ["/bin/sh", "-c", f'mkdir -p {CODEX_HOME} && exec "$@"', "codex"]
        return self.forwarder.launch([*home, *codex])


def _toml(table: Mapping[str, object]) -> str:
    """An inline TOML table (JSON's strings, numbers and arrays are TOML's too)."""
    return "{" + ", ".join(f"{key} = {json.dumps(value)}" for key, value in table.items()) + "}"
