"""API schemas, named by role: ``...Create`` is what a client sends, ``...Public`` what a
researcher may see, ``...Operator`` what only the operator sees.

No schema here has a field for test or pool labels except ``TaskCreate``, which is input
only; a test walks the OpenAPI document to prove no response can carry them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints, computed_field

Name = str
BIG = 10**9
Count = Annotated[int, Field(ge=1, le=BIG)]
Seed = Annotated[int, Field(ge=0, le=2**31 - 1)]
Label = Annotated[StrictInt, Field(ge=-(2**31), le=2**31 - 1)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- accounts ------------------------------------------------------------------------------


Dollars = Annotated[float, Field(ge=0, le=1e9, allow_inf_nan=False)]
Tokens = Annotated[int, Field(ge=0, le=10**15)]


class AccountCreate(_In):
    name: Name = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    per_hour: Count | None = None
    total: Count | None = None
    model_dollars: Dollars | None = Field(None, description="model spend limit (gateway)")
    model_tokens: Tokens | None = Field(None, description="model token limit (gateway)")


class AccountUpdate(_In):
    """What the operator changes; a field left out (or null) stays as it is.

    ``add_total`` extends the total budget (a negative number cuts it); it cannot be sent
    with ``total``. A total below the submissions already used is refused.
    """

    status: Literal["active", "paused", "stopped"] | None = None
    per_hour: Count | None = None
    total: Count | None = None
    add_total: Annotated[int, Field(ge=-BIG, le=BIG)] | None = Field(
        None, description="add this to the total budget (negative: cut it)"
    )
    model_dollars: Dollars | None = Field(None, description="model spend limit (gateway)")
    model_tokens: Tokens | None = Field(None, description="model token limit (gateway)")


class AccountCreated(_Out):
    name: str
    role: str
    token: str = Field(description="shown once; the hub keeps only its hash")


class BudgetPublic(_Out):
    per_hour: int
    total: int
    used_this_hour: int
    used_total: int


class AccountPublic(_Out):
    name: str
    role: str
    status: str
    created_at: datetime


class ModelSpend(_Out):
    """Model use through the hub's gateway, and the limits it stops at (None: none)."""

    dollars: float
    tokens: int
    calls: int
    dollar_limit: float | None = None
    token_limit: int | None = None


class GatewayUpstream(_Out):
    """One upstream of the hub's gateway, as an operator (or a campaign) chooses between them."""

    name: str
    api: str
    models: list[str]
    """Model names or globs researchers may call through it."""
    holds_key: bool
    """The hub has its key (or it needs none)."""


class ModelCallPublic(_Out):
    id: int
    researcher: str
    at: datetime
    upstream: str
    path: str
    model: str
    stream: bool
    status: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: float
    metered: str
    duration_ms: float
    first_byte_ms: float | None
    error: str | None


class ModelCallDetail(ModelCallPublic):
    request: Any = Field(None, description="the request body as sent (JSON)")
    response: Any = Field(None, description="the response: JSON, or a stream's SSE text")


class AccountOperator(AccountPublic):
    budget: BudgetPublic
    model: ModelSpend | None = None
    flagged: int
    last_seen: datetime | None


# --- tasks ---------------------------------------------------------------------------------


class TaskCreate(_In):
    """Operator input. Labels go into the hub's secret store and never come back out."""

    name: Name = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    description: str = Field("", max_length=10_000)
    n_classes: int = Field(2, ge=2, le=255)
    test_labels: list[Label] = Field(min_length=2)
    pool_labels: list[Label] = Field(default_factory=list)
    public_fraction: float = Field(0.5, gt=0, lt=1)
    split_seed: Seed = 0
    weak: dict[Seed, list[Label]] = Field(description="seed → weak teacher's test predictions")
    ceiling: dict[Seed, list[Label]] = Field(description="seed → ceiling's test predictions")
    sealed: bool = Field(
        False, description="invisible to researchers; only the operator's evaluate scores it"
    )
    gold_only: dict[Seed, list[Label]] = Field(
        default_factory=dict,
        description="seed → test predictions of a student trained on the labeled set's gold "
        "labels only; results at or above it are flagged",
    )


class TaskPublic(_Out):
    name: str
    description: str
    n_classes: int
    n_test: int
    n_pool: int
    weak_public: float = Field(description="mean weak accuracy on the public half (rounded)")
    ceiling_public: float = Field(description="mean ceiling accuracy on the public half (rounded)")
    gold_only_public: float | None = Field(
        None,
        description="mean public-half accuracy of the student trained on the labeled set's "
        "gold labels only (rounded); None when the task has none",
    )
    sealed: bool = Field(False, description="only the operator ever sees a sealed task")


# --- submissions ---------------------------------------------------------------------------


