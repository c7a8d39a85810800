"""Serve the hub with uvicorn on TCP, a Unix socket, or both at once.

    serve(HubSettings(dir=Path("campaign")), host="127.0.0.1", port=8765, socket=None)

Sandboxes reach the hub through the Unix socket bound into them; people and the dashboard
use TCP. Both listeners share one app (one database engine, one set of budget locks).
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import uvicorn

from aar.hub.app import create_app
from aar.hub.settings import HubSettings


def serve(
    settings: HubSettings,
    host: str | None,
    port: int,
    socket: Path | None,
    log_level: str = "info",
    access_log: bool = False,
) -> None:
    """Serve until interrupted. Access logs are off by default: the audit log has every request."""
    import os
    import sys

    sys.setswitchinterval(float(os.environ.get("SWI", "0.005")))
    app = create_app(settings)
    _calm_garbage_collector()
    options: dict[str, Any] = {"log_level": log_level, "access_log": access_log}
    configs = []
    if host is not None:
        configs.append(uvicorn.Config(app, host=host, port=port, **options))
    if socket is not None:
        socket.parent.mkdir(parents=True, exist_ok=True)
        socket.unlink(missing_ok=True)
        lifespan: Literal["on", "off"] = "off" if configs else "on"  # one listener starts the app
        configs.append(uvicorn.Config(app, uds=str(socket), lifespan=lifespan, **options))
    if not configs:
        raise ValueError("give a host (TCP) or a socket, or both")
    with asyncio.Runner(loop_factory=_fast_loop()) as runner:
        runner.run(_serve_all([uvicorn.Server(c) for c in configs]))


def _calm_garbage_collector() -> None:
    """Fewer, shorter collection pauses: they showed up as the hub's slowest answers.

    Objects alive after start-up (modules, the app, the ORM's mappers) are moved out of the
    collector's view, and the youngest generation is collected less often; requests make
    many short-lived objects that reference counting frees anyway.
    """
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


def _fast_loop() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop when it is installed (uvicorn[standard] brings it), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


async def _serve_all(servers: list[uvicorn.Server]) -> None:
    await asyncio.gather(*(server.serve() for server in servers))
