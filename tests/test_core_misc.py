"""Registry, config hashing and result records."""

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from pydantic import BaseModel

from aar.core.errors import DataError, UnknownNameError
from aar.core.hashing import canonical_json, config_hash
from aar.core.provenance import code_provenance
from aar.core.records import SCHEMA_VERSION, EstimateRecord, ExperimentRecord, environment
from aar.core.registry import Registry
from aar.w2s.cache import ArtifactCache, full_key


def test_registry_lists_valid_names_for_unknown_name() -> None:
    things: Registry[int] = Registry("widget")
    things.register("b")(2)
    things.register("a")(1)
    assert things.get("a") == 1
    assert list(things) == ["a", "b"]
    with pytest.raises(UnknownNameError, match="unknown widget 'c'; valid widgets: a, b"):
        things.get("c")
    with pytest.raises(ValueError, match="already registered"):
        things.register("a")(3)


class _Config(BaseModel):
    lr: float = 0.1
    layers: tuple[int, ...] = (1, 2)


def test_config_hash_is_canonical() -> None:
    assert config_hash({"b": 1, "a": [1, 2]}) == config_hash({"a": (1, 2), "b": 1})
    assert config_hash(_Config()) == config_hash({"layers": [1, 2], "lr": 0.1})
    assert config_hash(_Config(lr=0.2)) != config_hash(_Config())
    assert canonical_json({"b": 1, "a": 2}) == '{"a":2,"b":1}'
    assert len(config_hash("x")) == 16


def _record() -> ExperimentRecord:
    est = EstimateRecord.of([0.6, 0.7])
    return ExperimentRecord(
        config_hash="abc",
        task={"name": "toy", "config": {"n": 1}, "config_hash": "t"},
        seeds=[0, 1],
        min_gap=0.02,
        weak_acc={0: 0.6, 1: 0.7},
        ceiling_acc={0: 0.8, 1: 0.9},
        weak=est,
        ceiling=est,
        methods=[],
        timings={"total_seconds": 1.0},
    )


def test_record_round_trips_through_json(tmp_path: Path) -> None:
    record = _record()
    record.save(tmp_path / "r.json")
    loaded = ExperimentRecord.load(tmp_path / "r.json")
    assert loaded == record
    raw = json.loads((tmp_path / "r.json").read_text())
    assert raw["schema_version"] == SCHEMA_VERSION
    assert {"python", "numpy", "pydantic"} <= set(raw["environment"])


def test_record_refuses_unknown_schema_version(tmp_path: Path) -> None:
    raw = json.loads(_record().model_dump_json())
    raw["schema_version"] = 99
    with pytest.raises(DataError, match="schema_version 99 is not supported"):
        ExperimentRecord.from_json(json.dumps(raw))
    with pytest.raises(DataError, match="not JSON"):
        ExperimentRecord.from_json("{oops")
    del raw["seeds"]
    raw["schema_version"] = SCHEMA_VERSION
    with pytest.raises(DataError, match="invalid record at seeds"):
        ExperimentRecord.from_json(json.dumps(raw))


def _git(*args: str) -> str:
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip("not a git checkout")
    return done.stdout.strip()


def test_records_carry_the_commit_its_dirty_flag_and_library_versions() -> None:
    head = _git("rev-parse", "HEAD")
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))  # untracked: no
    env = environment()
    assert env["commit"] == head
    assert env["dirty"] == ("true" if dirty else "false")
    assert ("diff" in env) == dirty
    assert env["numpy"]
    assert env["python"]


def test_cache_keys_carry_the_code_and_the_libraries(tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path)
    calls = []

    def compute() -> dict[str, np.ndarray]:
        calls.append(1)
        return {"x": np.arange(3)}

    cache.load_or_compute("weak", {"seed": 0}, compute)
    cache.load_or_compute("weak", {"seed": 0}, compute)
    assert len(calls) == 1  # the second call reads the stored arrays
    stored = json.loads(next((tmp_path / "weak").glob("*.json")).read_text())
    assert stored["provenance"]["code"] == code_provenance()
    assert stored["provenance"]["libraries"]["numpy"] == np.__version__
    # Embeddings are bound to the libraries only, so they are kept across commits.
    assert "code" not in full_key({"seed": 0}, code_bound=False)["provenance"]
    assert cache.path("e", {"a": 1}, code_bound=False) != cache.path("e", {"a": 1})
