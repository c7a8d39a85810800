"""The gateway as one running hub holds it: config, prices, keys, the upstream client and
how many calls each researcher has in flight.

    gateway = Gateway(config)          # reads the upstream keys from the environment now
    ticket = gateway.enter(account_id)   # None: too many in flight; ticket.release() when done
    await gateway.aclose()
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import httpx

from aar.hub.gateway.config import GatewayConfig, Upstream


@dataclass
class Ticket:
    """One call in flight."""

    gateway: Gateway
    account_id: int
    released: bool = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.gateway.leave(self.account_id)


class Gateway:
    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.prices = config.price_table()
        self.keys = {u.name: u.key() for u in config.upstreams}
        self._client: httpx.AsyncClient | None = None
        self._in_flight: Counter[int] = Counter()
        self._tasks: set[asyncio.Task[None]] = set()

    def upstream(self, name: str) -> Upstream | None:
        return self.config.upstream(name)

    def client(self) -> httpx.AsyncClient:
        """One pooled client for every upstream, made in the event loop on first use."""
        if self._client is None:
            limits = httpx.Limits(max_connections=256, max_keepalive_connections=64)
            self._client = httpx.AsyncClient(limits=limits, follow_redirects=False)
        return self._client

    def enter(self, account_id: int) -> Ticket | None:
        """Count a call in flight for the account (None when it has as many as allowed); the
        ticket's ``release()`` ends it, once however often it is called."""
        if self._in_flight[account_id] >= self.config.concurrency:
            return None
        self._in_flight[account_id] += 1
        return Ticket(self, account_id)

    def leave(self, account_id: int) -> None:
        self._in_flight[account_id] -= 1
        if self._in_flight[account_id] <= 0:
            del self._in_flight[account_id]

    def in_flight(self, account_id: int) -> int:
        return self._in_flight[account_id]

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` in the background, holding a reference until it ends."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=30)
        if self._client is not None:
            await self._client.aclose()
