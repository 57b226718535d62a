"""one online store: ``online_features`` keyed by (view, customer_id); ``source_online_features``
folded into it and dropped

A declared source's rows keep their source name as their view. The built-in catalog is
materialized in one pass and keyed by the names of its views, ``crm+billing+helpdesk``
(``tasks.features.definitions.BUILTIN_VIEW``): every existing row of ``online_features`` was
written by it. The downgrade moves the declared sources' rows back to their own table.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

BUILTIN_VIEW = "crm+billing+helpdesk"  # frozen here: a migration never imports today's code
_VALUES = "customer_id, as_of, definitions_hash, features, materialized_at"


def upgrade() -> None:
    with op.batch_alter_table("online_features", recreate="always") as batch:
        batch.add_column(
            sa.Column(
                "view", sa.String(64), nullable=False, server_default=sa.text(f"'{BUILTIN_VIEW}'")
            ),
            insert_before="customer_id",
        )
        batch.drop_constraint("pk_online_features", type_="primary")
        batch.create_primary_key("pk_online_features", ["view", "customer_id"])
    with op.batch_alter_table("online_features") as batch:
        batch.alter_column("view", existing_type=sa.String(64), server_default=None)
    op.execute(
        f"INSERT INTO online_features (view, {_VALUES}) "
        f"SELECT source, {_VALUES} FROM source_online_features"
    )
    op.drop_table("source_online_features")


def downgrade() -> None:
    op.create_table(
        "source_online_features",
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("as_of", sa.DateTime(), nullable=False),
        sa.Column("definitions_hash", sa.String(64), nullable=False),
        sa.Column("features", sa.Text(), nullable=False),
        sa.Column("materialized_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("source", "customer_id", name="pk_source_online_features"),
    )
    builtin = f"view = '{BUILTIN_VIEW}'"
    op.execute(
        f"INSERT INTO source_online_features (source, {_VALUES}) "
        f"SELECT view, {_VALUES} FROM online_features WHERE NOT ({builtin})"
    )
    op.execute(f"DELETE FROM online_features WHERE NOT ({builtin})")
    with op.batch_alter_table("online_features", recreate="always") as batch:
        batch.drop_constraint("pk_online_features", type_="primary")
        batch.create_primary_key("pk_online_features", ["customer_id"])
        batch.drop_column("view")
