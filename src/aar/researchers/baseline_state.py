"""What the baseline researcher knows, kept in its transcript so a restart picks up from there.

    state = SearchState.restore(read_transcript(path), read=researcher_reads_predictions)
    transcript.append("event", **Scored(...).event())      # after every evaluation

Every evaluation (one candidate on one seed) is recorded as one ``scored`` event:

    {"kind": "event", "event": "scored", "key": "<config hash>", "method": "confident",
     "options": {"keep_fraction": 0.3}, "seed": 1, "source": "grid",
     "status": "submitted" | "near-copy" | "failed",
     "pgr": 0.42 | null,           # public PGR as the hub answered (null: failed run, or NaN)
     "scoring": 17 | null,         # the hub's scoring id, when submitted
     "copy_of": 12 | null,         # near-copy: the scoring whose score it reuses
     "path": "runs/confident-....-seed1.json",     # the predictions, in the workspace
     "snapshot": "s_..." | null}   # the snapshot named by the submission

Restoring also reads the researcher's successful ``tool`` lines, which the toolbox records
as they return: ``run_method`` (which prediction files exist, so a run is not repeated),
``submit_predictions`` (every submission the hub accepted: the count against the budget and
the predictions, reread from the workspace, so that a submission whose ``scored`` event was
lost in a crash is recognised as a copy instead of being sent again) and ``share_snapshot``
(the newest snapshot, the parent of the next).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from aar.researchers.tools.library import prediction_file

SCORED = re.compile(r"scoring #(?P<id>\d+): .* public PGR (?P<pgr>-?[\d.]+|nan)")
SHARED = re.compile(r"^snapshot (?P<id>[A-Za-z0-9_.-]+) \(")

Status = Literal["submitted", "near-copy", "failed"]
Reader = Callable[[str], np.ndarray | None]
"""Rereads a prediction file of the workspace; None when it is gone or unreadable."""


@dataclass(frozen=True)
class Scored:
    """One candidate evaluated on one seed: the ``scored`` transcript event."""

    key: str
    method: str
    options: dict[str, Any]
    seed: int
    source: str
    status: Status
    pgr: float
    path: str
    scoring: int | None = None
    copy_of: int | None = None
    snapshot: str | None = None

    def event(self) -> dict[str, Any]:
        """The event's fields; NaN is written as null (the file stays strict JSON)."""
        pgr = None if math.isnan(self.pgr) else self.pgr
        return {"event": "scored", **asdict(self), "pgr": pgr}

    @classmethod
    def from_step(cls, step: dict[str, Any]) -> Scored:
        fields: dict[str, Any] = {name: step.get(name) for name in cls.__dataclass_fields__}
        pgr = step.get("pgr")
        return cls(**fields | {"pgr": math.nan if pgr is None else float(pgr)})


@dataclass(frozen=True)
class Submitted:
    predictions: np.ndarray
    pgr: float
    scoring: int


@dataclass
class SearchState:
    by_key: dict[str, list[float]] = field(default_factory=dict)
    """Public PGR per candidate key, one per seed in seed order (NaN: failed or unscored)."""
    submitted: list[Submitted] = field(default_factory=list)
    snapshots: dict[str, str] = field(default_factory=dict)
    """The snapshot (with reproduce.json) shared for each candidate key that was submitted."""
    scorings: dict[str, list[int]] = field(default_factory=dict)
    """The hub's scoring ids per candidate key (its own submissions, not reused scores)."""
    ran: set[str] = field(default_factory=set)
    """Prediction files run_method wrote."""
    first_pgr: float | None = None
    submissions: int = 0
    last_snapshot: str | None = None
    evaluations: int = 0
    missing: list[str] = field(default_factory=list)
    """Prediction files of earlier submissions that could not be reread at a restart."""

    def mean(self, key: str) -> float:
        values = [v for v in self.by_key.get(key, []) if not math.isnan(v)]
        return float(np.mean(values)) if values else -math.inf

    def add(self, scored: Scored) -> None:
        self.by_key.setdefault(scored.key, []).append(scored.pgr)
        self.evaluations += 1
        if self.first_pgr is None and scored.status != "failed":
            self.first_pgr = scored.pgr
        if scored.snapshot is not None:
            self.snapshots[scored.key] = scored.snapshot
        if scored.scoring is not None:
            self.scorings.setdefault(scored.key, []).append(scored.scoring)

    def best_submitted(self) -> int | None:
        """The newest scoring of the submitted candidate with the best mean public PGR (over
        every seed, reused near-copy scores included); None when nothing was submitted."""
        if not self.scorings:
            return None
        key = max(self.scorings, key=self.mean)
        return self.scorings[key][-1]

    @classmethod
    def restore(cls, steps: list[dict[str, Any]], read: Reader) -> SearchState:
        """The state after the earlier steps of a transcript (empty for a new one)."""
        state = cls()
        for step in steps:
            if step.get("kind") == "event" and step.get("event") == "scored":
                state.add(Scored.from_step(step))
            elif step.get("kind") == "tool" and not step.get("is_error"):
                state._replay_tool(step, read)
        return state

    def resume_event(self) -> dict[str, Any]:
        """The ``resume`` event: what a restart restored."""
        scores = {k: [None if math.isnan(v) else v for v in vs] for k, vs in self.by_key.items()}
        return {
            "event": "resume", "evaluations": self.evaluations, "scores": scores,
            "submissions": self.submissions, "snapshots": self.snapshots,
            "first_pgr": self.first_pgr, "reusable_runs": len(self.ran),
            "missing": self.missing,
        }  # fmt: skip

    def _replay_tool(self, step: dict[str, Any], read: Reader) -> None:
        arguments, result = step.get("arguments") or {}, str(step.get("result", ""))
        if step.get("name") == "run_method":
            for seed in arguments.get("seeds", [0]):
                options = arguments.get("options", {})
                self.ran.add(prediction_file(arguments["method"], options, seed))
        elif step.get("name") == "submit_predictions" and (found := SCORED.search(result)):
            self.submissions += 1
            predictions = read(arguments["path"])
            if predictions is None:
                self.missing.append(arguments["path"])
            else:
                self.submitted.append(Submitted(predictions, float(found["pgr"]), int(found["id"])))
        elif step.get("name") == "share_snapshot" and (found := SHARED.search(result)):
            self.last_snapshot = found["id"]
