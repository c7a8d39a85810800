"""The relay an agent's sandbox reaches a hub by URL through: HTTP passes both ways unchanged."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from aar.core.errors import ConfigError
from aar.hub.client import HubClient
from aar.researchers.agents.relay import HubRelay
from tests.servekit import served_hub


def test_the_relay_carries_requests_and_answers_to_a_hub_served_by_url(tmp_path: Path) -> None:
    with served_hub(tmp_path / "hub") as hub:
        with HubClient(hub.url, hub.operator_token) as operator:
            token = operator.create_researcher("r1").token
        with HubRelay(hub.url) as relay, HubClient.unix(str(relay.path), token) as client:
            me = client.me()
            posted = client.post("insight", "over the relay", "a body " * 2000)  # many chunks
            read = client.get_post(posted["id"])
            folder = relay.path.parent
            assert folder.stat().st_mode & 0o777 == 0o700  # the relay's socket is ours alone
    assert me.name == "r1"
    assert read["body"] == "a body " * 2000
    assert not folder.exists()  # the relay's folder goes with it


def test_a_hub_that_is_down_ends_the_connection_and_a_bad_url_is_named(tmp_path: Path) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with (
        HubRelay(f"http://127.0.0.1:{port}") as relay,
        HubClient.unix(str(relay.path), "t") as client,
        pytest.raises(Exception, match=r"disconnected|closed|reset|Server"),
    ):
        client.me()
    for bad in ("unix:/tmp/hub.sock", "hub.example:8000", "ftp://hub"):
        with pytest.raises(ConfigError, match="must be http"):
            HubRelay(bad)
