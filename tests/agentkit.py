"""Test helpers for external agents: the real ``claude`` binary, and a served hub whose LLM
gateway forwards to the project's fake Anthropic server."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from aar.hub.client import HubClient
from aar.researchers.providers.wire import FakeLLMServer
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


@dataclass
class AgentWorld:
    hub: ServedHub
    operator: HubClient
    vendor: FakeLLMServer
    bundle: Path
    folder: Path

    def research(
        self, name: str, *flags: str, by_url: bool = False, **limits: float
    ) -> subprocess.CompletedProcess[str]:
        """``aar research --brain claude-code`` for a new researcher ``name``, given the hub's
        socket (or its URL: the researcher then serves the sandbox a relay to it)."""
        token = self.operator.create_researcher(name, **limits).token  # type: ignore[arg-type]
        hub = ["--hub-url", self.hub.url] if by_url else ["--hub-socket", str(self.hub.socket)]
        argv = [sys.executable, "-m", "aar", "research", "--task", "toy",
                "--bundle", str(self.bundle), "--workspace", str(self.workspace(name)),
                *hub, "--brain", "claude-code",
                "--model", "claude-opus-4-6", "--gateway", "claude", *flags]  # fmt: skip
        env = {**os.environ, "AAR_HUB_TOKEN": token, "AAR_CLAUDE_BINARY": str(claude_binary())}
        env.pop(KEY_ENV, None)  # the researcher's process never has the vendor key
        return subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env)

    def workspace(self, name: str) -> Path:
        return self.folder / "ws" / name


@contextmanager
def agent_world(
    folder: Path, monkeypatch: pytest.MonkeyPatch, api: str = "anthropic"
) -> Iterator[AgentWorld]:
    """A served hub whose gateway upstream ``claude`` (``api``) is the fake vendor server."""
    require_bwrap()
    if api == "anthropic":
        claude_binary()
    monkeypatch.setenv(KEY_ENV, UPSTREAM_KEY)  # the hub's environment, and only the hub's
    with FakeLLMServer() as vendor:
        gateway = folder / "gateway.toml"
        gateway.write_text(
            f'[[upstreams]]\nname = "claude"\napi = "{api}"\n'
            f'base_url = "{vendor.url if api == "anthropic" else vendor.openai_base_url}"\n'
            f'api_key_env = "{KEY_ENV}"\nmodels = ["claude-opus-4-6"]\n'
        )
        with (
            served_hub(folder / "hub", "--gateway", str(gateway)) as hub,
            HubClient(hub.url, hub.operator_token) as operator,
        ):
            bundle, _ = publish(operator, folder)
            monkeypatch.delenv(KEY_ENV)
            yield AgentWorld(hub, operator, vendor, bundle, folder)
