"""The multi-seed runner on the toy task: records, determinism, parallel workers, caching."""

from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from aar.core.pgr import paired_pgr
from aar.w2s.cache import ArtifactCache
from aar.w2s.methods.base import METHODS, Method, MethodContext
from aar.w2s.runner import ExperimentSpec, run_experiment
from aar.w2s.tasks import build_task

SMALL = {"n_examples": 2000, "n_labeled": 100, "n_test": 500}


def _spec(tmp_path: Path, **kwargs: object) -> ExperimentSpec:
    base: dict[str, object] = {
        "task": "toy",
        "task_options": SMALL,
        "methods": ("vanilla",),
        "seeds": (0, 1, 2),
        "cache_dir": tmp_path,
        "workers": 1,
    }
    return ExperimentSpec(**(base | kwargs))  # type: ignore[arg-type]


def test_record_pgr_is_the_core_function_of_its_accuracies(tmp_path: Path) -> None:
    record = run_experiment(_spec(tmp_path, methods=("vanilla", "confident")))
    assert [r.method.name for r in record.methods] == ["vanilla", "confident"]
    assert record.seeds == [0, 1, 2]
    assert set(record.weak_acc) == {0, 1, 2}
    vanilla = record.methods[0]
    expected = paired_pgr(  # the seeds pair the three runs
        [vanilla.transfer_acc[s] for s in record.seeds],
        [record.weak_acc[s] for s in record.seeds],
        [record.ceiling_acc[s] for s in record.seeds],
    )
    assert vanilla.pgr is not None
    assert vanilla.pgr.value == pytest.approx(expected.value)
    assert vanilla.pgr.se == pytest.approx(expected.se)
    assert record.ceiling.mean - record.weak.mean > 0.05  # the toy task has a real gap
    confident = record.methods[1]
    assert confident.vs_vanilla is not None
    assert confident.vs_vanilla.mean == pytest.approx(
        np.mean([confident.transfer_acc[s] - vanilla.transfer_acc[s] for s in record.seeds])
    )
    assert record.timings["total_seconds"] > 0
    assert all(s > 0 for s in vanilla.seconds.values())


def test_gold_only_reference_is_the_student_on_the_labeled_gold_labels(tmp_path: Path) -> None:
    record = run_experiment(_spec(tmp_path, seeds=(0, 1)))
    reference = record.gold_only
    assert reference is not None
    assert reference.method.name == "gold_only"
    task = build_task("toy", SMALL)
    data = task.load(ArtifactCache(None))
    for seed in (0, 1):
        splits = task.splits(data, seed)
        trained = task.student(2).fit(
            data.student_inputs.take(splits.labeled), np.eye(2)[data.labels[splits.labeled]],
            seed=seed,
        )  # fmt: skip
        predicted = trained.predict_proba(data.student_inputs.take(splits.test)).argmax(1)
        expected = float(np.mean(predicted == data.labels[splits.test]))
        assert reference.transfer_acc[seed] == pytest.approx(expected)
    assert reference.pgr is not None
    assert reference.vs_vanilla is not None
    assert [r.method.name for r in record.methods] == ["vanilla"]  # a row apart, not a method
    without = run_experiment(_spec(tmp_path, seeds=(0, 1), gold_only=False))
    assert without.gold_only is None


def test_runs_are_deterministic_and_parallel_workers_agree(tmp_path: Path) -> None:
    one = run_experiment(_spec(tmp_path / "a"))
    again = run_experiment(_spec(tmp_path / "b"))
    parallel = run_experiment(_spec(tmp_path / "c", workers=2))
    assert one.methods[0].transfer_acc == again.methods[0].transfer_acc
    assert one.weak_acc == parallel.weak_acc
    assert one.ceiling_acc == parallel.ceiling_acc
    assert one.methods[0].transfer_acc == parallel.methods[0].transfer_acc
    assert one.config_hash == parallel.config_hash


def test_baselines_are_cached_and_no_cache_recomputes(tmp_path: Path) -> None:
    run_experiment(_spec(tmp_path))
    stored = sorted((tmp_path / "weak").glob("*.npz")) + sorted(
        (tmp_path / "ceiling").glob("*.npz")
    )
    assert len(stored) == 6
    assert len(list((tmp_path / "gold_only").glob("*.npz"))) == 3
    before = {p: p.stat().st_mtime_ns for p in stored}
    run_experiment(_spec(tmp_path))
    assert all(p.stat().st_mtime_ns == t for p, t in before.items())
    refreshed = run_experiment(_spec(tmp_path, refresh=True))
    assert all(p.stat().st_mtime_ns != t for p, t in before.items())
    assert refreshed.weak_acc == run_experiment(_spec(tmp_path)).weak_acc


seen: list[MethodContext] = []


@METHODS.register("test_spy")
class Spy(Method):
    """Records its context and predicts the weak teacher's view via the student."""

    name = "test_spy"

    def run(self, ctx: MethodContext) -> np.ndarray:
        seen.append(ctx)
        return np.zeros(len(ctx.test), dtype=int)


def test_methods_never_receive_pool_or_test_labels(tmp_path: Path) -> None:
    seen.clear()
    run_experiment(_spec(tmp_path, methods=("test_spy",), seeds=(0,)))
    ctx = seen[0]
    task = build_task("toy", SMALL)
    data = task.load(ArtifactCache(None))
    splits = task.splits(data, 0)
    gold = {"pool": data.labels[splits.pool], "test": data.labels[splits.test]}
    names = {f.name for f in fields(ctx)}
    assert names == {
        "labeled",
        "labeled_labels",
        "pool",
        "pool_weak",
        "test",
        "student",
        "n_classes",
        "seed",
    }
    assert np.array_equal(ctx.labeled_labels, data.labels[splits.labeled])  # public by design
    assert not np.array_equal(ctx.pool_weak.argmax(1), gold["pool"])  # weak, not gold
    for value in (getattr(ctx, n) for n in names):
        if isinstance(value, np.ndarray) and value.ndim == 1:
            assert len(value) not in (len(gold["pool"]), len(gold["test"]))


def test_unknown_names_fail_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="unknown method 'nope'"):
        run_experiment(_spec(tmp_path, methods=("vanilla", "nope")))
    assert not (tmp_path / "weak").exists()
