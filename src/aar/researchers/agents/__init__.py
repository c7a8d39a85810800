"""External agents (Claude Code, any command) run in the researcher's sandbox; this package
holds what they need from aar.

- ``claude_code``: Claude Code's command line and environment in the sandbox.
- ``command``: any agent program, reaching the gateway through ``forwarder``.
- ``forwarder``: a loopback port inside the sandbox that leads to the hub's socket.
- ``mcp_server``: aar's hub tools as an MCP server over stdio, run in the same sandbox.
- ``sessions``: runs an agent session after session until a budget ends them.
- ``stream``: an agent's output (Claude Code's stream-json, or plain lines) into the transcript.
"""
