"""The hub's database tables (SQLAlchemy 2 typed ORM).

Secrets have their own table (``TaskSecret``): labels and the public/private split are never
part of a row any endpoint serialises. Prediction vectors are stored as bytes (one uint8 per
item), which keeps scoring and probe detection vectorised.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    pass


class Account(Base):
    """The operator or a researcher; only the sha256 of the token is kept."""

    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # operator | researcher
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    status: Mapped[str] = mapped_column(String(16), default="active")
    per_hour: Mapped[int | None] = mapped_column(Integer, nullable=True)
    total: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # --- model calls through the gateway: limits (None: none) and running totals
    model_dollars: Mapped[float | None] = mapped_column(Float, nullable=True)
    model_tokens: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    spent_dollars: Mapped[float] = mapped_column(Float, default=0.0)
    spent_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    model_calls: Mapped[int] = mapped_column(Integer, default=0)


class Task(Base):
    __tablename__ = "tasks"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    n_classes: Mapped[int] = mapped_column(Integer)
    n_test: Mapped[int] = mapped_column(Integer)
    n_pool: Mapped[int] = mapped_column(Integer)
    n_public: Mapped[int] = mapped_column(Integer)
    sealed: Mapped[bool] = mapped_column(Boolean, default=False)
    """Researchers never see a sealed task; only the operator's evaluation scores it."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TaskSecret(Base):
    """Ground truth and the split; read only by the scoring code."""

    __tablename__ = "task_secrets"
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), primary_key=True)
    test_labels: Mapped[bytes] = mapped_column(LargeBinary)
    pool_labels: Mapped[bytes] = mapped_column(LargeBinary)
    public_mask: Mapped[bytes] = mapped_column(LargeBinary)
    split_seed: Mapped[int] = mapped_column(Integer)


class Baseline(Base):
    """A weak, ceiling or gold-only run's accuracy on each half of the test set, for one seed.

    ``gold_only`` is a student trained on the labeled set's gold labels only: a result at or
    above it is flagged (a cheater who simply trains on those labels lands there).
    """

    __tablename__ = "baselines"
    __table_args__ = (UniqueConstraint("task_id", "kind", "seed"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # weak | ceiling | gold_only
    seed: Mapped[int] = mapped_column(Integer)
    public_acc: Mapped[float] = mapped_column(Float)
    private_acc: Mapped[float] = mapped_column(Float)


class Scoring(Base):
    __tablename__ = "scorings"
    __table_args__ = (Index("ix_scorings_account_created", "account_id", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    method: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text, default="")
    seed: Mapped[int] = mapped_column(Integer)
    snapshot_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    predictions: Mapped[bytes] = mapped_column(LargeBinary)
    public_acc: Mapped[float] = mapped_column(Float)
    private_acc: Mapped[float] = mapped_column(Float)
    public_pgr: Mapped[float] = mapped_column(Float)
    private_pgr: Mapped[float] = mapped_column(Float)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    flag_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    nearest_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """The same researcher's earlier scoring on the task nearest to this one, when scored."""
    nearest_flips: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """How many predictions differ from it (the flags' view of this scoring's history)."""
    quarantined: Mapped[bool] = mapped_column(Boolean, default=False)
    """Out of the leaderboards and the ranking until the operator clears it (every flag)."""
    released: Mapped[bool] = mapped_column(Boolean, default=True)
    """Whether the answer released this scoring's own public score (always, unless the
    Ladder rule held it back); only released scores appear on the public leaderboard."""
    cleared_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    clear_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class Final(Base):
    """The scoring a researcher declared final on a task: the ranking takes its group."""

    __tablename__ = "finals"
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    scoring_id: Mapped[int] = mapped_column(ForeignKey("scorings.id"))
    declared_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Post(Base):
    __tablename__ = "posts"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("posts.id"), nullable=True)
    links: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    seq: Mapped[int] = mapped_column(Integer, index=True)
    quarantined: Mapped[bool] = mapped_column(Boolean, default=False)
    quarantine_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Vote(Base):
    __tablename__ = "votes"
    post_id: Mapped[str] = mapped_column(ForeignKey("posts.id"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)


class ForumChange(Base):
    """A global, increasing sequence: every forum change takes the next number (sync cursor)."""

    __tablename__ = "forum_changes"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    post_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Snapshot(Base):
    __tablename__ = "snapshots"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("snapshots.id"), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # why the upload scan flagged it (oracle imports, literal tables); None when clean
    flag_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class AuditEntry(Base):
    """Append-only: one row per request and per tool call a researcher reports."""

    __tablename__ = "audit"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # request | tool_call | rate_limited
    action: Mapped[str] = mapped_column(String(256))
    status: Mapped[int] = mapped_column(Integer)
    duration_ms: Mapped[float] = mapped_column(Float, default=0.0)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ModelCall(Base):
    """One call through the LLM gateway: who, which upstream and model, tokens and dollars.

    Refused calls (budget, auth, bad request) are rows too, with ``status`` and ``error``;
    their tokens and cost are zero. The bodies live in ``ModelCallPayload``.
    """

    __tablename__ = "model_calls"
    __table_args__ = (Index("ix_model_calls_account_id", "account_id", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    upstream: Mapped[str] = mapped_column(String(32))
    path: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(128), default="")
    stream: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[int] = mapped_column(Integer)
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cache_read_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cache_write_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    metered: Mapped[str] = mapped_column(String(16), default="reported")
    """reported (the upstream's usage), estimated (a stream cut before its usage) or none."""
    duration_ms: Mapped[float] = mapped_column(Float, default=0.0)
    first_byte_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class ModelCallPayload(Base):
    """A call's request and response bodies, gzip-compressed (streams as the SSE text)."""

    __tablename__ = "model_call_payloads"
    call_id: Mapped[int] = mapped_column(ForeignKey("model_calls.id"), primary_key=True)
    request_gz: Mapped[bytes] = mapped_column(LargeBinary)
    response_gz: Mapped[bytes] = mapped_column(LargeBinary)
