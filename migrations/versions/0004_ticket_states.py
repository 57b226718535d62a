"""ticket_states: every state a ticket was exported in, so features see priority and category
as they were at a cutoff (``tickets`` keeps only the newest state)

Existing tickets are backfilled with their current state, the only one known.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 21:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_COLUMNS = (
    "ticket_id, updated_at, customer_id, created_at, status, category, priority, resolved_at, "
    "satisfaction, run_id"
)


def upgrade() -> None:
    op.create_table(
        "ticket_states",
        sa.Column("ticket_id", sa.String(64), primary_key=True),
        sa.Column("updated_at", sa.DateTime(), primary_key=True),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.Column("satisfaction", sa.Integer(), nullable=True),
        sa.Column("run_id", sa.String(36), nullable=False),
    )
    op.execute(f"INSERT INTO ticket_states ({_COLUMNS}) SELECT {_COLUMNS} FROM tickets")


def downgrade() -> None:
    op.drop_table("ticket_states")
