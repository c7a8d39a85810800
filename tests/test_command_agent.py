"""Any program as a researcher's brain (``--brain command``): it runs in the bwrap sandbox and
reaches the hub's gateway through the loopback forwarder, as the official clients look for it."""

from __future__ import annotations

from pathlib import Path

import pytest

from aar.core.transcripts import read_transcript
from aar.researchers.providers.wire import FakeReply
from tests.agentkit import UPSTREAM_KEY, agent_world

# A minimal agent: one chat completion through $OPENAI_BASE_URL, printed; exits 1 on an error.
AGENT = """
import json, os, sys, httpx
reply = httpx.post(os.environ["OPENAI_BASE_URL"] + "/chat/completions", timeout=30,
                   headers={"authorization": "Bearer " + os.environ["OPENAI_API_KEY"]},
                   json={"model": "claude-opus-4-6", "messages": [{"role": "user",
                         "content": sys.argv[1]}]})
print("status", reply.status_code)
if reply.status_code != 200:
    print(reply.text[:300])
    sys.exit(1)
print("model said:", reply.json()["choices"][0]["message"]["content"])
print("vendor key here:", any("upstream-never" in v for v in os.environ.values()))
"""


def test_a_command_agent_calls_the_gateway_through_the_forwarder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with agent_world(tmp_path, monkeypatch, api="openai") as world:
        world.vendor.add(FakeReply(text="try confident learning"))
        (world.workspace("r1")).mkdir(parents=True)
        (world.workspace("r1") / "agent.py").write_text(AGENT)
        done = world.command("r1", "python agent.py {prompt}")
        calls = world.operator.model_calls(researcher="r1")
    assert done.returncode == 0, done.stderr
    said = " ".join(done.stdout.split())
    assert "r1 stopped: the agent failed 3 sessions in a row; last: exit 1" in said
    steps = read_transcript(world.workspace("r1").parent / "r1.jsonl")
    lines = [s["text"] for s in steps if s["kind"] == "agent_output"]
    assert "model said: try confident learning" in lines
    assert "vendor key here: False" in lines
    assert world.vendor.requests[0].headers["authorization"] == f"Bearer {UPSTREAM_KEY}"
    # the first call was forwarded; the next sessions found the fake server's script empty
    assert [c.status for c in calls][:1] == [200]
    assert len([s for s in steps if s.get("event") == "session_start"]) == 4
