"""The campaign summary: everything the final report shows, as one typed JSON document.

The campaign collects a ``CampaignSummary`` from its hub and state at the end (or at any time,
for a running campaign), saves it beside the report and renders from it, so a report can be
rebuilt later from ``summary.json`` alone:

    summary = CampaignSummary(campaign=CampaignInfo(...), researchers=[...], scorings=[...])
    summary.save(out / "summary.json")
    same = CampaignSummary.load(out / "summary.json")

Every model is frozen and rejects unknown fields, so a typo in the collector fails loudly.
Datetimes without a timezone are read as UTC, so naive and aware timestamps compare.
``diversity_of`` derives the per-direction diversity rows from the scorings.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)

from aar.campaign.report._io import write_atomic
from aar.core.errors import DataError
from aar.core.pgr import estimate
from aar.core.records import parse_versioned

SCHEMA_VERSION = 2
UNASSIGNED = "(none)"
"""The direction of a researcher that was given none."""


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


Timestamp = Annotated[datetime, AfterValidator(_as_utc)]
CampaignStatus = Literal["finished", "stopped", "running", "failed"]
VerificationStatus = Literal["verified", "not reproduced", "failed", "no snapshot"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Score(_Model):
    """A mean with its standard error over ``n`` values (se is None when n < 2)."""

    mean: float
    se: float | None = None
    n: int = 1

    @classmethod
    def of(cls, values: Sequence[float]) -> Score:
        e = estimate(values)
        return cls(mean=e.mean, se=e.se, n=e.n)


class CampaignInfo(_Model):
    name: str
    dir: str
    task: str
    status: CampaignStatus
    started_at: Timestamp
    ended_at: Timestamp | None = None
    """None while the campaign is running."""
    wall_seconds: float
    config: dict[str, Any] = Field(default_factory=dict)
    """The resolved campaign configuration."""


class Researcher(_Model):
    name: str
    brain: str
    model: str | None = None
    direction: str | None = None
    status: str
    """finished, failed, stopped, running, ..."""
    reason: str | None = None
    """Why it stopped, when it did."""
    restarts: int = 0
    steps: int = 0
    dollars: float = 0.0
    tokens: int = 0
    metered: bool = False
    """Its dollars and tokens are the hub gateway's meter (False: its transcript's count)."""
    submissions: int = 0
    tool_calls: dict[str, int] = {}
    """Its tool calls per tool name, from its transcript."""
    tool_errors: int = 0
    compactions: int = 0
    """Times its context was compacted (LLM researchers)."""
    hours: float = 0.0
    """Wall hours it ran."""
    best_public_pgr: float | None = None
    entry_private_pgr: float | None = None
    """Private PGR of its ranked entry (chosen by public PGR or declared final; never the
    best of its private scores, which would select on the private half)."""


class Scoring(_Model):
    """One hub scoring of one submitted prediction vector."""

    id: int
    researcher: str
    method: str
    seed: int
    at: Timestamp
    public_pgr: float
    private_pgr: float
    flagged: bool = False
    flag_reason: str | None = None
    quarantined: bool = False
    snapshot_id: str | None = None
    description: str = ""


class Verification(_Model):
    """A snapshot re-run in a clean sandbox: on the original bundle (agreement with the
    submitted vector) and on the sealed set with fresh baselines per seed."""

    status: VerificationStatus
    sealed: Score | None = None
    """PGR on the sealed set, mean ± SE over the verification seeds."""
    agreement: float | None = None
    """Share of the submitted predictions the re-run reproduced (of the entry's least
    reproduced scoring, when its claim is made of several)."""
    seeds: list[int] = Field(default_factory=list)
    detail: str = ""


class LeaderboardRow(_Model):
    researcher: str
    method: str
    snapshot_id: str | None = None
    public: Score
    private: Score
    flagged: int = 0
    """How many of the row's scorings were flagged."""
    chosen_by: str = "public"
    """How the researcher's entry was chosen: "public" (best public PGR) or "final"."""
    verification: Verification | None = None


class Vanilla(_Model):
    """The vanilla method's reference PGR on the campaign's task."""

    public: Score
    private: Score


class HeldoutRow(_Model):
    """A leading method re-run on a task no researcher saw."""

    task: str
    researcher: str
    method: str
    snapshot_id: str | None = None
    pgr: Score
    vanilla: Score | None = None
    detail: str = ""


class Cost(_Model):
    """What the campaign spent; ``dollars_per_researcher_hour`` is derived when not given."""

    dollars: float = 0.0
    tokens: int = 0
    researcher_hours: float = 0.0
    dollars_per_researcher_hour: float = 0.0
    gpu_hours: float | None = None

    @model_validator(mode="before")
    @classmethod
    def _rate(cls, data: Any) -> Any:
        if isinstance(data, dict) and "dollars_per_researcher_hour" not in data:
            hours = float(data.get("researcher_hours", 0.0))
            rate = float(data.get("dollars", 0.0)) / hours if hours > 0 else 0.0
            data = {**data, "dollars_per_researcher_hour": rate}
        return data


