"""An index for budget checks: a researcher's scorings in the last hour.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_scorings_account_created", "scorings", ["account_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_scorings_account_created", "scorings")
