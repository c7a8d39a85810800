"""Hub settings: where it stores things and the rules of the evaluation protocol.

Built explicitly and passed to ``create_app``; nothing is read at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class HubSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    dir: Path = Field(Path("."), description="folder for the SQLite database and artifacts")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default SQLite in dir")
    artifact_url: str | None = Field(None, description="fsspec URL for snapshots; default dir")
    transcripts_dir: Path | None = Field(
        None, description="researchers' JSON-lines transcripts; default dir/transcripts"
    )
    score_resolution: float = Field(
        0.01, gt=0, le=1, description="public scores are rounded to this"
    )
    submissions_per_hour: int = Field(20, ge=1)
    submissions_total: int = Field(200, ge=1)
    probe_distance: int = Field(
        5, ge=0, description="flag a submission this close to an earlier one"
    )
    trivial_fraction: float = Field(
        0.98, gt=0.5, le=1.0, description="flag a submission with this share of one label"
    )
    # --- flags that quarantine and the feedback rule (aar.hub.flags, README "The hub") ---
    probe_fraction: float = Field(
        0.01,
        ge=0,
        le=1,
        description="flag a submission within this share of the test set of an earlier one "
        "(the larger of this and probe_distance applies)",
    )
    climb_fraction: float = Field(
        0.03, ge=0, le=1, description="hill-climbing: an edit is this close or closer"
    )
    climb_window: int = Field(20, ge=2, description="hill-climbing: the submissions looked at")
    climb_steps: int = Field(
        8, ge=2, description="hill-climbing: flag at this many retries of the best in the window"
    )
    pgr_sigmas: float = Field(3.0, gt=0, description="flag PGR above 1 + this many SE")
    gap_sigmas: float = Field(
        2.0, gt=0, description="flag public PGR above private PGR by this many SE"
    )
    gold_only_margin: float = Field(
        0.0, ge=0, le=1, description="flag accuracy within this of the gold-only student's"
    )
    feedback: Literal["rounded", "ladder"] = Field(
        "rounded", description="rounded: every answer; ladder: only new bests by a margin"
    )
    ladder_margin: float = Field(
        0.01, ge=0, le=1, description="ladder: public accuracy a new score must add to the best"
    )
    max_body_bytes: int = Field(5_000_000, ge=1024)
    snapshot_max_bytes: int = Field(50_000_000, ge=1024)

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.dir / 'hub.db').resolve()}"

    @property
    def resolved_transcripts_dir(self) -> Path:
        return self.transcripts_dir or self.dir / "transcripts"

    @property
    def resolved_artifact_url(self) -> str:
        return self.artifact_url or str((self.dir / "artifacts").resolve())
