"""prediction_log.kind: what produced a row — ``predict`` (the API's by-id scoring), ``what_if``
(``/predict_features``: records as given, not served traffic) or ``backfill`` (monitoring's
replay of past cutoffs)

Monitoring reads ``predict`` and ``backfill`` rows only. Existing rows are classified by what
they are known by: no customer id is a what-if call, the backfill's request-id prefix a backfill.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 07:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

BACKFILL_PREFIX = "backfill-"  # frozen here: tasks.monitoring.backfill.BACKFILL_PREFIX


def upgrade() -> None:
    with op.batch_alter_table("prediction_log") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(16), nullable=False, server_default="predict")
        )
    op.execute("UPDATE prediction_log SET kind = 'what_if' WHERE customer_id IS NULL")
    op.execute(f"UPDATE prediction_log SET kind = 'backfill' WHERE request_id LIKE '{BACKFILL_PREFIX}%'")


def downgrade() -> None:
    with op.batch_alter_table("prediction_log") as batch:
        batch.drop_column("kind")
