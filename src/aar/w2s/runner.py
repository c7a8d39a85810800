"""The multi-seed runner: baselines and methods for every seed, in parallel worker processes.

    record = run_experiment(ExperimentSpec(task="geofacts", methods=("vanilla", "confident"),
                                           seeds=(0, 1, 2, 3, 4)))

Work happens in three phases. The parent loads the task once (building and embedding the
dataset, which lands in the cache). Then each seed's weak teacher, ceiling and gold-only
reference (the student trained on the labeled gold labels alone) run as one job, and finally
every (seed, method) pair runs as its own job, reading the cached weak labels. Jobs go to a
``JobPool`` of ``workers`` processes; with one worker everything runs in this process.
``summary.summarize`` turns the accuracies into the record.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aar.core.errors import ConfigError
from aar.core.pgr import DEFAULT_MIN_GAP
from aar.core.records import ExperimentRecord
from aar.w2s.baselines import ceiling_probs, gold_only_probs, weak_artifacts
from aar.w2s.cache import ArtifactCache, default_cache_dir
from aar.w2s.data import TaskData
from aar.w2s.methods import build_method
from aar.w2s.methods.base import Method, MethodContext, as_labels
from aar.w2s.parallel import open_pool
from aar.w2s.subsets import subset_accuracy, subset_results, subset_sizes
from aar.w2s.summary import summarize
from aar.w2s.tasks import Task, build_task

ProgressFn = Callable[[str], None]
"""Called with a short description each time a job finishes."""


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
    gpus: tuple[int, ...] = ()
    """GPUs to spread jobs over, one worker process per GPU (overrides ``workers``)."""
    executor: str = "local"
    """``local`` (worker processes) or ``ray`` (Ray tasks, ``ray_gpus`` GPUs each)."""
    ray_address: str | None = None
    """Ray cluster to join (None: $RAY_ADDRESS, else a local cluster)."""
    ray_gpus: float = 1.0
    """GPUs each Ray task asks for (0 on a CPU-only cluster)."""
    gold_only: bool = True
    """Also train the gold-only reference per seed (one more student on the labeled set)."""


@dataclass(frozen=True)
class _Job:
    spec: ExperimentSpec
    seed: int
    method: str | None = None

    def describe(self) -> str:
        return f"seed {self.seed} {self.method or 'baselines'}"


def validate(spec: ExperimentSpec) -> tuple[Task, dict[str, Method]]:
    """Build the task and the methods (cheap); raises the user's config errors before any work."""
    if not spec.seeds:
        raise ConfigError("at least one seed is needed")
    if spec.executor not in ("local", "ray"):
        raise ConfigError(f"executor {spec.executor!r}: choose local or ray")
    task = build_task(spec.task, spec.task_options)
    return task, {name: build_method(name, spec.method_options.get(name)) for name in spec.methods}


def run_experiment(spec: ExperimentSpec, progress: ProgressFn | None = None) -> ExperimentRecord:
    """Run every method on every seed; return the record with PGR ± SE per method."""
    task, methods = validate(spec)
    started = time.perf_counter()
    data = task.load(ArtifactCache(spec.cache_dir, spec.refresh))
    for seed in spec.seeds:  # split sizes are user input: check them here, not in a worker
        task.splits(data, seed)
    prepared = time.perf_counter()
    on_done = (lambda job: progress(job.describe())) if progress else None
    with open_pool(
        len(spec.seeds),
        workers=spec.workers,
        gpus=spec.gpus,
        executor=spec.executor,
        ray_address=spec.ray_address,
        ray_gpus=spec.ray_gpus,
    ) as pool:
        seed_jobs = [_Job(spec, s) for s in spec.seeds]
        baselines = dict(pool.map(_baseline_job, seed_jobs, on_done))
        method_jobs = [_Job(spec, s, m) for s in spec.seeds for m in spec.methods]
        transfers = dict(pool.map(_method_job, method_jobs, on_done))
    test_subsets = None if data.subsets is None else data.subsets[task.splits(data, 0).test]
    subsets = subset_results(
        subset_sizes(test_subsets),
        spec.seeds,
        weak={s: baselines[s].weak_subsets for s in spec.seeds},
        ceiling={s: baselines[s].ceiling_subsets for s in spec.seeds},
        transfers={m: {s: transfers[(s, m)].subsets for s in spec.seeds} for m in spec.methods},
    )
    timings = {
        "prepare_seconds": prepared - started,
        "total_seconds": time.perf_counter() - started,
    }
    return summarize(
        task.describe(),
        [m.describe() for m in methods.values()],
        spec.seeds,
        spec.min_gap,
        weak={s: baselines[s].weak for s in spec.seeds},
        ceiling={s: baselines[s].ceiling for s in spec.seeds},
        transfers={key: (t.accuracy, t.seconds) for key, t in transfers.items()},
        timings=timings,
        subsets=subsets,
        gold_only={s: r for s, b in baselines.items() if (r := b.gold_only)} or None,
    )


# --- work done in worker processes -------------------------------------------------------

_LOADED: dict[str, tuple[Task, TaskData]] = {}


def _task_and_data(spec: ExperimentSpec) -> tuple[Task, TaskData]:
    task = build_task(spec.task, spec.task_options)
    if task.config_hash not in _LOADED:
        # The parent already (re)built the shared artifacts; read them, never refresh here.
        _LOADED.clear()
        _LOADED[task.config_hash] = (task, task.load(ArtifactCache(spec.cache_dir)))
    return _LOADED[task.config_hash]


@dataclass(frozen=True)
class _Baselines:
    weak: float
    ceiling: float
    weak_subsets: dict[str, float]
    ceiling_subsets: dict[str, float]
    gold_only: tuple[float, float] | None
    """Accuracy and seconds of the gold-only reference, when the spec asks for it."""


@dataclass(frozen=True)
class _Transfer:
    accuracy: float
    seconds: float
    subsets: dict[str, float]


def _baseline_job(job: _Job) -> tuple[int, _Baselines]:
    task, data = _task_and_data(job.spec)
    cache = ArtifactCache(job.spec.cache_dir, job.spec.refresh)
    splits = task.splits(data, job.seed)
    weak = weak_artifacts(task, data, splits, job.seed, cache)
    ceiling = ceiling_probs(task, data, splits, job.seed, cache).argmax(1)
    gold = data.labels[splits.test]
    subsets = data.subsets[splits.test] if data.subsets is not None else None
    reference = None
    if job.spec.gold_only:
        started = time.perf_counter()
        predicted = gold_only_probs(task, data, splits, job.seed, cache).argmax(1)
        reference = (float(np.mean(predicted == gold)), time.perf_counter() - started)
    return job.seed, _Baselines(
        weak=weak.accuracy,
        ceiling=float(np.mean(ceiling == gold)),
        weak_subsets=subset_accuracy(weak.test_probs.argmax(1), gold, subsets),
        ceiling_subsets=subset_accuracy(ceiling, gold, subsets),
        gold_only=reference,
    )


def _method_job(job: _Job) -> tuple[tuple[int, str], _Transfer]:
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
    subsets = data.subsets[splits.test] if data.subsets is not None else None
    by_subset = subset_accuracy(predictions, test_labels, subsets)
    return (job.seed, job.method), _Transfer(acc, seconds, by_subset)
