"""What one running hub holds: settings, the database engine and sessions, per-account locks.

Built by ``create_app`` at start-up (never at import) and reached by request handlers
through ``deps.hub_state``.
"""

from __future__ import annotations

import os
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from aar.hub.archive_pool import ArchiveChecks
from aar.hub.auditlog import AuditWriter
from aar.hub.db import make_engine, upgrade
from aar.hub.gateway.service import Gateway
from aar.hub.models import Account
from aar.hub.probes import EarlierPredictions
from aar.hub.ratelimit import RateLimits
from aar.hub.security import hash_token, new_token
from aar.hub.settings import HubSettings

OPERATOR = "operator"
TOKEN_FILE = "operator.token"


class HubState:
    def __init__(self, settings: HubSettings) -> None:
        self.settings = settings
        self.engine: Engine = make_engine(settings.resolved_database_url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._locks: defaultdict[int, threading.Lock] = defaultdict(threading.Lock)
        self._locks_guard = threading.Lock()
        # SQLite has one writer at a time; taking turns here wakes the next writer at once,
        # where SQLite's own busy handler would sleep and retry with growing back-off.
        self.writer = threading.Lock() if self.engine.dialect.name == "sqlite" else None
        self._lock_waiters: anyio.CapacityLimiter | None = None
        self.audit = AuditWriter(self.sessions, self.write_turn)
        self.rate_limits = RateLimits.from_settings(settings, exempt=frozenset({OPERATOR}))
        self.audit.add_source(lambda: self.rate_limits.tally.rows(everything=True))
        self.archive_checks = ArchiveChecks(
            settings.snapshot_check_workers, settings.snapshot_check_queue
        )
        self.task_cache: dict[str, Any] = {}
        self.earlier = EarlierPredictions()
        self.gateway = Gateway(settings.gateway) if settings.gateway is not None else None

    def start(self) -> None:
        """Create or upgrade the schema; make sure an operator account exists."""
        self.settings.dir.mkdir(parents=True, exist_ok=True)
        upgrade(self.engine)
        with self.sessions.begin() as session:
            ensure_operator(session, self.settings.dir / TOKEN_FILE)
            # every account's token is known before its first request: none of them ever
            # waits on the peer bucket that unknown tokens share
            for name, token_hash in session.execute(select(Account.name, Account.token_hash)):
                self.rate_limits.know(token_hash, name)
        self.audit.start()

    @contextmanager
    def write_turn(self) -> Iterator[None]:
        """Hold this process's turn to write (SQLite); a no-op on PostgreSQL."""
        if self.writer is None:
            yield
            return
        with self.writer:
            yield

    def lock_waiters(self) -> anyio.CapacityLimiter:
        """Threads that wait for the write turn (made in the event loop, on first use)."""
        if self._lock_waiters is None:
            self._lock_waiters = anyio.CapacityLimiter(10_000)
        return self._lock_waiters

    def account_lock(self, account_id: int) -> threading.Lock:
        """Serialises one account's budget check and insert inside this process."""
        with self._locks_guard:
            return self._locks[account_id]

    def close(self) -> None:
        self.audit.stop()
        self.archive_checks.close()
        self.engine.dispose()


def ensure_operator(session: Session, token_file: Path) -> str | None:
    """Create the operator on first start; its token goes to ``token_file`` (mode 0600)."""
    if session.scalar(select(Account).where(Account.role == OPERATOR)) is not None:
        return None
    token = new_token()
    session.add(Account(name=OPERATOR, role=OPERATOR, token_hash=hash_token(token)))
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    return token
