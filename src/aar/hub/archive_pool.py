"""Snapshot archives are checked and scanned on a small pool of worker processes.

    checks = ArchiveChecks(workers=2, queue=4)
    with checks.one_upload(account_id):          # UploadInProgress if it already has one
        data = await request.body()
        flag = await checks.inspect(data, max_ratio=100.0, rules=rules)
    # ArchiveError: refused (the message says why); PoolFull: every worker and queue slot busy

Why processes and not threads: decompression releases the interpreter lock, but tarfile's
header parsing and ``ast.parse`` do not, so a large or hostile upload checked on a thread
stalls every other request of the hub. Workers come from a forkserver (never forked from the
threaded hub), run at a lower CPU priority than the hub (``nice``), and hold no database
session. At most ``workers`` archives are checked at once and ``queue`` more wait; beyond that
``inspect`` raises ``PoolFull`` at once (the hub answers 503 with Retry-After). One account
has at most one upload in progress, so one researcher cannot take every slot.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager

from aar.hub.archives import check
from aar.hub.snapshot_scan import ScanRules, scan

WORKER_NICENESS = 10
RETRY_SECONDS = 2


class PoolFull(Exception):  # noqa: N818 (a state, answered with 503)
    """Every worker is busy and the queue is full; try again in ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int = RETRY_SECONDS) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UploadInProgress(Exception):  # noqa: N818 (a state, answered with 429)
    """The account already has an upload being received or checked."""


def inspect_archive(data: bytes, max_ratio: float, rules: ScanRules) -> str | None:
    """In a worker: ``archives.check`` (raises ``ArchiveError``), then the scan's flag."""
    check(data, max_ratio=max_ratio)
    return scan(data, rules)


class ArchiveChecks:
    def __init__(self, workers: int, queue: int) -> None:
        self.workers, self.slots = workers, workers + queue
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()  # test clients run requests on several event loops
        self._admitted = 0
        self._uploading: set[int] = set()

    @property
    def admitted(self) -> int:
        """Archives being checked or waiting for a worker now."""
        return self._admitted

    @contextmanager
    def one_upload(self, account_id: int) -> Iterator[None]:
        """Hold ``account_id``'s single upload slot for the block."""
        with self._lock:
            if account_id in self._uploading:
                raise UploadInProgress("this account already has an upload in progress")
            self._uploading.add(account_id)
        try:
            yield
        finally:
            with self._lock:
                self._uploading.discard(account_id)

    async def inspect(self, data: bytes, max_ratio: float, rules: ScanRules) -> str | None:
        """Check and scan ``data`` on a worker; the scan's flag reason, or None."""
        with self._lock:
            if self._admitted >= self.slots:
                raise PoolFull(f"all {self.slots} archive-check slots are busy")
            executor = self._pool()  # first: a pool that fails to start holds no slot
            self._admitted += 1
        try:
            return await asyncio.wrap_future(self._submit(executor, data, max_ratio, rules))
        except BrokenProcessPool as error:  # a worker died (killed, out of memory): start anew
            with self._lock:
                if self._executor is executor:
                    self._executor = None
            executor.shutdown(wait=False, cancel_futures=True)
            raise PoolFull("an archive-check worker stopped; try again") from error

    def _submit(
        self, executor: ProcessPoolExecutor, data: bytes, max_ratio: float, rules: ScanRules
    ) -> Future[str | None]:
        """The job; its slot is freed when the work is, not when the request ends, so a
        client that hangs up cannot leave work queued behind a free slot."""
        try:
            job = executor.submit(inspect_archive, data, max_ratio, rules)
        except BaseException:
            self._release()
            raise
        job.add_done_callback(lambda _: self._release())
        return job

    def _release(self) -> None:
        with self._lock:
            self._admitted -= 1

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload([__name__])
            self._executor = ProcessPoolExecutor(
                self.workers, mp_context=context, initializer=_lower_priority
            )
        return self._executor


def _lower_priority() -> None:
    """Workers yield the CPU to the hub's own requests."""
    os.nice(WORKER_NICENESS)
