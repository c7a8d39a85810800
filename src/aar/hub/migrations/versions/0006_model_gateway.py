"""The LLM gateway: model budgets and running totals on accounts, every call and its bodies.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
ACCOUNT_COLUMNS = ("model_dollars", "model_tokens", "spent_dollars", "spent_tokens", "model_calls")


def upgrade() -> None:
    for column in (
        sa.Column("model_dollars", sa.Float, nullable=True),
        sa.Column("model_tokens", sa.BigInteger, nullable=True),
        sa.Column("spent_dollars", sa.Float, nullable=False, server_default="0"),
        sa.Column("spent_tokens", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("model_calls", sa.Integer, nullable=False, server_default="0"),
    ):
        op.add_column("accounts", column)
    op.create_table(
        "model_calls",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("upstream", sa.String(32), nullable=False),
        sa.Column("path", sa.String(64), nullable=False),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("stream", sa.Boolean, nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        *(
            sa.Column(name, sa.Integer, nullable=False)
            for name in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
        ),
        sa.Column("cost_usd", sa.Float, nullable=False),
        sa.Column("metered", sa.String(16), nullable=False),
        sa.Column("duration_ms", sa.Float, nullable=False),
        sa.Column("first_byte_ms", sa.Float, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_index("ix_model_calls_account_id", "model_calls", ["account_id", "id"])
    op.create_index("ix_model_calls_at", "model_calls", ["at"])
    op.create_table(
        "model_call_payloads",
        sa.Column("call_id", sa.Integer, sa.ForeignKey("model_calls.id"), primary_key=True),
        sa.Column("request_gz", sa.LargeBinary, nullable=False),
        sa.Column("response_gz", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("model_call_payloads")
    op.drop_index("ix_model_calls_at", "model_calls")
    op.drop_index("ix_model_calls_account_id", "model_calls")
    op.drop_table("model_calls")
    with op.batch_alter_table("accounts") as batch:
        for name in reversed(ACCOUNT_COLUMNS):
            batch.drop_column(name)
