"""declared sources' runs and quarantined rows are marked ``declared:<name>`` (was ``spec:<name>``)

One name for the concept: the ``source`` of a declared source's ``ingestion_runs`` and
``quarantine`` rows. The columns widen from 32 to 64 characters so that ``declared:`` and a
24-character source name fit.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 06:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_TABLES = ("ingestion_runs", "quarantine")


def _rename(old: str, new: str) -> None:
    for table in _TABLES:
        op.execute(
            f"UPDATE {table} SET source = '{new}' || substr(source, {len(old) + 1})"
            f" WHERE source LIKE '{old}%'"
        )


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(
                "source", existing_type=sa.String(32), type_=sa.String(64), existing_nullable=False
            )
    _rename("spec:", "declared:")


def downgrade() -> None:
    _rename("declared:", "spec:")
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(
                "source", existing_type=sa.String(64), type_=sa.String(32), existing_nullable=False
            )
