"""Any agent program as a researcher's brain, run in the sandbox against the hub's gateway.

    agent = CommandAgent(("codex", "exec", "--full-auto", "{prompt}"), upstream="openai")
    spec = SandboxSpec(..., env={**env, **agent.env(token, system_prompt)})
    argv = agent.command(prompt, python=sys.executable)

The program (Codex CLI, a script with an OpenAI or Anthropic client, ...) must be reachable
inside the sandbox (on the sandbox's PATH or a readonly mount). It finds the gateway where
the official clients look, through a loopback forwarder started before it
(``aar.researchers.agents.forwarder``): ``OPENAI_BASE_URL``/``OPENAI_API_KEY`` and
``ANTHROPIC_BASE_URL``/``ANTHROPIC_API_KEY``, the keys being the researcher's hub token. The
research prompt is in ``$AAR_AGENT_PROMPT``; ``{prompt}`` in the command is replaced by the
session's message (the kickoff, or the resume note), ``{system}`` by the research prompt.
Each line it prints goes into the transcript; a session that exits non-zero has failed.
"""

from __future__ import annotations

from dataclasses import dataclass

from aar.sandbox.base import HUB_SOCKET

PORT = 8089
READY = "/tmp/.aar-forwarder"
# Start the forwarder, wait (at most 5 s) until it listens, then become the agent.
LAUNCH = (
    '"$AAR_PYTHON" -m aar.researchers.agents.forwarder --port {port} --socket {socket} '
    "--ready {ready} >/dev/null 2>&1 & "
    "i=0; while [ ! -e {ready} ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; "
    'exec "$@"'
)


@dataclass(frozen=True)
class CommandAgent:
    argv: tuple[str, ...]
    upstream: str
    """The gateway upstream its calls go to (``/llm/{upstream}``)."""
    port: int = PORT

    @property
    def base_url(self) -> str:
        """The gateway upstream's root as the agent reaches it, through the forwarder."""
        return f"http://127.0.0.1:{self.port}/llm/{self.upstream}"

    def env(self, token: str, system: str, python: str) -> dict[str, str]:
        base = self.base_url
        return {
            "OPENAI_BASE_URL": f"{base}/v1",
            "OPENAI_API_KEY": token,
            "ANTHROPIC_BASE_URL": base,
            "ANTHROPIC_API_KEY": token,
            "AAR_AGENT_PROMPT": system,
            "AAR_PYTHON": python,
        }

    def command(self, prompt: str, system: str) -> list[str]:
        own = [part.replace("{prompt}", prompt).replace("{system}", system) for part in self.argv]
        return self.launch(own)

    def launch(self, argv: list[str]) -> list[str]:
        """``argv`` started once the forwarder listens."""
        launch = LAUNCH.format(port=self.port, socket=HUB_SOCKET, ready=READY)
        return ["/bin/sh", "-c", launch, "agent", *argv]
