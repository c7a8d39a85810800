"""Serve the hub with uvicorn on TCP, a Unix socket, or both at once.

    serve(HubSettings(dir=Path("campaign")), host="127.0.0.1", port=8765, socket=None)

Sandboxes reach the hub through the Unix socket bound into them; people and the dashboard
use TCP. Both listeners share one app (one database engine, one set of budget locks).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Literal

import uvicorn

from aar.hub.app import create_app
from aar.hub.settings import HubSettings


def serve(
    settings: HubSettings, host: str | None, port: int, socket: Path | None, log_level: str = "info"
) -> None:
    app = create_app(settings)
    configs = []
    if host is not None:
        configs.append(uvicorn.Config(app, host=host, port=port, log_level=log_level))
    if socket is not None:
        socket.parent.mkdir(parents=True, exist_ok=True)
        socket.unlink(missing_ok=True)
        lifespan: Literal["on", "off"] = "off" if configs else "on"  # one listener starts the app
        configs.append(uvicorn.Config(app, uds=str(socket), log_level=log_level, lifespan=lifespan))
    if not configs:
        raise ValueError("give a host (TCP) or a socket, or both")
    asyncio.run(_serve_all([uvicorn.Server(c) for c in configs]))


async def _serve_all(servers: list[uvicorn.Server]) -> None:
    await asyncio.gather(*(server.serve() for server in servers))
