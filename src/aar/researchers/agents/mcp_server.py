"""aar's hub tools as an MCP server over stdio, for an external agent in the researcher's sandbox.

    AAR_HUB_URL=unix:/run/aar/hub.sock AAR_HUB_TOKEN=... \\
    python -m aar.researchers.agents.mcp_server --task geofacts --bundle /data/geofacts \\
        [--workspace /workspace] [--notebook NOTEBOOK.md]

An agent such as Claude Code starts it from its MCP configuration, inside the same sandbox:

    {"mcpServers": {"aar": {"command": "python", "args": ["-m",
        "aar.researchers.agents.mcp_server", "--task", "geofacts", "--bundle", "/data/geofacts"]}}}

The hub is reached with the researcher's token from the environment: ``AAR_HUB_URL``
(``unix:/run/aar/hub.sock`` inside a sandbox, or an http URL) and ``AAR_HUB_TOKEN``; without
them, or when the hub refuses the token, the server says why on stderr and exits with 2.

It offers the hub and library tools (forum, leaderboard, submissions, the final result,
snapshots, ``run_method``, the notebook), not the workspace ones: the agent has its own shell
and file tools. Every call goes through ``Toolbox.call``, as in aar's own research loop, so
arguments are validated (a bad one comes back as an ``isError`` result naming the field),
outputs are capped, and the hub's audit log records the call.

The protocol is MCP's stdio transport: JSON-RPC 2.0 messages on stdin and stdout, one JSON
object per line; logs go to stderr only. The server answers ``initialize``, ``ping``,
``tools/list`` and ``tools/call``, takes notifications silently, and ends at EOF with status 0.
Requests are answered one at a time, in order: the tools share one workspace and snapshot
chain, so a long ``run_method`` holds back the next answer, and a cancellation is not acted on.

Hand-written rather than built on the ``mcp`` SDK: the sandbox's Python is the curated
environment (``aar.sandbox.pyenv``), which deliberately leaves out web servers, and the SDK
requires starlette, uvicorn and sse-starlette even to serve stdio. A tools-only server needs
four methods.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

import httpx

import aar
from aar.core.errors import AarError, ConfigError
from aar.hub.client import HubClient, HubError
from aar.researchers.providers.base import ToolCall
from aar.researchers.tools import Tool, Toolbox, ToolContext
from aar.researchers.tools.hub import HUB_TOOLS
from aar.researchers.tools.library import LIBRARY_TOOLS
from aar.sandbox.base import SandboxError, SandboxSpec
from aar.sandbox.registry import make_sandbox

log = logging.getLogger(__name__)

AGENT_TOOLS: list[Tool] = [*HUB_TOOLS, *LIBRARY_TOOLS]
"""What the server offers: everything but the workspace tools, which the agent has itself."""

PROTOCOL_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05")
"""MCP revisions spoken, newest first; the parts used here are the same in all of them."""

PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS = -32700, -32600, -32601, -32602

INSTRUCTIONS = (
    "These tools reach the aar hub, which you share with the other researchers: read, post to "
    "and search the forum; see the leaderboard; submit test predictions (budgeted) and declare "
    "your final result; share and fetch workspace snapshots; run library methods; read and "
    "append to your notebook. Use your own shell and file tools for everything else."
)

Handler = Callable[[dict[str, Any]], dict[str, Any]]


class ProtocolError(AarError):
    """A request answered with a JSON-RPC error rather than a result."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class McpServer:
    """The JSON-RPC side: ``handle`` takes one message and returns its answer, or None when
    none is owed (a notification, or a response from the client); ``serve`` loops over lines.
    """

    def __init__(self, toolbox: Toolbox) -> None:
        self.toolbox = toolbox
        self.methods: dict[str, Handler] = {
            "initialize": self._initialize,
            "ping": lambda params: {},
            "tools/list": self._tools_list,
            "tools/call": self._tools_call,
        }

    def serve(self, stdin: TextIO, stdout: TextIO) -> None:
        """Answer each line of ``stdin`` on ``stdout`` until EOF (or the client hangs up)."""
        for line in stdin:
            if not line.strip():
                continue
            answer = self.handle_line(line)
            if answer is None:
                continue
            try:
                # json.dumps escapes newlines and, with ASCII output, anything a reader might
                # take for a line break: one message is always one line.
                stdout.write(json.dumps(answer) + "\n")
                stdout.flush()
            except BrokenPipeError:
                log.info("the client closed its end; stopping")
                return

    def handle_line(self, line: str) -> dict[str, Any] | None:
        try:
            message = json.loads(line)
        except json.JSONDecodeError as err:
            return _error(None, PARSE_ERROR, f"parse error: not JSON ({err})")
        return self.handle(message)

    def handle(self, message: Any) -> dict[str, Any] | None:
        problem = _invalid(message)
        if problem is not None:
            return _error(_id_of(message), INVALID_REQUEST, f"invalid request: {problem}")
        if "method" not in message:
            return None  # a response: this server sends no requests, so it awaits none
        if "id" not in message:
            log.debug("notification %s", message["method"])
            return None
        try:
            result = self._answer(message["method"], message.get("params"))
        except ProtocolError as err:
            return _error(message["id"], err.code, str(err))
        return {"jsonrpc": "2.0", "id": message["id"], "result": result}

    def _answer(self, method: str, params: Any) -> dict[str, Any]:
        handler = self.methods.get(method)
        if handler is None:
            known = ", ".join(self.methods)
            raise ProtocolError(METHOD_NOT_FOUND, f"method not found: {method}; methods: {known}")
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise ProtocolError(INVALID_PARAMS, f"params of {method} must be a JSON object")
        return handler(params)

    def _initialize(self, params: dict[str, Any]) -> dict[str, Any]:
        asked = params.get("protocolVersion")
        if not isinstance(asked, str):
            raise ProtocolError(INVALID_PARAMS, "initialize needs protocolVersion (a string)")
        version = asked if asked in PROTOCOL_VERSIONS else PROTOCOL_VERSIONS[0]
        log.info("initialize from %s: asked %s, speaking %s", params.get("clientInfo"), asked,
                 version)  # fmt: skip
        return {
            "protocolVersion": version,
            "capabilities": {"tools": {"listChanged": False}},
            "serverInfo": {"name": "aar", "version": aar.__version__},
            "instructions": INSTRUCTIONS,
        }

    def _tools_list(self, params: dict[str, Any]) -> dict[str, Any]:
        tools = [
            {"name": s.name, "description": s.description, "inputSchema": s.parameters}
            for s in self.toolbox.specs()
        ]
        return {"tools": tools}  # all on one page: a cursor, if sent, is ignored

    def _tools_call(self, params: dict[str, Any]) -> dict[str, Any]:
        name, arguments = _call_of(params, self.toolbox)
        call = ToolCall("mcp", name, arguments, json.dumps(arguments))
        try:
            outcome = self.toolbox.call(call)
        except Exception as err:  # our bug, or the hub gone: the agent reads it, the server lives
            log.exception("tool %s failed", name)
            text = f"aar could not run {name}: {type(err).__name__}: {err}"
            return {"content": [{"type": "text", "text": text}], "isError": True}
        log.info("%s: %s in %.1f s", name, "error" if outcome.is_error else "ok", outcome.seconds)
        return {"content": [{"type": "text", "text": outcome.content}], "isError": outcome.is_error}


