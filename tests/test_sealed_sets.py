"""Sealed sets: examples no public split holds, and the fresh splits that verify on them."""

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from aar.core.errors import ConfigError, DataError
from aar.w2s.cache import ArtifactCache
from aar.w2s.data import TaskData, draw_sealed, make_splits, verification_split
from aar.w2s.reference.layout import write_rows
from aar.w2s.tasks import build_task

SMALL = {"n_examples": 2000, "n_labeled": 100, "n_test": 500}


def _toy(**options: Any) -> tuple[Any, TaskData]:
    task = build_task("toy", SMALL | options)
    return task, task.load(ArtifactCache(None))


def test_no_public_split_holds_a_sealed_example() -> None:
    task, data = _toy()
    sealed = task.sealed_indices(data)
    assert len(sealed) == 2000 // 8  # toy's default: an eighth of its examples
    for seed in range(4):
        splits = task.splits(data, seed)
        public = np.concatenate([splits.labeled, splits.pool, splits.test])
        assert not np.intersect1d(public, sealed).size
        assert len(public) == 2000 - 250
    other, _ = _toy(sealed_seed=1)
    assert not np.array_equal(other.sealed_indices(data), sealed)  # the sealed seed draws it
    assert np.array_equal(_toy()[0].sealed_indices(data), sealed)


def test_sealed_draws_keep_groups_whole() -> None:
    groups = np.repeat(np.arange(50), 2)  # pairs, like a true and a false statement per city
    sealed = draw_sealed(100, 11, seed=0, groups=groups)
    assert len(sealed) == 12
    assert set(np.bincount(groups[sealed])[groups[sealed]]) == {2}
    splits = make_splits(100, n_labeled=11, n_test=21, seed=0, groups=groups, sealed=sealed)
    public = np.concatenate([splits.labeled, splits.pool, splits.test])
    assert not set(groups[public]) & set(groups[sealed])
    assert len(public) == 100 - 12
    fresh = verification_split(splits, sealed, seed=5, groups=groups)
    assert not set(groups[fresh.labeled]) & set(groups[fresh.pool])


def test_verification_splits_redraw_the_public_labeled_set_and_pool() -> None:
    task, data = _toy()
    public = task.splits(data, 0)
    candidates = np.concatenate([public.labeled, public.pool])
    first = task.verification_splits(data, split_seed=0, seed=1001)
    second = task.verification_splits(data, split_seed=0, seed=1002)
    for fresh in (first, second):
        assert np.array_equal(fresh.test, task.sealed_indices(data))
        assert len(fresh.labeled) == len(public.labeled)
        assert np.array_equal(
            np.sort(np.concatenate([fresh.labeled, fresh.pool])), np.sort(candidates)
        )
        assert not np.intersect1d(fresh.labeled, public.test).size  # probed labels stay out
    assert not np.array_equal(first.labeled, second.labeled)
    again = task.verification_splits(data, split_seed=0, seed=1001)
    assert np.array_equal(again.labeled, first.labeled)


def test_a_task_without_a_sealed_set_refuses_verification() -> None:
    task, data = _toy(n_sealed=0)
    assert len(task.sealed_indices(data)) == 0
    assert len(task.splits(data, 0).pool) == 2000 - 600
    with pytest.raises(ConfigError, match="task toy has no sealed set \\(n_sealed=0\\)"):
        task.verification_splits(data, 0, 1001)


def test_sizes_that_do_not_fit_name_the_sealed_set() -> None:
    task, data = _toy(n_sealed=1500)
    with pytest.raises(
        ConfigError, match="2000 examples but n_labeled=100 \\+ n_test=500 \\+ n_sealed=1500"
    ):
        task.splits(data, 0)
    task, data = _toy(n_sealed=2000)
    with pytest.raises(ConfigError, match="n_sealed=2000: the task has only 2000 examples"):
        task.splits(data, 0)
    with pytest.raises(Exception, match="n_sealed"):
        build_task("toy", {"n_sealed": -1})


