"""Test helpers for external agents: the real ``claude`` binary, and a served hub whose LLM
gateway forwards to the project's fake Anthropic server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from aar.hub.client import HubClient
from aar.researchers.providers.wire import FakeLLMServer
from tests.campaignkit import SMALL_TOY, finish, start
from tests.researchkit import publish
from tests.sandboxkit import require_bwrap
from tests.servekit import ServedHub, served_hub

UPSTREAM_KEY = "sk-ant-upstream-never-in-the-sandbox-42"
KEY_ENV = "AAR_TEST_ANTHROPIC_KEY"


def claude_binary() -> Path:
    """Claude Code's binary ($AAR_CLAUDE_BINARY, else on PATH); skipped when absent, and a
    failure when $AAR_REQUIRE_CLAUDE is set (CI installs it with .ci/claude-code)."""
    named = os.environ.get("AAR_CLAUDE_BINARY") or shutil.which("claude")
    if named and Path(named).is_file():
        return Path(named)
    problem = "no claude binary: run .ci/claude-code CACHE and set AAR_CLAUDE_BINARY"
    if os.environ.get("AAR_REQUIRE_CLAUDE"):
        pytest.fail(f"AAR_REQUIRE_CLAUDE is set but {problem}")
    pytest.skip(problem)


def codex_binary() -> Path:
    """Codex CLI's native binary ($AAR_CODEX_BINARY, else on PATH), as ``claude_binary``
    (CI installs it with .ci/codex; $AAR_REQUIRE_CODEX makes its absence a failure)."""
    from aar.core.errors import ConfigError
    from aar.researchers.agents.codex import find_codex

    try:
        return find_codex(None)
    except ConfigError as missing:
        if os.environ.get("AAR_REQUIRE_CODEX"):
            pytest.fail(f"AAR_REQUIRE_CODEX is set but {missing}")
        pytest.skip(str(missing))


BINARIES = {"claude-code": ("AAR_CLAUDE_BINARY", claude_binary),
            "codex": ("AAR_CODEX_BINARY", codex_binary)}  # fmt: skip


@dataclass
class AgentWorld:
    hub: ServedHub
    operator: HubClient
    vendor: FakeLLMServer
    bundle: Path
    folder: Path
    brain: str = "claude-code"
    model: str = "claude-opus-4-6"

    def research(
        self, name: str, *flags: str, by_url: bool = False, **limits: float
    ) -> subprocess.CompletedProcess[str]:
        """``aar research --brain BRAIN`` (claude-code or codex) for a new researcher ``name``,
        given the hub's socket (or its URL: the researcher serves the sandbox a relay to it)."""
        token = self.operator.create_researcher(name, **limits).token  # type: ignore[arg-type]
        hub = ["--hub-url", self.hub.url] if by_url else ["--hub-socket", str(self.hub.socket)]
        argv = [sys.executable, "-m", "aar", "research", "--task", "toy",
                "--bundle", str(self.bundle), "--workspace", str(self.workspace(name)),
                *hub, "--brain", self.brain,
                "--model", self.model, "--gateway", "claude", *flags]  # fmt: skip
        variable, binary = BINARIES[self.brain]
        env = {**os.environ, "AAR_HUB_TOKEN": token, variable: str(binary())}
        env.pop(KEY_ENV, None)  # the researcher's process never has the vendor key
        return subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env)

    def command(self, name: str, agent_command: str, minutes: str = "2") -> Any:
        """``aar research --brain command`` for a new researcher ``name`` whose workspace the
        test has filled (the agent's program lives there)."""
        token = self.operator.create_researcher(name).token
        argv = [sys.executable, "-m", "aar", "research", "--task", "toy", "--bundle",
                str(self.bundle), "--workspace", str(self.workspace(name)), "--hub-socket",
                str(self.hub.socket), "--brain", "command", "--gateway", "claude",
                "--agent-command", agent_command, "--minutes", minutes]  # fmt: skip
        env = {**os.environ, "AAR_HUB_TOKEN": str(token)}
        return subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env)

    def workspace(self, name: str) -> Path:
        return self.folder / "ws" / name


@contextmanager
def agent_world(
    folder: Path, monkeypatch: pytest.MonkeyPatch, api: str = "anthropic", brain: str = ""
) -> Iterator[AgentWorld]:
    """A served hub whose gateway upstream ``claude`` (``api``) is the fake vendor server,
    offering the model of ``brain`` (claude-code by default; codex)."""
    require_bwrap()
    brain = brain or ("claude-code" if api == "anthropic" else "command")
    if brain in BINARIES:
        BINARIES[brain][1]()
    model = "gpt-5-codex" if brain == "codex" else "claude-opus-4-6"
    monkeypatch.setenv(KEY_ENV, UPSTREAM_KEY)  # the hub's environment, and only the hub's
    with FakeLLMServer() as vendor:
        gateway = folder / "gateway.toml"
        gateway.write_text(
            f'[[upstreams]]\nname = "claude"\napi = "{api}"\n'
            f'base_url = "{vendor.url if api == "anthropic" else vendor.openai_base_url}"\n'
            f'api_key_env = "{KEY_ENV}"\nmodels = ["{model}"]\n'
        )
        with (
            served_hub(folder / "hub", "--gateway", str(gateway)) as hub,
            HubClient(hub.url, hub.operator_token) as operator,
        ):
            bundle, _ = publish(operator, folder)
            monkeypatch.delenv(KEY_ENV)
            yield AgentWorld(hub, operator, vendor, bundle, folder, brain, model)


def agent_campaign(
    folder: Path, brain: str, model: str, base_url: str, *flags: str
) -> tuple[str, dict[str, Any]]:
    """``aar run`` with one ``brain`` researcher whose model is behind ``base_url`` (the key in
    the campaign's, so the hub's, environment alone); its output and its report's summary."""
    require_bwrap()
    BINARIES[brain][1]()
    argv = ["--researchers", "1", "--brain", brain, "--model", model, "--base-url", base_url,
            "--api-key-env", KEY_ENV, "--verify-top-k", "0", "--sandbox", "bwrap",
            *flags]  # fmt: skip
    output = finish(start("--dir", str(folder), *SMALL_TOY, *argv, env={KEY_ENV: UPSTREAM_KEY}))
    return output, json.loads((folder / "report" / "summary.json").read_text())
