"""Pools that run independent jobs: worker processes (optionally one per GPU), Ray tasks, or
this process when one worker is asked.

    with open_pool(jobs=5, gpus=(0, 1)) as pool:      # two workers, one GPU each
        for result in pool.map(run_one, jobs, on_done=lambda job: print(job)):
            ...

Workers are *spawned* (fresh interpreters: safe with torch's threads and CUDA) and each gets
an equal share of the CPU cores as torch threads. With ``gpus``, each worker sees exactly one
of them (``CUDA_VISIBLE_DEVICES`` is set before torch touches CUDA), so seeds spread over a
machine's GPUs. Results arrive as jobs finish; the first job that raises cancels the ones not
yet started and re-raises in the caller. ``executor="ray"`` sends each job to a Ray cluster as
a task asking for ``ray_gpus`` GPUs (``aar.w2s.raypool``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from multiprocessing.queues import Queue
from types import TracebackType
from typing import Any, Protocol, TypeVar

J = TypeVar("J")
R = TypeVar("R")


class Pool(Protocol):
    def __enter__(self) -> Pool: ...

    def __exit__(self, kind: Any, error: Any, tb: Any) -> None: ...

    def map(
        self, fn: Callable[[J], R], jobs: Iterable[J], on_done: Callable[[J], None] | None = None
    ) -> Iterator[R]: ...


def default_workers(jobs: int) -> int:
    return max(1, min(os.cpu_count() or 1, jobs))


def open_pool(
    jobs: int,
    workers: int | None = None,
    gpus: Sequence[int] = (),
    executor: str = "local",
    ray_address: str | None = None,
    ray_gpus: float = 1.0,
) -> Pool:
    """The pool for ``jobs`` jobs: Ray tasks, one worker per GPU, or ``workers`` processes."""
    if executor == "ray":
        from aar.w2s.raypool import RayPool

        return RayPool(address=ray_address, gpus_per_job=ray_gpus)
    if gpus:
        return JobPool(len(gpus), gpus=gpus)
    return JobPool(workers or default_workers(jobs))


def _init_worker(threads: int, devices: Queue[str] | None) -> None:
    if devices is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = devices.get(timeout=60)
    import torch

    torch.set_num_threads(threads)


class JobPool:
    def __init__(self, workers: int, gpus: Sequence[int] = ()) -> None:
        self.workers = max(1, workers)
        self.gpus = tuple(gpus)
        self._executor: ProcessPoolExecutor | None = None

    def __enter__(self) -> JobPool:
        if self.workers > 1 or self.gpus:
            context = get_context("spawn")
            devices: Queue[str] | None = None
            if self.gpus:
                devices = context.Queue()
                for gpu in self.gpus:
                    devices.put(str(gpu))
            threads = max(1, (os.cpu_count() or 1) // self.workers)
            self._executor = ProcessPoolExecutor(
                self.workers,
                mp_context=context,
                initializer=_init_worker,
                initargs=(threads, devices),
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