def _math_folder(root: Path, sealed_rows: int = 0) -> Path:
    """A math folder in the reference layout; test questions come in pairs of candidates."""

    def rows(prefix: str, n: int, per_question: int = 1) -> list[dict[str, object]]:
        return [
            {"question": f"{prefix} q{i // per_question}", "choice": f"c{i}", "label": i % 2}
            for i in range(n)
        ]

    write_rows(root / "train_label.jsonl", rows("labeled", 10))
    write_rows(root / "train_unlabel.jsonl", rows("pool", 20))
    write_rows(root / "test.jsonl", rows("test", 40, per_question=2))
    if sealed_rows:
        write_rows(root / "sealed.jsonl", rows("sealed", sealed_rows))
    return root


def _texts(data: TaskData, index: np.ndarray) -> set[str]:
    return set(data.student_inputs.take(index).texts)  # type: ignore[attr-defined]


def test_reference_tasks_hold_back_a_quarter_of_test_in_whole_questions(tmp_path: Path) -> None:
    task = build_task("math", {"data_dir": str(_math_folder(tmp_path))})
    data = task.load(ArtifactCache(None))
    sealed, splits = task.sealed_indices(data), task.splits(data, 0)
    assert len(sealed) == 10
    assert (len(splits.labeled), len(splits.pool), len(splits.test)) == (10, 20, 30)
    assert data.groups is not None
    assert not set(data.groups[sealed]) & set(data.groups[splits.test])
    assert not _texts(data, sealed) & _texts(data, splits.test)
    fresh = task.verification_splits(data, 0, 7)
    assert np.array_equal(fresh.test, sealed)
    capped = build_task("math", {"data_dir": str(tmp_path), "n_test": 8, "n_sealed": 12})
    capped_data = capped.load(ArtifactCache(None))
    assert len(capped.sealed_indices(capped_data)) == 12
    assert len(capped.splits(capped_data, 0).test) == 8
    other = build_task("math", {"data_dir": str(tmp_path), "sealed_seed": 3})
    other_data = other.load(ArtifactCache(None))
    assert _texts(other_data, other.sealed_indices(other_data)) != _texts(data, sealed)


def test_reference_tasks_never_seal_a_question_the_public_files_share(tmp_path: Path) -> None:
    _math_folder(tmp_path)
    shared = [{"question": f"pool q{i}", "choice": "other", "label": 1} for i in range(10)]
    fresh = [{"question": f"new q{i}", "choice": "c", "label": i % 2} for i in range(30)]
    write_rows(tmp_path / "test.jsonl", shared + fresh)
    task = build_task("math", {"data_dir": str(tmp_path), "n_sealed": 29})
    data = task.load(ArtifactCache(None))
    assert all(text.count("new q") for text in _texts(data, task.sealed_indices(data)))
    with pytest.raises(ConfigError, match="n_sealed=30: the task has only 30 examples"):
        build_task("math", {"data_dir": str(tmp_path), "n_sealed": 30}).load(ArtifactCache(None))


def test_reference_tasks_read_sealed_jsonl_when_the_folder_has_one(tmp_path: Path) -> None:
    task = build_task("math", {"data_dir": str(_math_folder(tmp_path, sealed_rows=6))})
    data = task.load(ArtifactCache(None))
    sealed = task.sealed_indices(data)
    assert len(sealed) == 6
    assert len(task.splits(data, 0).test) == 40
    assert all("sealed q" in text for text in _texts(data, sealed))
    off = build_task("math", {"data_dir": str(tmp_path), "n_sealed": 0})
    off_data = off.load(ArtifactCache(None))
    assert len(off.sealed_indices(off_data)) == 0
    with pytest.raises(ConfigError, match="task math has no sealed set"):
        off.verification_splits(off_data, 0, 1)
    write_rows(tmp_path / "sealed.jsonl", [{"question": "q", "choice": "c"}])
    with pytest.raises(DataError, match=r"sealed.jsonl:1: field 'label': missing"):
        task.load(ArtifactCache(None))
