"""Claude Code as a researcher: the real binary in the bwrap sandbox, its model behind the hub's
LLM gateway (the project's fake Anthropic server, streaming), aar's hub tools over MCP."""

from __future__ import annotations

from pathlib import Path

import pytest

from aar.core.transcripts import read_transcript
from aar.core.usage import Usage
from aar.researchers.providers.wire import FakeLLMServer, FakeReply, FakeToolCall
from aar.researchers.tools.library import prediction_file
from tests.agentkit import KEY_ENV, UPSTREAM_KEY, agent_campaign, agent_world
from tests.campaignkit import campaign_hub

VANILLA = prediction_file("vanilla", {}, 0)


def bash(command: str) -> FakeReply:
    return FakeReply(tool_calls=(FakeToolCall("Bash", {"command": command, "description": "x"}),))


def mcp(name: str, **arguments: object) -> FakeReply:
    return FakeReply(tool_calls=(FakeToolCall(f"mcp__aar__{name}", arguments),))


def test_claude_code_runs_commands_reads_the_forum_and_submits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    leak = "env; ps -eo args; cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n'"
    # every file the sandbox can write or was given, searched for the key (the pattern is
    # split so that the command line itself, in ps's output, does not hold it)
    places = "/workspace /home /tmp /run /data /opt /etc"
    search = (
        f"grep -rlsF '{UPSTREAM_KEY[:12]}''{UPSTREAM_KEY[12:]}' {places} > /tmp/found; "
        f"cp /tmp/found found.txt; grep -rlsF spurious_agreement {places} > control.txt"
    )
    script = [
        bash(f"ls /data/toy > seen.txt; ({leak}) > leak.txt; {search}"),
        mcp("forum_read"),
        mcp("run_method", method="vanilla"),
        mcp("submit_predictions", path=VANILLA, method="vanilla"),
        FakeReply(text="Submitted vanilla; stopping here."),
    ]
    with agent_world(tmp_path, monkeypatch) as world:
        world.operator.create_researcher("someone")  # a forum with a post to read
        world.vendor.add(*script)
        done = world.research("r1", "--steps", "5", "--minutes", "4")
        scorings = world.operator.scorings()
        calls = world.operator.model_calls(researcher="r1")
        stored = world.operator.model_call(calls[-1].id)
        account = {a.name: a for a in world.operator.accounts()}["r1"]
        audited = {r.action for r in world.operator.audit(kind="tool_call", actor="r1")}
        sent = world.vendor.requests
    assert done.returncode == 0, done.stderr + done.stdout
    assert "r1 stopped: step budget reached" in done.stdout
    workspace = world.workspace("r1")
    assert "bundle.json" in (workspace / "seen.txt").read_text()  # the bundle, seen from inside
    # the vendor key lives in the hub alone: not in the sandbox's environment, processes or
    # files; the agent's key is the researcher's own hub token
    leaked = (workspace / "leak.txt").read_text()
    assert "ANTHROPIC_API_KEY=" in leaked
    assert UPSTREAM_KEY not in leaked
    assert (workspace / "found.txt").read_text() == ""  # and in no file it can read,
    assert "/data/toy/bundle.json" in (workspace / "control.txt").read_text()  # searched so
    assert all(r.headers["x-api-key"] == UPSTREAM_KEY for r in sent)
    assert [(s.researcher, s.method) for s in scorings] == [("r1", "vanilla")]
    assert {"forum_read", "run_method", "submit_predictions"} <= audited
    # every model call went through the gateway, streamed, metered and stored
    assert len(calls) == len(sent) == 5
    assert all(c.stream and c.status == 200 for c in calls)
    assert account.model is not None
    assert account.model.calls == 5
    assert "event: message_stop" in stored.response  # the whole stream, as the agent got it
    offered = {tool["name"] for tool in stored.request["tools"]}
    assert {"Bash", "mcp__aar__submit_predictions", "mcp__aar__forum_read"} <= offered
    steps = read_transcript(workspace.parent / "r1.jsonl")
    tools = [s["name"] for s in steps if s["kind"] == "tool"]
    assert tools == ["Bash", "forum_read", "run_method", "submit_predictions"]
    assert steps[-1]["reason"] == "step budget reached"


