"""Homes remember their central broker: ``homes.broker_id``.

Revision ID: 0007_home_broker
Revises: 0001
Create Date: 2026-12-07 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
import sqlalchemy as sa

revision: str = "0007_home_broker"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("homes") as batch:
        batch.add_column(sa.Column("broker_id", sa.String(length=32), nullable=True))


def downgrade() -> None:
    """Undo this revision."""
    with op.batch_alter_table("homes") as batch:
        batch.drop_column("broker_id")
