"""Result records: what an experiment ran, what it measured, and with which software.

A record is JSON with a ``schema_version``; ``ExperimentRecord.load`` refuses versions it
does not know instead of guessing. Every record carries the configuration and its hash, so
two results can be compared (or deduplicated) by what produced them, not by a folder name.

    record.save(Path("result.json"))
    same = ExperimentRecord.load(Path("result.json"))
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aar.core.errors import DataError
from aar.core.pgr import PGR, Estimate, estimate
from aar.core.provenance import code_provenance, library_versions

SCHEMA_VERSION = 1


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EstimateRecord(_Record):
    mean: float
    se: float | None
    n: int

    @classmethod
    def of(cls, values: list[float]) -> EstimateRecord:
        return cls.from_estimate(estimate(values))

    @classmethod
    def from_estimate(cls, e: Estimate) -> EstimateRecord:
        return cls(mean=e.mean, se=e.se, n=e.n)

    def as_estimate(self) -> Estimate:
        return Estimate(self.mean, self.se, self.n)


class PGRRecord(_Record):
    value: float
    se: float | None
    gap: float

    @classmethod
    def of(cls, p: PGR) -> PGRRecord:
        return cls(value=p.value, se=p.se, gap=p.gap)


class Component(_Record):
    """A named, configured part of an experiment (task, method, teacher, student)."""

    name: str
    config: dict[str, Any]
    config_hash: str


class MethodResult(_Record):
    """One method's transfer accuracy per seed and its summary."""

    method: Component
    transfer_acc: dict[int, float]
    seconds: dict[int, float]
    transfer: EstimateRecord
    pgr: PGRRecord | None
    pgr_error: str | None = None
    vs_vanilla: EstimateRecord | None = None
    """Per-seed paired difference of transfer accuracy against ``vanilla`` (when it ran)."""


class SubsetResult(_Record):
    """Test accuracy on one subset of the test set (e.g. one source dataset), over seeds."""

    name: str
    n_test: int
    weak: EstimateRecord
    ceiling: EstimateRecord
    transfer: dict[str, EstimateRecord]
    """Method name → its accuracy on this subset."""


class ExperimentRecord(_Record):
    """A multi-seed comparison of methods on one task against shared weak/ceiling baselines."""

    schema_version: int = SCHEMA_VERSION
    config_hash: str
    task: Component
    seeds: list[int]
    min_gap: float
    weak_acc: dict[int, float]
    ceiling_acc: dict[int, float]
    weak: EstimateRecord
    ceiling: EstimateRecord
    methods: list[MethodResult]
    timings: dict[str, float]
    subsets: list[SubsetResult] = Field(default_factory=list)
    """Per-subset accuracy, when the task's test set has more than one subset."""
    gold_only: MethodResult | None = None
    """Reference row: the strong student trained on the labeled set's gold labels only."""
    environment: dict[str, str] = Field(default_factory=lambda: environment())
    created_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat())

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.model_dump_json(indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> ExperimentRecord:
        try:
            raw = path.read_text()
        except OSError as err:
            raise DataError(f"{path}: cannot read record ({err.strerror})") from None
        return cls.from_json(raw, source=str(path))

    @classmethod
    def from_json(cls, raw: str, source: str = "record") -> ExperimentRecord:
        return parse_versioned(cls, raw, source, "record", SCHEMA_VERSION)


M = TypeVar("M", bound=BaseModel)


def parse_versioned(model: type[M], raw: str, source: str, what: str, version: int) -> M:
    """``raw`` JSON as ``model``, refusing another ``schema_version`` than ``version``; every
    problem is a ``DataError`` naming ``source`` (a path, usually) and where it is."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as err:
        raise DataError(f"{source}: not JSON ({err.msg}, line {err.lineno})") from None
    found = data.get("schema_version") if isinstance(data, dict) else None
    if found != version:
        raise DataError(
            f"{source}: schema_version {found!r} is not supported "
            f"(this aar reads version {version})"
        )
    try:
        return model.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise DataError(f"{source}: invalid {what} at {where}: {first['msg']}") from None


def environment() -> dict[str, str]:
    """Python, platform, the versions of the libraries that shape a result, and the code's
    commit with its dirty flag (``aar.core.provenance``)."""
    return {**library_versions(), **code_provenance()}
