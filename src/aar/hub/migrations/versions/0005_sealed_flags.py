"""Sealed tasks, quarantined scorings, each scoring's nearest earlier one, released (Ladder)
scores and declared finals.

Scorings flagged before this revision are quarantined by it: from now on every flag
quarantines, and a flag raised earlier deserves the operator's look as much as a new one.

Revision ID: 0005
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column(
        "tasks", sa.Column("sealed", sa.Boolean, nullable=False, server_default=sa.false())
    )
    for column in (
        sa.Column("nearest_id", sa.Integer, nullable=True),
        sa.Column("nearest_flips", sa.Integer, nullable=True),
        sa.Column("quarantined", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("released", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("cleared_by", sa.String(64), nullable=True),
        sa.Column("cleared_at", TZ, nullable=True),
        sa.Column("clear_reason", sa.Text, nullable=True),
    ):
        op.add_column("scorings", column)
    op.execute(sa.text("UPDATE scorings SET quarantined = flagged"))
    op.create_table(
        "finals",
        sa.Column("task_id", sa.Integer, sa.ForeignKey("tasks.id"), primary_key=True),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), primary_key=True),
        sa.Column("scoring_id", sa.Integer, sa.ForeignKey("scorings.id"), nullable=False),
        sa.Column("declared_at", TZ, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("finals")
    with op.batch_alter_table("scorings") as batch:
        for name in (
            "clear_reason",
            "cleared_at",
            "cleared_by",
            "released",
            "quarantined",
            "nearest_flips",
            "nearest_id",
        ):
            batch.drop_column(name)
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("sealed")
