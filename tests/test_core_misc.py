"""Registry, config hashing and result records."""

import json
from pathlib import Path

import pytest
from pydantic import BaseModel

from aar.core.errors import DataError, UnknownNameError
from aar.core.hashing import canonical_json, config_hash
from aar.core.records import SCHEMA_VERSION, EstimateRecord, ExperimentRecord
from aar.core.registry import Registry


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
