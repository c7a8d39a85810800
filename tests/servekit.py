"""A real ``aar serve`` process for tests that need the hub over TCP and a Unix socket."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from aar.campaign.hubproc import HubProcess, free_port

__all__ = ["ServedHub", "free_port", "served_hub"]


@dataclass(frozen=True)
class ServedHub:
    url: str
    socket: Path
    operator_token: str
    folder: Path


@contextmanager
def served_hub(folder: Path, *flags: str) -> Iterator[ServedHub]:
    """``aar serve --dir folder`` on a free port and ``folder/hub.sock``, stopped on exit."""
    socket = folder / "hub.sock"
    with HubProcess.start(folder, socket=socket, flags=list(flags)) as hub:
        yield ServedHub(hub.url, socket, hub.operator_token, folder)
