"""A task's public bundle (what researchers work with) and its secrets (what only the hub keeps).

    options = {"n_labeled": 500, **draw_secret_options("geofacts")}   # kept by the operator
    bundle, secrets = build_bundle("geofacts", options, seeds=(0, 1, 2), cache=ArtifactCache(...))
    bundle.save(Path("campaign/public/geofacts"))       # copied read-only into every sandbox
    bundle = PublicBundle.load(Path("/data/geofacts"))  # inside a sandbox
    labels = run_on_bundle(bundle, "aux_conf", {"warmup_fraction": 0.3}, seed=0)
    fresh, fresh_secrets = build_sealed_bundle("geofacts", options, 0, 1001, cache)  # verifying

The student's view is an array: feature rows for the CPU testbeds, the prompts (strings) for the
language-model tasks. The bundle holds the student's view of the labeled set (with its labels),
of the unlabeled pool and of the test set, and the teacher's soft labels on the pool and the
test set per seed. Gold labels of the pool and the test set, and the baselines' predictions
(weak, ceiling, and the gold-only reference: the student trained on the labeled gold labels
alone), go to ``TaskSecrets`` for the hub and are never written into the bundle. Nor are the
task's secret options (``Task.secret_options``: the sealed seed, and the data seed of a task
whose data are generated or drawn from it); ``draw_secret_options`` gives fresh ones.

**What a seed varies.** In a public bundle the split is drawn once (``split_seed``, never
touching the task's sealed set) and is the same for every seed: the hub scores one fixed test
set. Seeds vary only what training draws at random: the ceiling's and the method's student
initialisation and batch order, and the teacher's own randomness, which for the logistic and
TF-IDF teachers is none (lbfgs is deterministic), so their weak labels are the same for every
seed of a public bundle. A sealed bundle (``build_sealed_bundle``) is one verification seed:
that seed redraws the labeled set and the pool from the public labeled set ∪ pool, and its test
set is the sealed set, so the teacher, the ceiling and the gold-only student all retrain on
data that differ per seed, and the seed's baselines are its own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from secrets import randbits
from typing import Any

import numpy as np

from aar.core.errors import ConfigError
from aar.w2s.baselines import ceiling_probs, gold_only_probs, weak_artifacts
from aar.w2s.cache import ArtifactCache
from aar.w2s.data import Features, Inputs, Splits, TaskData, Texts
from aar.w2s.methods import build_method
from aar.w2s.methods.base import MethodContext, as_labels
from aar.w2s.tasks import TASKS, Task, build_task

MANIFEST = "bundle.json"
ARRAYS = "arrays.npz"


@dataclass(frozen=True, eq=False)
class PublicBundle:
    task: str
    task_options: dict[str, Any]
    """The task's options less its secret ones (``Task.secret_options``)."""
    n_classes: int
    split_seed: int
    seeds: tuple[int, ...]
    labeled_x: np.ndarray
    labeled_y: np.ndarray
    pool_x: np.ndarray
    test_x: np.ndarray
    pool_weak: dict[int, np.ndarray]
    """Teacher class probabilities on the pool, per seed."""
    test_weak: dict[int, np.ndarray]

    def save(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, Any] = {
            "labeled_x": self.labeled_x,
            "labeled_y": self.labeled_y,
            "pool_x": self.pool_x,
            "test_x": self.test_x,
        }
        for seed in self.seeds:
            arrays[f"pool_weak_{seed}"] = self.pool_weak[seed]
            arrays[f"test_weak_{seed}"] = self.test_weak[seed]
        np.savez(folder / ARRAYS, **arrays)
        (folder / MANIFEST).write_text(json.dumps(self.manifest(), indent=2) + "\n")
        return folder

    def manifest(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "task_options": self.task_options,
            "n_classes": self.n_classes,
            "split_seed": self.split_seed,
            "seeds": list(self.seeds),
            "sizes": {
                "labeled": len(self.labeled_y),
                "pool": len(self.pool_x),
                "test": self.n_test,
            },
        }

    @property
    def n_test(self) -> int:
        return len(self.test_x)

    @classmethod
    def load(cls, folder: Path) -> PublicBundle:
        if not (folder / MANIFEST).is_file():
            raise ConfigError(f"{folder} is not a task bundle (no {MANIFEST})")
        manifest = json.loads((folder / MANIFEST).read_text())
        seeds = tuple(int(s) for s in manifest["seeds"])
        with np.load(folder / ARRAYS) as arrays:
            return cls(
                task=manifest["task"],
                task_options=manifest["task_options"],
                n_classes=int(manifest["n_classes"]),
                split_seed=int(manifest["split_seed"]),
                seeds=seeds,
                labeled_x=arrays["labeled_x"],
                labeled_y=arrays["labeled_y"],
                pool_x=arrays["pool_x"],
                test_x=arrays["test_x"],
                pool_weak={s: arrays[f"pool_weak_{s}"] for s in seeds},
                test_weak={s: arrays[f"test_weak_{s}"] for s in seeds},
            )


@dataclass(frozen=True, eq=False)
class TaskSecrets:
    """What the hub registers and no researcher sees."""

    test_labels: np.ndarray
    pool_labels: np.ndarray
    weak: dict[int, np.ndarray]
    """The teacher's test predictions per seed (the weak baseline)."""
    ceiling: dict[int, np.ndarray]
    gold_only: dict[int, np.ndarray]
    """Test predictions per seed of the student trained on the labeled set's gold labels only."""


