"""A pool of worker processes for independent jobs, or this process when one worker is asked.

    with JobPool(workers=2) as pool:
        for result in pool.map(run_one, jobs, on_done=lambda job: print(job)):
            ...

Workers are *spawned* (fresh interpreters: safe with torch's threads) and each gets an
equal share of the CPU cores as torch threads. Results arrive as jobs finish; the first job
that raises cancels the ones not yet started and re-raises in the caller.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from types import TracebackType
from typing import TypeVar

J = TypeVar("J")
R = TypeVar("R")


def default_workers(jobs: int) -> int:
    return max(1, min(os.cpu_count() or 1, jobs))


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


class JobPool:
    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)
        self._executor: ProcessPoolExecutor | None = None

    def __enter__(self) -> JobPool:
        if self.workers > 1:
            threads = max(1, (os.cpu_count() or 1) // self.workers)
            self._executor = ProcessPoolExecutor(
                self.workers,
                mp_context=get_context("spawn"),
                initializer=_init_worker,
                initargs=(threads,),
            )
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)

    def map(
        self, fn: Callable[[J], R], jobs: Iterable[J], on_done: Callable[[J], None] | None = None
    ) -> Iterator[R]:
        """Results of ``fn(job)`` in completion order."""
        if self._executor is None:
            for job in jobs:
                result = fn(job)
                if on_done:
                    on_done(job)
                yield result
            return
        futures: dict[Future[R], J] = {self._executor.submit(fn, job): job for job in jobs}
        try:
            for future in as_completed(futures):
                result = future.result()
                if on_done:
                    on_done(futures[future])
                yield result
        finally:
            for future in futures:
                future.cancel()
