"""Accounts, tasks with their secrets, baselines, scorings and the append-only audit log.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
APPEND_ONLY_SQLITE = """
CREATE TRIGGER audit_no_{what} BEFORE {what} ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END
"""
APPEND_ONLY_PG = """
CREATE FUNCTION audit_append_only() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$ LANGUAGE plpgsql;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit
FOR EACH ROW EXECUTE FUNCTION audit_append_only();
"""


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True, index=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("per_hour", sa.Integer, nullable=True),
        sa.Column("total", sa.Integer, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("n_classes", sa.Integer, nullable=False),
        sa.Column("n_test", sa.Integer, nullable=False),
        sa.Column("n_pool", sa.Integer, nullable=False),
        sa.Column("n_public", sa.Integer, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "task_secrets",
        sa.Column("task_id", sa.Integer, sa.ForeignKey("tasks.id"), primary_key=True),
        sa.Column("test_labels", sa.LargeBinary, nullable=False),
        sa.Column("pool_labels", sa.LargeBinary, nullable=False),
        sa.Column("public_mask", sa.LargeBinary, nullable=False),
        sa.Column("split_seed", sa.Integer, nullable=False),
    )
    op.create_table(
        "baselines",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("task_id", sa.Integer, sa.ForeignKey("tasks.id"), nullable=False, index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("seed", sa.Integer, nullable=False),
        sa.Column("public_acc", sa.Float, nullable=False),
        sa.Column("private_acc", sa.Float, nullable=False),
        sa.UniqueConstraint("task_id", "kind", "seed"),
    )
    op.create_table(
        "scorings",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("task_id", sa.Integer, sa.ForeignKey("tasks.id"), nullable=False, index=True),
        sa.Column(
            "account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False, index=True
        ),
        sa.Column("method", sa.String(128), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("seed", sa.Integer, nullable=False),
        sa.Column("snapshot_id", sa.String(64), nullable=True),
        sa.Column("predictions", sa.LargeBinary, nullable=False),
        sa.Column("public_acc", sa.Float, nullable=False),
        sa.Column("private_acc", sa.Float, nullable=False),
        sa.Column("public_pgr", sa.Float, nullable=False),
        sa.Column("private_pgr", sa.Float, nullable=False),
        sa.Column("flagged", sa.Boolean, nullable=False),
        sa.Column("flag_reason", sa.Text, nullable=True),
        sa.Column("created_at", TZ, nullable=False, index=True),
    )
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", TZ, nullable=False, index=True),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("action", sa.String(256), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("duration_ms", sa.Float, nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_ONLY_PG)
    else:
        for what in ("UPDATE", "DELETE"):
            op.execute(APPEND_ONLY_SQLITE.format(what=what))


def downgrade() -> None:
    for table in ("audit", "scorings", "baselines", "task_secrets", "tasks", "accounts"):
        op.drop_table(table)