def build_bundle(
    task_name: str,
    task_options: Mapping[str, Any],
    seeds: Sequence[int],
    cache: ArtifactCache,
    split_seed: int = 0,
) -> tuple[PublicBundle, TaskSecrets]:
    """Load the task, split it once, and compute the weak labels and baselines per seed."""
    if not seeds:
        raise ConfigError("at least one seed is needed")
    task = build_task(task_name, task_options)
    data = task.load(cache)
    splits = task.splits(data, split_seed)
    return _bundle(task, data, splits, tuple(seeds), split_seed, cache)


def build_sealed_bundle(
    task_name: str,
    task_options: Mapping[str, Any],
    split_seed: int,
    seed: int,
    cache: ArtifactCache,
) -> tuple[PublicBundle, TaskSecrets]:
    """The bundle of one verification ``seed`` (``seeds == (seed,)``): labeled set and pool
    redrawn with ``seed`` from the public split of ``split_seed``, test set the task's sealed
    set, and its own weak labels and baselines. Raises ``ConfigError`` if the task has no
    sealed set. The bundle goes to the verifier's sandbox only, never to a researcher."""
    task = build_task(task_name, task_options)
    data = task.load(cache)
    splits = task.verification_splits(data, split_seed, seed)
    return _bundle(task, data, splits, (seed,), split_seed, cache)


def draw_secret_options(task_name: str) -> dict[str, int]:
    """Fresh random values (62 bits each) for the task's secret options, to publish it with."""
    return {name: randbits(62) for name in sorted(TASKS.get(task_name).secret_options)}


def public_options(task: Task) -> dict[str, Any]:
    """The task's options as a bundle records them: all but the secret ones."""
    options = task.config.model_dump(mode="json")
    return {k: v for k, v in options.items() if k not in task.secret_options}


def _bundle(
    task: Task,
    data: TaskData,
    splits: Splits,
    seeds: tuple[int, ...],
    split_seed: int,
    cache: ArtifactCache,
) -> tuple[PublicBundle, TaskSecrets]:
    weak = {s: weak_artifacts(task, data, splits, s, cache) for s in seeds}
    ceiling = {s: ceiling_probs(task, data, splits, s, cache) for s in seeds}
    gold_only = {s: gold_only_probs(task, data, splits, s, cache) for s in seeds}
    view = _view(data.student_inputs, task.name)
    bundle = PublicBundle(
        task=task.name,
        task_options=public_options(task),
        n_classes=data.n_classes,
        split_seed=split_seed,
        seeds=seeds,
        labeled_x=view[splits.labeled],
        labeled_y=data.labels[splits.labeled],
        pool_x=view[splits.pool],
        test_x=view[splits.test],
        pool_weak={s: w.pool_probs for s, w in weak.items()},
        test_weak={s: w.test_probs for s, w in weak.items()},
    )
    secrets = TaskSecrets(
        test_labels=data.labels[splits.test],
        pool_labels=data.labels[splits.pool],
        weak={s: w.test_probs.argmax(1) for s, w in weak.items()},
        ceiling={s: probs.argmax(1) for s, probs in ceiling.items()},
        gold_only={s: probs.argmax(1) for s, probs in gold_only.items()},
    )
    return bundle, secrets


def _view(inputs: Inputs, task_name: str) -> np.ndarray:
    """The student's view as one array: feature rows, or strings for a model that reads text."""
    if isinstance(inputs, Features):
        return inputs.array
    if isinstance(inputs, Texts):
        return np.asarray(inputs.texts, dtype=str)
    raise ConfigError(f"task {task_name}: its student inputs cannot be put in a bundle")


def _inputs(array: np.ndarray) -> Inputs:
    return Texts(tuple(array.tolist())) if array.dtype.kind == "U" else Features(array)


def method_context(bundle: PublicBundle, seed: int, task: Task | None = None) -> MethodContext:
    """The public data of ``seed`` as a method sees it. The task is rebuilt from the bundle's
    options, so its secret options take their defaults: they never shape the student."""
    if seed not in bundle.pool_weak:
        known = ", ".join(str(s) for s in bundle.seeds)
        raise ConfigError(f"the bundle has weak labels for seeds {known}, not {seed}")
    task = task or build_task(bundle.task, bundle.task_options)
    return MethodContext(
        labeled=_inputs(bundle.labeled_x),
        labeled_labels=bundle.labeled_y,
        pool=_inputs(bundle.pool_x),
        pool_weak=bundle.pool_weak[seed],
        test=_inputs(bundle.test_x),
        student=task.student(bundle.n_classes),
        n_classes=bundle.n_classes,
        seed=seed,
    )


def run_on_bundle(
    bundle: PublicBundle, method: str, options: Mapping[str, Any] | None, seed: int
) -> np.ndarray:
    """Test-set labels predicted by ``method`` trained on the bundle's public data of ``seed``."""
    built = build_method(method, options)
    ctx = method_context(bundle, seed)
    return as_labels(built.run(ctx), bundle.n_test, bundle.n_classes, method)
