"""Experiment jobs as Ray tasks: each seed's baselines and each (seed, method) run on whatever
node of the cluster has a free GPU (``ray_gpus`` per task; Ray sets ``CUDA_VISIBLE_DEVICES``).

    with RayPool(address=None, gpus_per_job=1) as pool:     # None: $RAY_ADDRESS or local
        results = list(pool.map(run_one, jobs))

Every node needs aar installed and the task's data and cache folders at the same paths (a
shared filesystem), as for the campaign's Ray executor. Needs ``pip install 'aar[ray]'``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from aar.core.errors import MissingDependencyError

J = TypeVar("J")
R = TypeVar("R")


def _call(fn: Callable[[Any], Any], job: Any) -> Any:
    return fn(job)


class RayPool:
    def __init__(self, address: str | None, gpus_per_job: float) -> None:
        try:
            import ray
        except ImportError:
            raise MissingDependencyError("ray", "ray", "running experiments on Ray") from None
        self._ray = ray
        self.address, self.gpus_per_job = address, gpus_per_job
        self._started_here = False

    def __enter__(self) -> RayPool:
        if not self._ray.is_initialized():
            self._ray.init(address=self.address, log_to_driver=False)
            self._started_here = True
        return self

    def __exit__(self, kind: Any, error: Any, tb: Any) -> None:
        if self._started_here:
            self._ray.shutdown()

    def map(
        self, fn: Callable[[J], R], jobs: Iterable[J], on_done: Callable[[J], None] | None = None
    ) -> Iterator[R]:
        """Results of ``fn(job)`` in completion order; the first error cancels the rest."""
        remote = self._ray.remote(num_gpus=self.gpus_per_job, num_cpus=1, max_retries=0)(_call)
        pending = {remote.remote(fn, job): job for job in jobs}
        try:
            while pending:
                done, _ = self._ray.wait(list(pending), num_returns=1)
                job = pending.pop(done[0])
                result: R = self._ray.get(done[0])
                if on_done:
                    on_done(job)
                yield result
        finally:
            for ref in pending:
                self._ray.cancel(ref, force=True)
