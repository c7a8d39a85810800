"""Seeded splits and the artifact cache."""

from pathlib import Path

import numpy as np
import pytest

from aar.core.errors import ConfigError
from aar.w2s.cache import ArtifactCache
from aar.w2s.data import Features, Texts, make_splits


def test_splits_are_disjoint_deterministic_and_sized() -> None:
    a = make_splits(100, n_labeled=10, n_test=20, seed=3)
    b = make_splits(100, n_labeled=10, n_test=20, seed=3)
    c = make_splits(100, n_labeled=10, n_test=20, seed=4)
    assert (len(a.labeled), len(a.test), len(a.pool)) == (10, 20, 70)
    assert np.array_equal(a.pool, b.pool)
    assert not np.array_equal(a.pool, c.pool)
    assert len(set(a.labeled) | set(a.test) | set(a.pool)) == 100


def test_pool_cap() -> None:
    assert len(make_splits(100, 10, 20, seed=0, n_pool=5).pool) == 5


def test_groups_never_straddle_splits() -> None:
    groups = np.repeat(np.arange(50), 2)  # pairs, like a true and a false statement per city
    splits = make_splits(100, n_labeled=11, n_test=21, seed=0, groups=groups)
    owner = {}
    for name in ("labeled", "pool", "test"):
        for i in getattr(splits, name):
            assert owner.setdefault(groups[i], name) == name
    assert len(splits.labeled) == 12
    assert len(splits.test) == 22


def test_sizes_that_leave_no_pool_are_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="100 examples but n_labeled=60 \\+ n_test=40"):
        make_splits(100, n_labeled=60, n_test=40, seed=0)


def test_inputs_take() -> None:
    feats = Features(np.arange(6).reshape(3, 2))
    assert feats.take(np.array([2, 0])).array.tolist() == [[4, 5], [0, 1]]
    assert Texts(("a", "b", "c")).take(np.array([1])).texts == ("b",)


def test_cache_reuses_and_refreshes(tmp_path: Path) -> None:
    calls = []

    def compute() -> dict[str, np.ndarray]:
        calls.append(1)
        return {"x": np.full(3, len(calls))}

    cache = ArtifactCache(tmp_path)
    first = cache.load_or_compute("kind", {"a": 1}, compute)
    again = cache.load_or_compute("kind", {"a": 1}, compute)
    other = cache.load_or_compute("kind", {"a": 2}, compute)
    assert len(calls) == 2
    assert again["x"].tolist() == first["x"].tolist() == [1, 1, 1]
    assert other["x"].tolist() == [2, 2, 2]
    refreshed = cache.with_refresh(True).load_or_compute("kind", {"a": 1}, compute)
    assert refreshed["x"].tolist() == [3, 3, 3]
    assert len(calls) == 3
    assert ArtifactCache(tmp_path).load_or_compute("kind", {"a": 1}, compute)["x"][0] == 3
    assert list((tmp_path / "kind").glob("*.tmp")) == []
    assert len(list((tmp_path / "kind").glob("*.json"))) == 2  # the readable keys


def test_disabled_cache_always_computes() -> None:
    calls = []
    cache = ArtifactCache(None)
    for _ in range(2):
        cache.load_or_compute("k", {}, lambda: calls.append(1) or {"x": np.zeros(1)})
    assert len(calls) == 2
