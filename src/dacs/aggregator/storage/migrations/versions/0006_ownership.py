"""Ownership of congestion points: leases with an epoch, the running instances, commands' epoch.

Revision ID: 0006_ownership
Revises: 0001
Create Date: 2026-12-07 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
import sqlalchemy as sa

revision: str = "0006_ownership"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "point_leases",
        sa.Column("congestion_point_id", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=True),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["congestion_point_id"], ["congestion_points.id"]),
        sa.PrimaryKeyConstraint("congestion_point_id"),
    )
    op.create_table(
        "aggregator_instances",
        sa.Column("instance_id", sa.String(length=128), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("instance_id"),
    )
    with op.batch_alter_table("commands") as batch:
        batch.add_column(sa.Column("epoch", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    """Undo this revision."""
    with op.batch_alter_table("commands") as batch:
        batch.drop_column("epoch")
    op.drop_table("aggregator_instances")
    op.drop_table("point_leases")