class SubmissionCreate(_In):
    predictions: list[Label] = Field(description="one predicted label per test item")
    method: str = Field(min_length=1, max_length=128)
    description: str = Field("", max_length=10_000)
    seed: Seed = 0
    snapshot_id: str | None = Field(None, max_length=64)


class EvaluationCreate(_In):
    predictions: list[Label] = Field(description="one predicted label per test item")
    seed: Seed | None = Field(
        None, description="score against this seed's weak and ceiling (default: their means)"
    )


class EvaluationOperator(_Out):
    """Exact scores of an operator's evaluation (nothing is stored or rounded)."""

    public_accuracy: float
    private_accuracy: float
    public_pgr: float
    private_pgr: float
    accuracy: float = Field(description="on the whole test set")
    pgr: float = Field(description="on the whole test set")


class SubmissionPublic(_Out):
    id: int
    task: str
    method: str
    seed: int
    public_accuracy: float = Field(description="rounded to the hub's resolution")
    public_pgr: float = Field(
        description="computed from the rounded public accuracy and the task's published "
        "(rounded) weak and ceiling, then rounded to the hub's resolution"
    )
    released: bool = Field(
        True,
        description="False under the Ladder rule when this score did not beat your best "
        "released one by the margin: the two scores above then repeat that best",
    )
    created_at: datetime
    budget: BudgetPublic


class ScoringOperator(_Out):
    id: int
    task: str
    researcher: str
    method: str
    description: str
    seed: int
    snapshot_id: str | None
    public_accuracy: float
    private_accuracy: float
    public_pgr: float
    private_pgr: float
    flagged: bool
    flag_reason: str | None
    quarantined: bool = Field(description="out of the leaderboards and the ranking")
    cleared_by: str | None = Field(description="the operator who lifted the quarantine")
    cleared_at: datetime | None
    clear_reason: str | None
    created_at: datetime


class ScoringDetailOperator(ScoringOperator):
    predictions: list[int]


class ClearCreate(_In):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class FinalCreate(_In):
    scoring_id: StrictInt = Field(description="one of your scorings on this task")


class FinalPublic(_Out):
    """The result a researcher declared final: the ranking takes its group."""

    task: str
    scoring_id: int
    method: str
    snapshot_id: str | None
    declared_at: datetime


# --- leaderboard ---------------------------------------------------------------------------


class Score(_Out):
    mean: float
    se: float | None
    n: int


class LeaderboardRowPublic(_Out):
    researcher: str
    method: str
    snapshot_id: str | None
    public_pgr: Score
    last_at: datetime


class LeaderboardRowOperator(LeaderboardRowPublic):
    private_pgr: Score
    flagged: int = Field(description="how many of the row's scorings carry a (cleared) flag")


class RankingRowOperator(_Out):
    """A researcher's entry in the final ranking: one leaderboard group, chosen by the
    researcher's declared final or else by public PGR, never by private PGR."""

    researcher: str
    method: str
    snapshot_id: str | None
    public_pgr: Score
    private_pgr: Score
    chosen_by: Literal["final", "public"]
    final_scoring_id: int | None = Field(description="the declared final, if any")
    private_noise: float = Field(
        0.0,
        description="binomial SE of one scoring's private PGR at the group's mean accuracy: "
        "the noise of a claim made of a single scoring",
    )


# --- snapshots -------------------------------------------------------------------------------


class SnapshotPublic(_Out):
    """A snapshot's metadata; the archive itself is at ``/snapshots/{id}/archive``."""

    id: str
    sha256: str = Field(description="sha256 of the tar.gz, its address in the artifact store")
    size: int = Field(description="bytes of the tar.gz")
    parent_id: str | None
    note: str
    author: str
    created_at: datetime


class SnapshotOperator(SnapshotPublic):
    """What the operator sees of a snapshot: also the upload scan's verdict."""

    flag_reason: str | None = Field(
        description="why the upload scan flagged it (oracle imports, literal tables); None if clean"
    )


# --- audit ---------------------------------------------------------------------------------


class ToolCallCreate(_In):
    tool: str = Field(min_length=1, max_length=128)
    arguments: dict[str, Any] = Field(default_factory=dict)
    result_summary: str = Field("", max_length=10_000)
    tokens: int = Field(0, ge=0, le=10**15)
    wall_ms: float = Field(0.0, ge=0, le=1e12)


class AuditEntryOperator(_Out):
    id: int
    at: datetime
    actor: str
    kind: str
    action: str
    status: int
    duration_ms: float
    detail: dict[str, Any]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def claimed_by(self) -> str | None:
        """The account that wrote this row itself (``POST /audit/tool-calls``): its claim of
        what it did, not the hub's record of a request."""
        return self.actor if self.detail.get("claimed") is True else None


class Problem(BaseModel):
    """Every error answer: what went wrong, in one sentence."""

    detail: str
