"""aar's MCP server as Claude Code drives it: a real subprocess on stdio, against a real
``aar serve`` (its Unix socket and its http port), and inside a bwrap sandbox as deployed;
then the protocol's error answers, in the subprocess and in-process."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest

import aar
from aar.hub.client import HubClient
from aar.researchers.agents.mcp_server import AGENT_TOOLS, McpServer
from aar.researchers.tools import Toolbox, ToolContext
from aar.sandbox.base import Mount, SandboxSpec
from aar.sandbox.registry import make_sandbox
from aar.w2s.public import TaskSecrets
from tests.researchkit import publish
from tests.sandboxkit import require_bwrap
from tests.servekit import ServedHub, served_hub

MODULE = "aar.researchers.agents.mcp_server"
# What Claude Code sends first (its id counter starts at 0).
INITIALIZE = {
    "protocolVersion": "2025-11-25",
    "capabilities": {"roots": {}, "elicitation": {}},
    "clientInfo": {"name": "claude-code", "version": "2.1.0"},
}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
TEXT_ARGS = {"name": "leaderboard", "arguments": "{}"}  # JSON text, not an object


@dataclass
class World:
    served: ServedHub
    operator: HubClient
    bundle: Path
    secrets: TaskSecrets
    folder: Path

    def researcher(self, name: str) -> tuple[dict[str, str], Path]:
        """A new researcher: the server's environment (hub over the Unix socket), a workspace."""
        token = self.operator.create_researcher(name).token
        workspace = self.folder / "workspaces" / name
        workspace.mkdir(parents=True)
        env = {**os.environ, "AAR_HUB_URL": f"unix:{self.served.socket}", "AAR_HUB_TOKEN": token}
        return env, workspace


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("mcp")
    with served_hub(folder / "hub") as served:
        operator = HubClient(served.url, served.operator_token)
        bundle, secrets = publish(operator, folder)
        yield World(served, operator, bundle, secrets, folder)


