"""declared sources (source specs): snapshots, events, subscriptions and their online store

Generic tables keyed by ``source`` (the spec's name), so declaring a new source needs no
migration: snapshot attributes are one JSON document per row, events are long-format.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 21:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "source_snapshots",
        sa.Column("id", _BIGID, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("snapshot_at", sa.DateTime(), nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("label", sa.Integer(), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_source_snapshots"),
        sa.UniqueConstraint(
            "source", "snapshot_at", "customer_id", name="uq_source_snapshots_source_snapshot_id"
        ),
    )
    op.create_index(
        "ix_source_snapshots_source_customer_snapshot",
        "source_snapshots",
        ["source", "customer_id", "snapshot_at"],
    )
    op.create_table(
        "source_events",
        sa.Column("id", _BIGID, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("event_time", sa.DateTime(), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_source_events"),
    )
    op.create_index(
        "ix_source_events_customer_time_type_value",
        "source_events",
        ["customer_id", "event_time", "event_type", "value"],
    )
    op.create_index("ix_source_events_source", "source_events", ["source"])
    op.create_table(
        "source_subscriptions",
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.PrimaryKeyConstraint(
            "source", "customer_id", "started_at", name="pk_source_subscriptions"
        ),
    )
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
    op.create_table(
        "source_schemas",
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("contract", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("source", name="pk_source_schemas"),
    )


def downgrade() -> None:
    op.drop_table("source_schemas")
    op.drop_table("source_online_features")
    op.drop_table("source_subscriptions")
    op.drop_index("ix_source_events_source", table_name="source_events")
    op.drop_index("ix_source_events_customer_time_type_value", table_name="source_events")
    op.drop_table("source_events")
    op.drop_index("ix_source_snapshots_source_customer_snapshot", table_name="source_snapshots")
    op.drop_table("source_snapshots")