class Flag(_Model):
    scoring_id: int
    researcher: str
    reason: str
    at: Timestamp


class Incident(_Model):
    at: Timestamp
    researcher: str | None = None
    kind: str
    """restart, failed, quarantine, budget, operator, ..."""
    detail: str = ""


class ForumPost(_Model):
    id: str
    kind: str
    title: str
    author: str
    at: Timestamp
    votes: int = 0
    quarantined: bool = False


class Diversity(_Model):
    """How widely the researchers of one research direction searched."""

    direction: str
    researchers: list[str]
    methods: int
    """Distinct methods submitted."""
    configs: int
    """Distinct (method, snapshot or description) pairs submitted."""
    entropy: float
    """Shannon entropy, in bits, of the direction's scorings over methods."""


class CampaignSummary(_Model):
    """Everything the report shows; ``leaderboard`` holds each researcher's ranked entry."""

    schema_version: int = SCHEMA_VERSION
    campaign: CampaignInfo
    researchers: list[Researcher] = Field(default_factory=list)
    scorings: list[Scoring] = Field(default_factory=list)
    leaderboard: list[LeaderboardRow] = Field(default_factory=list)
    vanilla: Vanilla | None = None
    sealed_vanilla: Score | None = None
    """Vanilla re-run by the campaign on the sealed set (the verification seeds)."""
    not_checked: str | None = None
    """Why the campaign verified no entry, when it could not."""
    heldout: list[HeldoutRow] = Field(default_factory=list)
    cost: Cost = Field(default_factory=Cost)
    flags: list[Flag] = Field(default_factory=list)
    incidents: list[Incident] = Field(default_factory=list)
    forum: list[ForumPost] = Field(default_factory=list)
    diversity: list[Diversity] = Field(default_factory=list)

    def ranking(self) -> list[LeaderboardRow]:
        """The final ranking, in tiers: entries verified on the sealed set, by sealed PGR;
        then entries not checked (beyond ``verify_top_k``), by private PGR; then entries
        without a snapshot (nothing to check); then claims whose re-run failed or did not
        reproduce them. Stable, whatever order they came in.

        A claim the checks refuted never outranks one they did not reach: else inflated
        claims could fill the ``verify_top_k`` places, fail, and still rank first by the
        private PGR they inflated (or skip the check by crashing or by sharing no code)."""
        return sorted(self.leaderboard, key=_rank_key)

    def save(self, path: Path) -> None:
        """Write JSON atomically: a reader never sees half a file, even after a crash."""
        write_atomic(path, (self.model_dump_json(indent=2) + "\n").encode("utf-8"))

    @classmethod
    def load(cls, path: Path) -> CampaignSummary:
        try:
            raw = path.read_text(encoding="utf-8")
        except OSError as err:
            raise DataError(f"{path}: cannot read summary ({err.strerror})") from None
        return cls.from_json(raw, source=str(path))

    @classmethod
    def from_json(cls, raw: str, source: str = "summary") -> CampaignSummary:
        return parse_versioned(cls, raw, source, "summary", SCHEMA_VERSION)


def _rank_key(row: LeaderboardRow) -> tuple[int, float]:
    """(tier, order within it): 0 verified, 1 not checked, 2 no snapshot, 3 failed or not
    reproduced (a "verified" without a sealed score counts as failed)."""
    check = row.verification
    if check is None:
        tier = 1
    elif check.status == "verified" and check.sealed is not None:
        return 0, -check.sealed.mean
    else:
        tier = 2 if check.status == "no snapshot" else 3
    private = row.private.mean
    return tier, -private if math.isfinite(private) else math.inf


def diversity_of(
    scorings: Sequence[Scoring], directions_by_researcher: Mapping[str, str | None]
) -> list[Diversity]:
    """One row per direction, sorted by name; researchers with no direction share ``(none)``.

    Every researcher in the mapping is listed under its direction, scorings or not; a scoring
    by a researcher missing from the mapping counts under ``(none)``.
    """
    members: dict[str, set[str]] = defaultdict(set)
    for name, direction in directions_by_researcher.items():
        members[direction or UNASSIGNED].add(name)
    by_direction: dict[str, list[Scoring]] = defaultdict(list)
    for s in scorings:
        direction = directions_by_researcher.get(s.researcher) or UNASSIGNED
        members[direction].add(s.researcher)
        by_direction[direction].append(s)
    return [_diversity_row(d, sorted(members[d]), by_direction[d]) for d in sorted(members)]


def _diversity_row(direction: str, researchers: list[str], scorings: list[Scoring]) -> Diversity:
    counts = Counter(s.method for s in scorings)
    # A snapshot pins the code exactly; without one the description is the only clue.
    configs = {(s.method, s.snapshot_id or s.description) for s in scorings}
    total = sum(counts.values())
    entropy = math.fsum(c / total * math.log2(total / c) for c in counts.values())
    return Diversity(
        direction=direction,
        researchers=researchers,
        methods=len(counts),
        configs=len(configs),
        entropy=entropy,
    )