def _call_of(params: dict[str, Any], toolbox: Toolbox) -> tuple[str, dict[str, Any]]:
    """The tool's name and arguments of a ``tools/call``. A malformed request or an unknown
    tool is a protocol error (MCP's rule); bad argument values are the tool's to report, as an
    ``isError`` result the model can correct."""
    name, arguments = params.get("name"), params.get("arguments")
    if not isinstance(name, str) or not name:
        raise ProtocolError(INVALID_PARAMS, "tools/call needs the tool's name (a string)")
    if name not in toolbox.tools:
        tools = ", ".join(toolbox.tools)
        raise ProtocolError(INVALID_PARAMS, f"unknown tool {name!r}; tools: {tools}")
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        raise ProtocolError(INVALID_PARAMS, f"arguments of {name} must be a JSON object")
    return name, arguments


def _invalid(message: Any) -> str | None:
    """Why ``message`` is not a JSON-RPC 2.0 message this server takes, or None."""
    if not isinstance(message, dict):
        return "a message is one JSON object (MCP has no batches since 2025-06-18)"
    if message.get("jsonrpc") != "2.0":
        return 'a message needs "jsonrpc": "2.0"'
    if "method" in message and not isinstance(message["method"], str):
        return "method must be a string"
    if "method" not in message and not ("result" in message or "error" in message):
        return "a message needs a method (or is a response, with a result or an error)"
    if "id" in message and _id_of(message) is None:
        return "id must be a string or an integer"
    return None


