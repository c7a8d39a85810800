"""A loopback TCP port inside the sandbox that leads to the hub's Unix socket.

    python -m aar.researchers.agents.forwarder --port 8089 --socket /run/aar/hub.sock \\
        --ready /tmp/forwarder.ready &

The sandbox has no network, only its own loopback; agents that speak HTTP to a base URL (an
OpenAI or Anthropic client, Codex CLI, a script) reach the hub's LLM gateway and API through
this port: every connection is relayed byte for byte to the hub's socket, where the hub
authenticates the caller's token as it does any other request. ``--ready`` names a file
written once the port listens, so a launcher can wait for it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from pathlib import Path

CHUNK = 65536


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        with contextlib.suppress(ConnectionError, RuntimeError):
            writer.close()


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def relay(socket: str) -> Handler:
    """A connection handler that joins each client to a new connection to ``socket``."""

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            hub_r, hub_w = await asyncio.open_unix_connection(socket)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(_pipe(client_r, hub_w), _pipe(hub_r, client_w))

    return handle


async def serve(port: int, socket: str, ready: Path | None) -> None:
    server = await asyncio.start_server(relay(socket), "127.0.0.1", port)
    if ready is not None:
        ready.write_text(str(port))
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--socket", required=True)
    parser.add_argument("--ready", type=Path)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, args.socket, args.ready))


if __name__ == "__main__":
    main()
