"""prediction_log.as_of: the time the served features describe

Monitoring joins predictions with cancellations in (as_of, as_of + horizon]; the wall-clock
``predicted_at`` is not the features' time when features are materialized in batches.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 21:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("prediction_log") as batch:
        batch.add_column(sa.Column("as_of", sa.DateTime(), nullable=True))
        batch.create_index("ix_prediction_log_as_of", ["as_of"])


def downgrade() -> None:
    with op.batch_alter_table("prediction_log") as batch:
        batch.drop_index("ix_prediction_log_as_of")
        batch.drop_column("as_of")
