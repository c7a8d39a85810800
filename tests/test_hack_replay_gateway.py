"""A researcher that attacks the gateway from inside its sandbox, as a capable one would.

One ``--brain command`` agent, in the real bwrap sandbox behind the loopback forwarder, tries
in one session what the gateway must refuse: the web through the vendor's own tools, a
background response billed after the call, a model it was not offered, a body too large,
another key, the operator's endpoints, and a stream it abandons so as not to pay for it. The
hub must refuse each before forwarding (or charge the stream in full), and lose nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aar.core.transcripts import read_transcript
from aar.researchers.providers.wire import FakeReply
from tests.agentkit import agent_world

ATTACKS = """
import json, os, sys, httpx
if os.path.exists("attacked"):
    sys.exit(1)  # later sessions: nothing more to try
open("attacked", "w").close()
base, key = os.environ["OPENAI_BASE_URL"], os.environ["OPENAI_API_KEY"]
auth = {"authorization": "Bearer " + key}
hi = [{"role": "user", "content": "hi"}]
def post(name, path, body, headers=auth):
    answer = httpx.post(base + path, json=body, headers=headers, timeout=30)
    print(json.dumps({"attack": name, "status": answer.status_code,
                      "says": answer.text[:200]}))
model = "claude-opus-4-6"
post("web search option", "/chat/completions",
     {"model": model, "messages": hi, "web_search_options": {}})
post("hosted web search", "/responses",
     {"model": model, "input": "capital of Peru?", "tools": [{"type": "web_search"}]})
post("remote mcp", "/responses",
     {"model": model, "input": "x", "tools": [{"type": "mcp", "server_url": "https://x"}]})
post("background", "/responses", {"model": model, "input": "x", "background": True})
post("model not offered", "/chat/completions", {"model": "gpt-5", "messages": hi})
post("too large", "/chat/completions",
     {"model": model, "messages": [{"role": "user", "content": "x" * 33_000_000}]})
post("another key", "/chat/completions", {"model": model, "messages": hi},
     {"authorization": "Bearer aar_someone_elses_token"})
calls = httpx.Client(transport=httpx.HTTPTransport(uds="/run/aar/hub.sock"))
answer = calls.get("http://hub/llm/calls", headers=auth)
print(json.dumps({"attack": "operator endpoint", "status": answer.status_code, "says": ""}))
with httpx.stream("POST", base + "/chat/completions", headers=auth, timeout=30,
                  json={"model": model, "messages": hi, "stream": True}) as stream:
    first = next(stream.iter_bytes())
print(json.dumps({"attack": "abandoned stream", "status": stream.status_code, "says": ""}))
"""


def test_an_agent_attacking_the_gateway_from_its_sandbox_is_refused_and_charged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with agent_world(tmp_path, monkeypatch, api="openai") as world:
        world.vendor.add(FakeReply(text="a long answer " * 50, chunks=20, chunk_delay_s=0.02))
        workspace = world.workspace("r1")
        workspace.mkdir(parents=True)
        (workspace / "attack.py").write_text(ATTACKS)
        done = world.command("r1", "python attack.py")
        calls = world.operator.model_calls(researcher="r1")
        forwarded = world.vendor.requests
    assert done.returncode == 0, done.stderr
    steps = read_transcript(workspace.parent / "r1.jsonl")
    seen = [json.loads(s["text"]) for s in steps if s["kind"] == "agent_output"]
    status = {line["attack"]: line["status"] for line in seen}
    assert status == {
        "web search option": 403, "hosted web search": 403, "remote mcp": 403,
        "background": 403, "model not offered": 403, "too large": 413, "another key": 401,
        "operator endpoint": 403, "abandoned stream": 200,
    }, seen  # fmt: skip
    says = {line["attack"]: line["says"] for line in seen}
    assert "no network" in says["hosted web search"]
    assert "not offered" in says["model not offered"]
    # only the stream reached the vendor, and it was charged whole though abandoned
    assert len(forwarded) == 1
    [stream] = [c for c in calls if c.status == 200]
    assert (stream.stream, stream.metered) == (True, "reported")
    assert stream.cost_usd > 0
