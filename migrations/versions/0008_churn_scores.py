"""churn_scores: batch scores of every active customer for CRM campaigns

Revision ID: 0008
Revises: 0004
Create Date: 2026-11-30 21:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "churn_scores",
        sa.Column("as_of", sa.DateTime(), nullable=False),
        sa.Column("model_version", sa.String(32), nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("risk_band", sa.String(16), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("scored_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("as_of", "model_version", "customer_id", name="pk_churn_scores"),
    )
    op.create_index("ix_churn_scores_customer_id_as_of", "churn_scores", ["customer_id", "as_of"])


def downgrade() -> None:
    op.drop_index("ix_churn_scores_customer_id_as_of", table_name="churn_scores")
    op.drop_table("churn_scores")
