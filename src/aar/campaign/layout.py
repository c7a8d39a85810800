"""Where a campaign keeps things: one folder, fixed names, nothing else written elsewhere.

layout = CampaignLayout(Path("campaigns/first"))
layout.workspace("r01"), layout.transcript("r01"), layout.bundle("geofacts")

campaign.toml       the config it was started with      state.json   what has happened
hub/                the hub's database, artifacts, operator token, pid
hub.sock            the hub's Unix socket (bound into every sandbox)
public/TASK/        the task's public bundle (read-only in the sandboxes)
workspaces/NAME/    each researcher's writable workspace
transcripts/NAME.jsonl, logs/NAME.log
verify/             clean workspaces of end-of-campaign re-runs
report/             index.html, PNG plots, summary.json
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SOCKET_PATH_MAX = 100
"""Unix socket paths are limited to 108 bytes on Linux; keep a margin."""


@dataclass(frozen=True)
class CampaignLayout:
    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", self.root.resolve())

    @property
    def config(self) -> Path:
        return self.root / "campaign.toml"

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    @property
    def hub(self) -> Path:
        return self.root / "hub"

    @property
    def socket(self) -> Path:
        return self.root / "hub.sock"

    @property
    def transcripts(self) -> Path:
        return self.root / "transcripts"

    @property
    def report(self) -> Path:
        return self.root / "report"

    @property
    def verify(self) -> Path:
        return self.root / "verify"

    def bundle(self, task: str) -> Path:
        return self.root / "public" / task

    def workspace(self, name: str) -> Path:
        return self.root / "workspaces" / name

    def transcript(self, name: str) -> Path:
        return self.transcripts / f"{name}.jsonl"

    def log(self, name: str) -> Path:
        return self.root / "logs" / f"{name}.log"

    def create(self) -> None:
        for folder in (self.hub, self.transcripts, self.root / "logs"):
            folder.mkdir(parents=True, exist_ok=True)

    def socket_fits(self) -> bool:
        return len(str(self.socket).encode()) <= SOCKET_PATH_MAX
