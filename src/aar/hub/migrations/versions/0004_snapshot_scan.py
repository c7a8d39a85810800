"""The snapshot scan's verdict: why an upload was flagged (oracle imports, literal tables).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("snapshots", sa.Column("flag_reason", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("snapshots") as table:  # SQLite rebuilds the table
        table.drop_column("flag_reason")
