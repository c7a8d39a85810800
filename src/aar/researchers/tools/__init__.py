"""The researcher's tools: typed, described, audited, dispatched by a ``Toolbox``.

    box = Toolbox(context, default_tools())
    box.specs()                       # what the model sees (name, description, JSON schema)
    outcome = box.call(tool_call)     # ToolOutcome(content, is_error, seconds)

Errors the model caused (a bad argument, a missing file, a refused submission) come back as
``is_error`` outcomes for the model to read; anything else is our bug and propagates.
"""

from aar.researchers.tools.base import Tool, ToolArgs, Toolbox, ToolError, ToolOutcome, tool
from aar.researchers.tools.context import ToolContext
from aar.researchers.tools.hub import HUB_TOOLS
from aar.researchers.tools.library import LIBRARY_TOOLS
from aar.researchers.tools.workspace import WORKSPACE_TOOLS


def default_tools() -> list[Tool]:
    """Every tool a researcher gets."""
    return [*WORKSPACE_TOOLS, *LIBRARY_TOOLS, *HUB_TOOLS]


__all__ = [
    "Tool",
    "ToolArgs",
    "ToolContext",
    "ToolError",
    "ToolOutcome",
    "Toolbox",
    "default_tools",
    "tool",
]