def test_claude_code_reaches_a_hub_given_by_url_through_a_relay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A researcher that reaches its hub by URL (a Ray worker's case) serves the sandbox a
    socket that leads there: the gateway and the MCP tools work as with the hub's own."""
    script = [bash("ls /data/toy > seen.txt"), mcp("forum_read"), FakeReply(text="Done.")]
    with agent_world(tmp_path, monkeypatch) as world:
        world.vendor.add(*script)
        done = world.research("r1", "--steps", "3", "--minutes", "3", by_url=True)
        calls = world.operator.model_calls(researcher="r1")
        audited = {r.action for r in world.operator.audit(kind="tool_call", actor="r1")}
    assert done.returncode == 0, done.stderr + done.stdout
    assert "r1 stopped: step budget reached" in done.stdout
    assert "bundle.json" in (world.workspace("r1") / "seen.txt").read_text()
    assert [(c.status, c.stream) for c in calls] == [(200, True)] * 3
    assert "forum_read" in audited


def test_a_spent_model_budget_stops_the_agent_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    costly = Usage(input_tokens=100_000, output_tokens=1_000)  # $0.525 on Opus 4.6
    with agent_world(tmp_path, monkeypatch) as world:
        world.vendor.add(FakeReply(tool_calls=bash("echo one").tool_calls, usage=costly))
        done = world.research("r2", "--minutes", "3", model_dollars=0.5)
        calls = world.operator.model_calls(researcher="r2")
        forwarded = len(world.vendor.requests)
    assert done.returncode == 0, done.stderr + done.stdout
    said = " ".join(done.stdout.split())  # the console wraps long lines
    assert (
        "r2 stopped: model budget spent: researcher r2's model budget of $0.50 is spent "
        "($0.53 used); no more model calls; 1 sessions"
    ) in said
    assert forwarded == 1  # the refused call never left the hub
    assert [(c.status, c.cost_usd > 0) for c in calls] == [(200, True), (402, False)]


@pytest.mark.slow  # a whole campaign, about 25 s; CI runs it with -m slow
def test_aar_run_with_the_claude_code_brain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's command: a campaign of Claude Code researchers, the key in the hub alone."""
    script = [
        mcp("run_method", method="vanilla"),
        mcp("submit_predictions", path=VANILLA, method="vanilla"),
        FakeReply(text="Done for now."),
    ]
    folder = tmp_path / "c"
    with FakeLLMServer(script) as vendor:
        output, summary = agent_campaign(
            folder, "claude-code", "claude-opus-4-6", vendor.url, "--researcher-steps", "3",
            "--researcher-dollars", "2", "--budget-minutes", "3",
        )  # fmt: skip
        sent = vendor.requests
    monkeypatch.setenv(KEY_ENV, UPSTREAM_KEY)
    with campaign_hub(folder) as hub:
        calls = hub.model_calls()
        [account] = [a for a in hub.accounts() if a.name == "r01"]
        [scoring] = hub.scorings()
    [researcher] = summary["researchers"]
    assert researcher["reason"].startswith("step budget reached"), output
    assert (researcher["brain"], researcher["model"]) == ("claude-code", "claude-opus-4-6")
    assert (scoring.researcher, scoring.method) == ("r01", "vanilla")
    assert all(r.headers["x-api-key"] == UPSTREAM_KEY for r in sent)
    assert [c.status for c in calls] == [200, 200, 200]
    assert account.model is not None
    assert account.model.dollar_limit == 2.0  # the per-researcher budget, held by the gateway
    assert (folder / "hub" / "gateway.toml").read_text().count("[[upstreams]]") == 1
    assert UPSTREAM_KEY not in (folder / "hub" / "gateway.toml").read_text()


@pytest.mark.slow  # a whole campaign on a local Ray cluster, about 40 s; CI runs it with -m slow
def test_claude_code_researchers_as_ray_actors_reach_the_hub_by_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cluster case: a researcher on a Ray worker has the hub's URL, not its socket, and
    serves its sandbox a relay to it; the key stays in the hub."""
    pytest.importorskip("ray")
    script = [mcp("forum_read"), FakeReply(text="Done for now.")]
    with FakeLLMServer(script) as vendor:
        output, summary = agent_campaign(
            tmp_path / "c", "claude-code", "claude-opus-4-6", vendor.url,
            "--researcher-steps", "2", "--budget-minutes", "3", "--executor", "ray",
        )  # fmt: skip
        sent = vendor.requests
    [researcher] = summary["researchers"]
    assert researcher["reason"].startswith("step budget reached"), output
    assert researcher["metered"]
    assert len(sent) == 2
    assert all(r.headers["x-api-key"] == UPSTREAM_KEY for r in sent)
