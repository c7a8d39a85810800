"""Tools the vendor runs itself (web search, fetch, code execution, remote MCP): refused.

    problem = vendor_side_work(body)        # None, or why the gateway will not forward it

A researcher's sandbox has no network, and the gateway must not give it one: a tool the
vendor's servers run on the model's behalf (Anthropic's ``web_search_*``, ``web_fetch_*``,
``code_execution_*`` and ``mcp_servers``; OpenAI's ``web_search*``, ``file_search``,
``code_interpreter``, remote ``mcp``, ``image_generation`` and Chat's ``web_search_options``)
would reach the internet, and with it the answers to a task built from public facts. Only
tools the client runs are forwarded: plain functions, and the vendor-defined tools whose
calls come back to the client (Anthropic's bash, text editor, computer and memory; OpenAI's
custom, local shell and apply-patch tools). A Responses call in the ``background`` is refused
too: the vendor bills it as it runs, after the call that the gateway meters has ended.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CLIENT_TOOL_PREFIXES = ("bash_", "text_editor_", "computer_", "memory_")
"""Anthropic's tools with a ``type`` that the client runs (the type carries a date)."""
CLIENT_TOOL_TYPES = ("function", "custom", "local_shell", "shell", "apply_patch")
"""OpenAI's tool types that the client runs."""
HOSTED_PARAMETERS = ("mcp_servers", "web_search_options", "container")
"""Request fields that have the vendor reach out on the model's behalf."""


def vendor_side_work(body: Mapping[str, Any]) -> str | None:
    """Why ``body`` asks the vendor to reach outside (None: every tool runs in the client)."""
    if body.get("background") is True:
        # a background response is billed as it runs, after the call the gateway meters
        return "background: the gateway meters a call as it ends; ask without background"
    for parameter in HOSTED_PARAMETERS:
        if body.get(parameter) is not None:
            return f"{parameter}: the vendor would act for the researcher, which has no network"
    return _hosted_in(body.get("tools"))


def _hosted_in(tools: Any) -> str | None:
    for tool in tools if isinstance(tools, list) else ():
        kind = tool.get("type") if isinstance(tool, Mapping) else None
        if kind == "namespace":  # a group of tools under one name (Codex's MCP tools)
            if problem := _hosted_in(tool.get("tools")):
                return problem
            continue
        if kind is None or _runs_in_client(str(kind)):
            continue
        return (
            f"tools: {kind!r} runs on the vendor's servers (web, code, remote tools), and "
            "a researcher has no network; offer it as a function the agent runs instead"
        )
    return None


def _runs_in_client(kind: str) -> bool:
    return kind in CLIENT_TOOL_TYPES or kind.startswith(CLIENT_TOOL_PREFIXES)
