"""covering index on transactions for feature aggregation

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 14:10:00
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_transactions_customer_id_occurred_at", table_name="transactions")
    op.create_index(
        "ix_transactions_customer_time_type_amount",
        "transactions",
        ["customer_id", "occurred_at", "txn_type", "amount"],
    )


def downgrade() -> None:
    op.drop_index("ix_transactions_customer_time_type_amount", table_name="transactions")
    op.create_index(
        "ix_transactions_customer_id_occurred_at", "transactions", ["customer_id", "occurred_at"]
    )
