"""The audit writer: request records are queued and written in batches by one thread.

The middleware must never wait on the database (a request's own transaction may still hold
the writer's turn), so it only enqueues. The writer drains the queue every few milliseconds
and writes each batch in one transaction. ``flush()`` blocks until everything queued so far
is stored; the operator's audit endpoints call it, and so does shutdown. A hard crash can lose
the last batch (at most ``interval`` seconds of request records); tool-call records that
researchers append go straight to the database in their request's transaction instead.
Sources added with ``add_source`` (the rate limiter's tally of refused requests) hand over
the rows they still hold at every ``flush()`` and at shutdown.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from aar.hub.models import AuditEntry


class AuditWriter:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        write_turn: Callable[[], AbstractContextManager[Any]],
        interval: float = 0.02,
        batch: int = 1000,
    ) -> None:
        self._sessions, self._turn = sessions, write_turn
        self._interval, self._batch = interval, batch
        self._queue: queue.Queue[dict[str, Any] | threading.Event] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._sources: list[Callable[[], list[dict[str, Any]]]] = []

    def add_source(self, rows: Callable[[], list[dict[str, Any]]]) -> None:
        """``rows()`` gives entries held elsewhere; each flush records them first."""
        self._sources.append(rows)

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return  # already running (an app may be started more than once, as in tests)
        self._thread = threading.Thread(target=self._run, name="aar-audit-writer", daemon=True)
        self._thread.start()

    def record(self, entry: dict[str, Any]) -> None:
        self._queue.put(entry)

    def flush(self) -> None:
        """Block until every entry recorded before this call is stored."""
        for source in self._sources:
            for entry in source():
                self.record(entry)
        if self._thread is None or not self._thread.is_alive():
            self._write(self._drain(None)[0])
            return
        done = threading.Event()
        self._queue.put(done)
        done.wait()

    def stop(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self.flush()
            self._queue.put(_STOP)
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            entries, events = self._drain(first)
            self._write(entries)
            for event in events:
                if event is _STOP:
                    return
                event.set()

    def _drain(
        self, first: dict[str, Any] | threading.Event | None
    ) -> tuple[list[dict[str, Any]], list[threading.Event]]:
        """``first`` and whatever else is queued a moment later, up to ``batch`` entries.

        It sleeps once per batch instead of waking for every entry: a thread that wakes per
        request takes the interpreter lock from the threads serving requests every time.
        """
        if first is not None and not isinstance(first, threading.Event):
            time.sleep(self._interval)
        entries: list[dict[str, Any]] = []
        events: list[threading.Event] = []
        item = first
        while True:
            if isinstance(item, threading.Event):
                events.append(item)
            elif item is not None:
                entries.append(item)
            if len(entries) >= self._batch:
                break
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
        return entries, events

    def _write(self, entries: list[dict[str, Any]]) -> None:
        if not entries:
            return
        with self._turn(), self._sessions.begin() as session:
            session.execute(insert(AuditEntry), entries)  # one executemany, no ORM objects


_STOP = threading.Event()
