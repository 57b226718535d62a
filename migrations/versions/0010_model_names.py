"""model_name on prediction_log, monitoring_metrics and churn_scores' key; the spec of a source

Every capability runs for every registered model (``churn-model`` and a declared source's
``churn-<name>``), so each row says which model it belongs to. Rows written before this revision
were the built-in model's: the column's server default, ``churn-model``, labels them.
``churn_scores`` is keyed by model too (two models may score the same id at the same moment with
the same version number). ``source_schemas`` records the spec a declared source was ingested
from (resolved path and document), which leads ``churn-<name>`` back to its files on retrain.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_DEFAULT = sa.text("'churn-model'")
_SCORE_KEY = ["as_of", "model_version", "customer_id"]


def upgrade() -> None:
    with op.batch_alter_table("prediction_log") as batch:
        batch.add_column(
            sa.Column("model_name", sa.String(128), nullable=False, server_default=_DEFAULT)
        )
        batch.create_index(
            "ix_prediction_log_model_name_predicted_at", ["model_name", "predicted_at"]
        )
    with op.batch_alter_table("monitoring_metrics") as batch:
        batch.add_column(
            sa.Column("model_name", sa.String(128), nullable=False, server_default=_DEFAULT)
        )
    with op.batch_alter_table("churn_scores", recreate="always") as batch:
        batch.drop_constraint("pk_churn_scores", type_="primary")
        batch.create_primary_key("pk_churn_scores", ["model_name", *_SCORE_KEY])
    with op.batch_alter_table("source_schemas") as batch:
        batch.add_column(sa.Column("spec_path", sa.Text(), nullable=True))
        batch.add_column(sa.Column("spec", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("source_schemas") as batch:
        batch.drop_column("spec")
        batch.drop_column("spec_path")
    with op.batch_alter_table("churn_scores", recreate="always") as batch:
        batch.drop_constraint("pk_churn_scores", type_="primary")
        batch.create_primary_key("pk_churn_scores", _SCORE_KEY)
    with op.batch_alter_table("monitoring_metrics") as batch:
        batch.drop_column("model_name")
    with op.batch_alter_table("prediction_log") as batch:
        batch.drop_index("ix_prediction_log_model_name_predicted_at")
        batch.drop_column("model_name")