def _id_of(message: Any) -> str | int | None:
    """The request's id where it has a valid one; JSON-RPC answers null otherwise."""
    found = message.get("id") if isinstance(message, dict) else None
    return found if isinstance(found, str | int) and not isinstance(found, bool) else None


def _error(request_id: str | int | None, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}


def hub_from_env(env: Mapping[str, str]) -> HubClient:
    """A client for the hub named by ``AAR_HUB_URL`` with the token in ``AAR_HUB_TOKEN``."""
    url, token = env.get("AAR_HUB_URL", ""), env.get("AAR_HUB_TOKEN", "")
    if not url:
        raise ConfigError("AAR_HUB_URL is not set: unix:/run/aar/hub.sock or the hub's http URL")
    if not token:
        raise ConfigError("AAR_HUB_TOKEN is not set: the researcher's token for the hub")
    return HubClient.from_url(url, token)


def researcher_toolbox(
    hub: HubClient, task: str, bundle: str, workspace: Path, notebook: str
) -> Toolbox:
    """The agent's tools over ``workspace``, as the researcher the hub knows the token by."""
    if not workspace.is_dir():
        raise ConfigError(f"no workspace folder at {workspace}")
    try:
        name = hub.me().name
    except HubError as err:
        raise ConfigError(f"the hub refused the token: {err.detail}") from None
    except httpx.TransportError as err:
        raise ConfigError(f"cannot reach the hub: {err}") from None
    # This server already runs inside the researcher's sandbox, with the agent: commands
    # (run_method's `aar predict`) run in place, under that isolation, so the process backend
    # is right here; it still gives each command its timeout, rlimits and workspace watch.
    sandbox = make_sandbox("process", SandboxSpec(workspace=workspace.resolve()), allow_unsafe=True)
    sandbox.start()  # now, so that a missing prlimit is a clear refusal, not a failed call
    context = ToolContext(
        sandbox=sandbox, hub=hub, task=task, bundle=bundle, researcher=name,
        notebook=notebook, python=sys.executable,
    )  # fmt: skip
    # One context for the server's life: share_snapshot sets context.last_snapshot, the
    # parent of the next snapshot, as in aar's own loop.
    return Toolbox(context, AGENT_TOOLS)


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m aar.researchers.agents.mcp_server",
        description="aar's hub tools as an MCP server on stdio (hub from AAR_HUB_URL and "
        "AAR_HUB_TOKEN).",
    )
    parser.add_argument("--task", required=True, help="the task's name on the hub")
    parser.add_argument("--bundle", required=True, help="the task's public bundle, e.g. /data/T")
    parser.add_argument("--workspace", default="/workspace", help="the researcher's workspace")
    parser.add_argument("--notebook", default="NOTEBOOK.md", help="the notebook, in the workspace")
    return parser.parse_args(argv)


def _protocol_stdout() -> int:
    """A file descriptor for the protocol's output alone. Descriptor 1 then points at stderr,
    so a stray print, a library's warning or a child process cannot corrupt the messages."""
    out = os.dup(1)
    os.dup2(2, 1)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="aar-mcp: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per hub request
    try:
        hub = hub_from_env(os.environ)
        workspace = Path(args.workspace)
        toolbox = researcher_toolbox(hub, args.task, args.bundle, workspace, args.notebook)
    except (ConfigError, SandboxError) as err:
        print(f"aar-mcp: {err}", file=sys.stderr)
        return 2
    log.info("serving %s's tools for task %s", toolbox.context.researcher, args.task)
    with (
        open(_protocol_stdout(), "w", encoding="utf-8", newline="\n") as stdout,
        open(0, encoding="utf-8", errors="replace", newline="\n", closefd=False) as stdin,
        toolbox.context.sandbox,
        hub,
    ):
        McpServer(toolbox).serve(stdin, stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
