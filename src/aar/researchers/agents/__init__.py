"""External agents (Claude Code, any command) run in the researcher's sandbox; this package
holds what they need from aar.

- ``mcp_server``: aar's hub tools as an MCP server over stdio, run in the same sandbox.
"""
