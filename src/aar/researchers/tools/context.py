"""What a tool call can reach: the researcher's sandbox, its hub client, the task it works on."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from aar.hub.client import HubClient
from aar.sandbox.base import Sandbox


@dataclass
class ToolContext:
    sandbox: Sandbox
    hub: HubClient
    task: str
    """The task's name on the hub."""
    bundle: str
    """Where the task's public bundle is inside the sandbox."""
    researcher: str
    notebook: str = "NOTEBOOK.md"
    python: str = field(default=sys.executable)
    """The interpreter inside the sandbox (the campaign's own, bound read-only)."""
    last_snapshot: str | None = None
    """The researcher's newest snapshot: the parent of the next one."""
