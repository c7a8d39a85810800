"""Test helpers for the LLM gateway: a hub whose gateway forwards to a fake vendor server."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
from fastapi.testclient import TestClient

from aar.hub.gateway.config import GatewayConfig, Upstream
from aar.researchers.providers.wire import FakeLLMServer
from tests.hubkit import Hub, running_hub

UPSTREAM_KEY = "sk-upstream-secret-0123456789"
KEY_ENV = "AAR_TEST_UPSTREAM_KEY"


@dataclass
class GatewayWorld:
    hub: Hub
    vendor: FakeLLMServer

    def anthropic(self, token: str, **options: Any) -> anthropic.Anthropic:
        """The official client, pointed at the gateway, with a researcher's token as its key."""
        return anthropic.Anthropic(
            api_key=token, base_url="http://testserver/llm/claude",
            http_client=TestClient(self.hub.app), max_retries=options.pop("max_retries", 0),
            **options,
        )  # fmt: skip

    def openai(self, token: str) -> openai.OpenAI:
        return openai.OpenAI(
            api_key=token, base_url="http://testserver/llm/local/v1",
            http_client=TestClient(self.hub.app), max_retries=0,
        )  # fmt: skip

    def raw(self) -> TestClient:
        return TestClient(self.hub.app)


def upstreams(vendor: FakeLLMServer) -> tuple[Upstream, ...]:
    return (
        Upstream(name="claude", api="anthropic", base_url=vendor.anthropic_base_url,
                 api_key_env=KEY_ENV, models=("claude-opus-4-6*", "claude-haiku-4-5*")),
        Upstream(name="local", api="openai", base_url=vendor.openai_base_url,
                 api_key_env=KEY_ENV),
    )  # fmt: skip


@contextmanager
def gateway_world(
    folder: Path, monkeypatch: pytest.MonkeyPatch, **gateway: Any
) -> Iterator[GatewayWorld]:
    monkeypatch.setenv(KEY_ENV, UPSTREAM_KEY)
    with FakeLLMServer() as vendor:
        config = GatewayConfig(upstreams=upstreams(vendor), **gateway)
        with running_hub(folder, gateway=config) as hub:
            yield GatewayWorld(hub, vendor)