class Session:
    """An MCP client over the server as a subprocess; answers are awaited with a timeout."""

    def __init__(self, env: dict[str, str], workspace: Path, bundle: Path, *extra: str) -> None:
        command = [sys.executable, "-m", MODULE, "--task", "toy", "--bundle", str(bundle),
                   "--workspace", str(workspace), *extra]  # fmt: skip
        self.log = workspace.parent / f"{workspace.name}.mcp.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True,
                env=env,
            )  # fmt: skip
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()
        self.next_id = 0

    def _read(self, stdout: IO[str]) -> None:
        for line in stdout:
            self.lines.put(line)
        self.lines.put("")  # EOF

    def send(self, message: dict[str, Any] | str) -> None:
        assert self.process.stdin is not None
        line = message if isinstance(message, str) else json.dumps(message)
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def receive(self) -> dict[str, Any]:
        line = self.lines.get(timeout=30)
        assert line, f"the server closed stdout: {self.log.read_text()}"
        assert line.count("\n") == 1  # one message, one line
        assert line.endswith("\n")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def request(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        request_id, self.next_id = self.next_id, self.next_id + 1
        sent = {"jsonrpc": "2.0", "id": request_id, "method": method}
        self.send({**sent, "params": params} if params is not None else sent)
        answer = self.receive()
        assert answer["id"] == request_id, answer
        return answer

    def call(self, name: str, **arguments: Any) -> tuple[str, bool]:
        meta = {"claudecode/toolUseId": f"toolu_{self.next_id}"}  # Claude Code sends one
        params = {"name": name, "arguments": arguments, "_meta": meta}
        result = self.request("tools/call", params)["result"]
        [content] = result["content"]
        assert content["type"] == "text"
        return content["text"], result["isError"]

    def end(self) -> int:
        """Close stdin (EOF) and wait for the server to exit."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        return self.process.wait(timeout=30)


def test_a_claude_code_session_reaches_the_hub_and_is_audited(world: World) -> None:
    env, workspace = world.researcher("claude")
    session = Session(env, workspace, world.bundle)
    hello = session.request("initialize", INITIALIZE)["result"]
    session.send(INITIALIZED)  # a notification: no answer, so the next one is tools/list's
    tools = session.request("tools/list")["result"]["tools"]
    posted, post_failed = session.call("forum_post", kind="insight", title="mcp works",
                                       body="posted through the MCP server")  # fmt: skip
    forum, _ = session.call("forum_read")
    board, _ = session.call("leaderboard")
    bad, bad_failed = session.call("forum_post", kind="insight", title="no body")
    assert session.end() == 0
    assert hello == {
        "protocolVersion": "2025-11-25",
        "capabilities": {"tools": {"listChanged": False}},
        "serverInfo": {"name": "aar", "version": aar.__version__},
        "instructions": hello["instructions"],
    }
    assert all(word in hello["instructions"] for word in ("forum", "leaderboard", "snapshots"))
    assert [t["name"] for t in tools] == [t.name for t in AGENT_TOOLS]
    assert not {"shell", "read_file", "write_file"} & {t["name"] for t in tools}
    post_tool = next(t for t in tools if t["name"] == "forum_post")
    assert post_tool["inputSchema"]["type"] == "object"
    assert post_tool["inputSchema"]["required"] == ["kind", "title", "body"]
    assert "Post to the forum" in post_tool["description"]
    assert not post_failed
    post_id = posted.removeprefix("posted #")
    assert f"#{post_id} insight by claude" in forum
    assert board == "no scorings yet"
    assert bad_failed
    assert bad.startswith("bad arguments for forum_post: body: missing (required)")
    assert world.operator.get_post(post_id)["body"] == "posted through the MCP server"
    audited = world.operator.audit(kind="tool_call", actor="claude")
    assert [r.action for r in audited] == ["forum_post", "forum_read", "leaderboard", "forum_post"]


def test_submissions_snapshots_and_the_notebook_over_http(world: World) -> None:
    env, workspace = world.researcher("submitter")
    env["AAR_HUB_URL"] = world.served.url
    (workspace / "weak.json").write_text(json.dumps(world.secrets.weak[0].tolist()))
    session = Session(env, workspace, world.bundle, "--notebook", "notes/lab.md")
    session.request("initialize", INITIALIZE)
    scored, failed = session.call("submit_predictions", path="weak.json", method="weak")
    missing, missing_failed = session.call("submit_predictions", path="nope.json", method="m")
    noted, noted_failed = session.call("notebook", append="submitted the weak teacher")
    first, _ = session.call("share_snapshot", note="one")
    second, _ = session.call("share_snapshot", note="two")
    assert session.end() == 0
    assert not failed, scored
    assert "public PGR" in scored
    [scoring] = [s for s in world.operator.scorings() if s.researcher == "submitter"]
    assert (scoring.task, scoring.method) == ("toy", "weak")
    assert f"scoring #{scoring.id}:" in scored
    assert missing_failed
    assert "nope.json" in missing
    assert not noted_failed, noted
    assert (workspace / "notes" / "lab.md").read_text() == "submitted the weak teacher\n"
    # One context for the server's life: the second snapshot's parent is the first.
    first_id, second_id = first.split()[1], second.split()[1]
    assert world.operator.snapshot(second_id).parent_id == first_id


def test_protocol_errors_answer_and_the_server_keeps_serving(world: World) -> None:
    env, workspace = world.researcher("prober")
    session = Session(env, workspace, world.bundle)
    old = session.request("initialize", {**INITIALIZE, "protocolVersion": "1999-01-01"})
    session.send("{not json")
    unparsed = session.receive()
    unknown = session.request("resources/list")
    nameless = session.request("tools/call", {"arguments": {}})
    no_tool = session.request("tools/call", {"name": "shell", "arguments": {"command": "ls"}})
    session.send({"jsonrpc": "2.0", "method": "notifications/cancelled",
                  "params": {"requestId": 3, "reason": "user"}})  # fmt: skip
    pong = session.request("ping")  # its answer comes next: the notification got none
    assert session.end() == 0
    assert old["result"]["protocolVersion"] == "2025-11-25"  # unsupported: our latest
    assert unparsed["id"] is None
    assert unparsed["error"]["code"] == -32700
    assert unknown["error"]["code"] == -32601
    assert "resources/list" in unknown["error"]["message"]
    assert nameless["error"]["code"] == -32602
    assert "name" in nameless["error"]["message"]
    assert no_tool["error"]["code"] == -32602
    assert "unknown tool 'shell'; tools: forum_read" in no_tool["error"]["message"]
    assert pong["result"] == {}


def test_the_server_refuses_to_start_without_a_usable_hub(world: World) -> None:
    env, workspace = world.researcher("tokenless")
    command = [sys.executable, "-m", MODULE, "--task", "toy", "--bundle", str(world.bundle),
               "--workspace", str(workspace)]  # fmt: skip
    no_token = {k: v for k, v in env.items() if k != "AAR_HUB_TOKEN"}
    missing = subprocess.run(command, env=no_token, capture_output=True, text=True, timeout=30)
    wrong = subprocess.run(command, env={**env, "AAR_HUB_TOKEN": "not-a-token"},
                           capture_output=True, text=True, timeout=30)  # fmt: skip
    assert (missing.returncode, missing.stdout) == (2, "")
    assert "AAR_HUB_TOKEN is not set" in missing.stderr
    bad_url = subprocess.run(command, env={**env, "AAR_HUB_URL": "hub.example:8000"},
                             capture_output=True, text=True, timeout=30)  # fmt: skip
    assert (wrong.returncode, wrong.stdout) == (2, "")
    assert "aar-mcp: the hub refused the token" in wrong.stderr
    assert (bad_url.returncode, bad_url.stdout) == (2, "")
    assert "'hub.example:8000' is neither unix:/path/to/hub.sock nor an http URL" in bad_url.stderr


def test_inside_a_bwrap_sandbox_over_the_bound_socket(world: World) -> None:
    """As deployed: the curated Python, the hub at unix:/run/aar/hub.sock, /workspace."""
    require_bwrap()
    env, workspace = world.researcher("boxed")
    spec = SandboxSpec(
        workspace=workspace, readonly=(Mount(world.bundle, "/data/toy"),),
        hub_socket=world.served.socket,
        env={"AAR_HUB_URL": "unix:/run/aar/hub.sock", "AAR_HUB_TOKEN": env["AAR_HUB_TOKEN"]},
    )  # fmt: skip
    messages = [
        {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": INITIALIZE},
        INITIALIZED,
        {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
         "params": {"name": "notebook", "arguments": {"append": "from the box"}}},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
         "params": {"name": "forum_read", "arguments": {"author": "boxed"}}},
    ]  # fmt: skip
    stdin = "".join(json.dumps(m) + "\n" for m in messages)
    with make_sandbox("bwrap", spec) as box:
        command = [sys.executable, "-m", MODULE, "--task", "toy", "--bundle", "/data/toy"]
        result = box.exec(command, stdin=stdin, timeout=60)
    assert result.exit_code == 0, result.stderr
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["id"] for a in answers] == [0, 1, 2]
    assert answers[1]["result"]["isError"] is False
    assert answers[2]["result"]["content"][0]["text"] == "no posts yet"
    assert (workspace / "NOTEBOOK.md").read_text() == "from the box\n"
    assert "serving boxed's tools for task toy" in result.stderr


@pytest.fixture
def server(tmp_path: Path) -> McpServer:
    """A server whose hub does not answer: the messages below fail before any tool runs, or
    find the hub gone."""
    hub = HubClient("http://127.0.0.1:9", "unused", retries=0)
    box = make_sandbox("process", SandboxSpec(workspace=tmp_path), allow_unsafe=True)
    context = ToolContext(sandbox=box, hub=hub, task="toy", bundle="/data/toy", researcher="r")
    return McpServer(Toolbox(context, AGENT_TOOLS))


@pytest.mark.parametrize(
    ("message", "code", "answer_id"),
    [
        ([{"jsonrpc": "2.0", "id": 1, "method": "ping"}], -32600, None),  # a batch
        ({"jsonrpc": "1.0", "id": 7, "method": "ping"}, -32600, 7),
        ({"jsonrpc": "2.0", "id": None, "method": "ping"}, -32600, None),
        ({"jsonrpc": "2.0", "id": 2, "method": 5}, -32600, 2),
        ({"jsonrpc": "2.0", "id": 3}, -32600, 3),
        ({"jsonrpc": "2.0", "id": 4, "method": "tools/list", "params": [1]}, -32602, 4),
        ({"jsonrpc": "2.0", "id": "a", "method": "initialize", "params": {}}, -32602, "a"),
        ({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": TEXT_ARGS}, -32602, 5),
    ],
)
def test_malformed_messages_get_json_rpc_errors(
    server: McpServer, message: Any, code: int, answer_id: Any
) -> None:
    answer = server.handle(message)
    assert answer is not None
    assert (answer["jsonrpc"], answer["id"], answer["error"]["code"]) == ("2.0", answer_id, code)


def test_responses_and_notifications_get_no_answer(server: McpServer) -> None:
    assert server.handle({"jsonrpc": "2.0", "id": 0, "result": {}}) is None
    assert server.handle({"jsonrpc": "2.0", "method": "notifications/whatever"}) is None
    assert server.handle_line('{"jsonrpc": "2.0", "method": "notifications/initialized"}') is None


def test_a_hub_that_is_gone_is_an_error_result_and_the_server_lives(server: McpServer) -> None:
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "leaderboard"}}
    answer = server.handle(call)
    pong = server.handle({"jsonrpc": "2.0", "id": 2, "method": "ping"})
    assert answer is not None
    assert answer["result"]["isError"] is True
    assert answer["result"]["content"][0]["text"].startswith("aar could not run leaderboard: ")
    assert pong == {"jsonrpc": "2.0", "id": 2, "result": {}}
