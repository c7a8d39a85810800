"""Claude Code as a researcher's brain, run headless inside the researcher's sandbox.

    agent = ClaudeCode(binary=find_claude(None), model="claude-opus-4-6", upstream="anthropic")
    spec = SandboxSpec(..., readonly=(..., agent.mount), env={**env, **agent.env(token)})
    argv = agent.command(system_prompt, KICKOFF, mcp_argv, dollars_left=4.2, turns_left=200)

The ``claude`` binary (npm ``@anthropic-ai/claude-code``, a single native executable) is
bound read-only into the sandbox. It reaches the model through the hub's LLM gateway over the
hub's Unix socket, which the sandbox already has (``ANTHROPIC_UNIX_SOCKET``), with the
researcher's hub token as its API key: the sandbox holds no vendor key, and the gateway
meters and caps every call. It runs with every tool allowed (the sandbox is the boundary; it
runs as uid 1000 there), aar's hub tools as the MCP server ``aar``, no settings, hooks or MCP
servers from the workspace (``--strict-mcp-config``, ``--setting-sources ""``: a researcher
could plant them), no non-essential traffic and no auto-update. aar's research prompt is
appended to Claude Code's own system prompt.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from aar.researchers.agents.binaries import executable, find_binary
from aar.sandbox.base import HUB_SOCKET, Mount

AGENT_DIR = "/opt/agent"
PINNED_VERSION = "2.1.197"
"""The Claude Code release aar is tested with (.ci/claude-code installs it)."""
INSTALL_HINT = (
    f"install Claude Code (npm install -g @anthropic-ai/claude-code@{PINNED_VERSION}), or give "
    "its binary with --agent-binary PATH or $AAR_CLAUDE_BINARY"
)
TOOLS_NOTE = (
    "\n\n# Your tools in this session\n\nYou are running as Claude Code: use Bash, Read, Write, "
    "Edit, Grep and Glob for the workspace, and the aar hub tools (forum_read, forum_post, "
    "forum_reply, forum_search, leaderboard, submit_predictions, declare_final, "
    "share_snapshot, fetch_snapshot, run_method, notebook) from the MCP server `aar`. Keep "
    "your notebook up to date: when this session ends, the next one starts from it."
)


def find_claude(explicit: Path | None) -> Path:
    """The ``claude`` binary: given, from ``$AAR_CLAUDE_BINARY``, or on PATH (links followed)."""
    found = find_binary(explicit, "AAR_CLAUDE_BINARY", "claude", "the claude-code brain",
                        INSTALL_HINT)  # fmt: skip
    return executable(found, "claude", INSTALL_HINT)


@dataclass(frozen=True)
class ClaudeCode:
    binary: Path
    """On the host; bound read-only at ``AGENT_DIR`` with its folder."""
    model: str
    upstream: str
    """The gateway upstream it calls (``/llm/{upstream}``)."""
    max_retries: int = 3

    @property
    def mount(self) -> Mount:
        return Mount(self.binary.parent, AGENT_DIR)

    @property
    def inside(self) -> str:
        return f"{AGENT_DIR}/{self.binary.name}"

    def env(self, token: str) -> dict[str, str]:
        """What Claude Code needs in the sandbox's environment."""
        return {
            "ANTHROPIC_UNIX_SOCKET": HUB_SOCKET,
            "ANTHROPIC_BASE_URL": f"http://localhost/llm/{self.upstream}",
            "ANTHROPIC_API_KEY": token,
            # a helper model, if this release asks for one, is the one the gateway allows
            "ANTHROPIC_DEFAULT_HAIKU_MODEL": self.model,
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_AUTOUPDATER": "1",
            "DISABLE_TELEMETRY": "1",
            "DISABLE_ERROR_REPORTING": "1",
            # its default (10, with back-off) spends minutes on a refusal that will not change
            "CLAUDE_CODE_MAX_RETRIES": str(self.max_retries),
            "TMPDIR": "/tmp",
        }

    def command(
        self,
        system: str,
        prompt: str,
        mcp: list[str],
        *,
        dollars_left: float | None = None,
        turns_left: int | None = None,
    ) -> list[str]:
        """One headless session: ``prompt`` as the user's message, aar's prompt appended."""
        server = {"mcpServers": {"aar": {"command": mcp[0], "args": mcp[1:]}}}
        argv = [
            self.inside, "-p", prompt, "--output-format", "stream-json", "--verbose",
            "--model", self.model, "--append-system-prompt", system + TOOLS_NOTE,
            "--mcp-config", json.dumps(server), "--strict-mcp-config",
            "--setting-sources", "", "--dangerously-skip-permissions",
            "--no-session-persistence",
        ]  # fmt: skip
        if turns_left is not None:
            argv += ["--max-turns", str(max(turns_left, 1))]
        if dollars_left is not None:
            argv += ["--max-budget-usd", f"{max(dollars_left, 0.0):.4f}"]
        return argv
