"""The multi-seed runner: baselines and methods for every seed, in parallel worker processes.

    record = run_experiment(ExperimentSpec(task="geofacts", methods=("vanilla", "confident"),
                                           seeds=(0, 1, 2, 3, 4)))

Work happens in three phases. The parent loads the task once (building and embedding the
dataset, which lands in the cache). Then each seed's weak teacher and ceiling run as one
job, and finally every (seed, method) pair runs as its own job, reading the cached weak
labels. Jobs go to ``workers`` processes (spawned, each with its share of the CPU threads);
with one worker everything runs in this process.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any, TypeVar

from aar.core.errors import GapTooSmallError
from aar.core.hashing import config_hash
from aar.core.pgr import DEFAULT_MIN_GAP, paired_difference, pgr
from aar.core.records import EstimateRecord, ExperimentRecord, MethodResult, PGRRecord
from aar.w2s.baselines import ceiling_accuracy, weak_artifacts
from aar.w2s.cache import ArtifactCache, default_cache_dir
from aar.w2s.data import TaskData
from aar.w2s.methods import build_method
from aar.w2s.methods.base import MethodContext, as_labels
from aar.w2s.tasks import Task, build_task

ProgressFn = Callable[[str], None]
"""Called with a short description each time a job finishes."""
J = TypeVar("J")
R = TypeVar("R")


@dataclass(frozen=True)
class ExperimentSpec:
    """What to run: a task, methods, seeds, and where to cache."""

    task: str = "geofacts"
    task_options: Mapping[str, Any] = field(default_factory=dict)
    methods: tuple[str, ...] = ("vanilla",)
    method_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    seeds: tuple[int, ...] = (0, 1, 2)
    min_gap: float = DEFAULT_MIN_GAP
    cache_dir: Path | None = field(default_factory=default_cache_dir)
    """None disables the cache."""
    refresh: bool = False
    """Recompute cached teachers, baselines and embeddings (``--no-cache``)."""
    workers: int | None = None
    """Worker processes; None picks one per CPU core, up to the number of seeds."""


@dataclass(frozen=True)
class _Job:
    spec: ExperimentSpec
    seed: int
    method: str | None = None


def run_experiment(spec: ExperimentSpec, progress: ProgressFn | None = None) -> ExperimentRecord:
    """Run every method on every seed; return the record with PGR ± SE per method."""
    task = build_task(spec.task, spec.task_options)
    methods = {name: build_method(name, spec.method_options.get(name)) for name in spec.methods}
    if not spec.seeds:
        raise ValueError("at least one seed is needed")
    started = time.perf_counter()
    task.load(ArtifactCache(spec.cache_dir, spec.refresh))
    prepared = time.perf_counter()
    with _executor(_worker_count(spec)) as executor:
        baselines = dict(
            _map(executor, _baseline_job, [_Job(spec, s) for s in spec.seeds], progress)
        )
        jobs = [_Job(spec, s, m) for s in spec.seeds for m in spec.methods]
        transfers = dict(_map(executor, _method_job, jobs, progress))
    timings = {
        "prepare_seconds": prepared - started,
        "total_seconds": time.perf_counter() - started,
    }
    weak = {s: baselines[s][0] for s in spec.seeds}
    ceiling = {s: baselines[s][1] for s in spec.seeds}
    results = _with_paired_deltas(
        [
            _method_result(methods[m].describe(), m, spec, weak, ceiling, transfers)
            for m in spec.methods
        ]
    )
    return ExperimentRecord(
        config_hash=config_hash(
            {
                "task": task.config_hash,
                "methods": [r.method.config_hash for r in results],
                "seeds": list(spec.seeds),
                "min_gap": spec.min_gap,
            }
        ),
        task=task.describe(),
        seeds=list(spec.seeds),
        min_gap=spec.min_gap,
        weak_acc=weak,
        ceiling_acc=ceiling,
        weak=EstimateRecord.of(list(weak.values())),
        ceiling=EstimateRecord.of(list(ceiling.values())),
        methods=results,
        timings=timings,
    )


def _method_result(
    method: Any,
    name: str,
    spec: ExperimentSpec,
    weak: dict[int, float],
    ceiling: dict[int, float],
    transfers: dict[tuple[int, str], tuple[float, float]],
) -> MethodResult:
    acc = {s: transfers[(s, name)][0] for s in spec.seeds}
    transfer = EstimateRecord.of(list(acc.values()))
    weak_e, ceiling_e = (
        EstimateRecord.of(list(weak.values())),
        EstimateRecord.of(list(ceiling.values())),
    )
    try:
        value = PGRRecord.of(
            pgr(transfer.as_estimate(), weak_e.as_estimate(), ceiling_e.as_estimate(), spec.min_gap)
        )
        error = None
    except GapTooSmallError as err:
        value, error = None, str(err)
    return MethodResult(
        method=method,
        transfer_acc=acc,
        seconds={s: transfers[(s, name)][1] for s in spec.seeds},
        transfer=transfer,
        pgr=value,
        pgr_error=error,
    )


def _with_paired_deltas(
    results: list[MethodResult], reference: str = "vanilla"
) -> list[MethodResult]:
    base = next((r for r in results if r.method.name == reference), None)
    if base is None:
        return results
    seeds = sorted(base.transfer_acc)
    ref = [base.transfer_acc[s] for s in seeds]
    return [
        r.model_copy(
            update={
                "vs_vanilla": EstimateRecord.from_estimate(
                    paired_difference([r.transfer_acc[s] for s in seeds], ref)
                )
            }
        )
        for r in results
    ]


# --- work done in worker processes -------------------------------------------------------

_LOADED: dict[str, tuple[Task, TaskData]] = {}


def _task_and_data(spec: ExperimentSpec) -> tuple[Task, TaskData]:
    task = build_task(spec.task, spec.task_options)
    if task.config_hash not in _LOADED:
        # The parent already (re)built the shared artifacts; read them, never refresh here.
        _LOADED.clear()
        _LOADED[task.config_hash] = (task, task.load(ArtifactCache(spec.cache_dir)))
    return _LOADED[task.config_hash]


def _baseline_job(job: _Job) -> tuple[int, tuple[float, float]]:
    task, data = _task_and_data(job.spec)
    cache = ArtifactCache(job.spec.cache_dir, job.spec.refresh)
    splits = task.splits(data, job.seed)
    weak = weak_artifacts(task, data, splits, job.seed, cache)
    return job.seed, (weak.accuracy, ceiling_accuracy(task, data, splits, job.seed, cache))


def _method_job(job: _Job) -> tuple[tuple[int, str], tuple[float, float]]:
    assert job.method is not None
    task, data = _task_and_data(job.spec)
    splits = task.splits(data, job.seed)
    weak = weak_artifacts(task, data, splits, job.seed, ArtifactCache(job.spec.cache_dir))
    ctx = MethodContext(
        labeled=data.student_inputs.take(splits.labeled),
        labeled_labels=data.labels[splits.labeled],
        pool=data.student_inputs.take(splits.pool),
        pool_weak=weak.pool_probs,
        test=data.student_inputs.take(splits.test),
        student=task.student(data.n_classes),
        n_classes=data.n_classes,
        seed=job.seed,
    )
    method = build_method(job.method, job.spec.method_options.get(job.method))
    started = time.perf_counter()
    predictions = as_labels(method.run(ctx), len(splits.test), data.n_classes, job.method)
    seconds = time.perf_counter() - started
    test_labels = data.labels[splits.test]
    acc = float((predictions == test_labels).mean())
    return (job.seed, job.method), (acc, seconds)


# --- scheduling ----------------------------------------------------------------------------


def _worker_count(spec: ExperimentSpec) -> int:
    if spec.workers is not None:
        return max(1, spec.workers)
    return max(1, min(os.cpu_count() or 1, len(spec.seeds)))


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


class _InProcess(Executor):
    """Runs jobs immediately in this process (one worker: no spawn cost)."""


def _executor(workers: int) -> Executor:
    if workers == 1:
        return _InProcess()
    threads = max(1, (os.cpu_count() or 1) // workers)
    return ProcessPoolExecutor(
        workers, mp_context=get_context("spawn"), initializer=_init_worker, initargs=(threads,)
    )


def _map(
    executor: Executor, fn: Callable[[J], R], jobs: Iterable[J], progress: ProgressFn | None
) -> Iterator[R]:
    if isinstance(executor, _InProcess):
        for job in jobs:
            result = fn(job)
            if progress:
                progress(_describe(job))
            yield result
        return
    futures = {executor.submit(fn, job): job for job in jobs}
    try:
        for future in as_completed(futures):
            result = future.result()
            if progress:
                progress(_describe(futures[future]))
            yield result
    except BaseException:
        for future in futures:
            future.cancel()
        raise


def _describe(job: Any) -> str:
    return f"seed {job.seed} {job.method or 'baselines'}"
