"""What a campaign has done so far, kept in ``state.json`` so ``aar run --resume`` can go on.

    state = CampaignState.load_or_new(layout.state)
    state.researchers["r01"].restarts += 1
    state.incident("restart", "r01", "exit code -9")
    state.save(layout.state)                 # atomic: a crash leaves the old or the new file

The file holds researcher tokens and the tasks' secret options (the seeds that rebuild the
sealed set), so it is written with mode 0600; no sandbox mounts the campaign's root.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from aar.core.errors import DataError

CampaignStatus = Literal["created", "running", "stopped", "researched", "finished"]
ResearcherStatus = Literal["pending", "running", "finished", "failed", "stopped"]


def now() -> datetime:
    return datetime.now(UTC)


class ResearcherState(BaseModel):
    name: str
    token: str
    direction: str | None = None
    group: int | None = Field(None, description="its researcher group (None: [researchers])")
    status: ResearcherStatus = "pending"
    reason: str | None = None
    restarts: int = 0
    seconds: float = Field(0.0, description="wall seconds it has run, over all its runs")
    pid: int | None = Field(None, description="its process while running (local executor)")


class Incident(BaseModel):
    at: datetime
    kind: str
    researcher: str | None = None
    detail: str = ""


class CampaignState(BaseModel):
    version: int = 1
    status: CampaignStatus = "created"
    created_at: datetime = Field(default_factory=now)
    ended_at: datetime | None = None
    research_seconds: float = Field(0.0, description="research-phase wall time used so far")
    published: bool = False
    researchers: dict[str, ResearcherState] = Field(default_factory=dict)
    incidents: list[Incident] = Field(default_factory=list)
    overhead: dict[str, float] = Field(
        default_factory=dict, description="the supervisor's own cost in its last run"
    )
    hub_url: str | None = Field(None, description="where the campaign's hub answered last")
    secret_options: dict[str, dict[str, int]] = Field(
        default_factory=dict,
        description="task (or hub name) → the secret option values it was published with",
    )

    @classmethod
    def load_or_new(cls, path: Path) -> CampaignState:
        if not path.exists():
            return cls()
        try:
            return cls.model_validate_json(path.read_text())
        except (ValidationError, ValueError) as err:
            raise DataError(f"{path} is damaged: {err}") from None

    def save(self, path: Path) -> None:
        temporary = path.with_suffix(".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(self.model_dump_json(indent=1))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)

    def incident(self, kind: str, researcher: str | None, detail: str) -> None:
        self.incidents.append(Incident(at=now(), kind=kind, researcher=researcher, detail=detail))

    def next_name(self) -> str:
        number = len(self.researchers) + 1
        while f"r{number:02d}" in self.researchers:
            number += 1
        return f"r{number:02d}"

    def active(self) -> list[ResearcherState]:
        return [r for r in self.researchers.values() if r.status in ("pending", "running")]
