"""Settlement: monthly statements per home.

Revision ID: 0002_settlement
Revises: 0001
Create Date: 2026-11-30 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
import sqlalchemy as sa

revision: str = "0002_settlement"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "settlement_statements",
        sa.Column("home_id", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("congestion_point_id", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_kwh", sa.Float(), nullable=False),
        sa.Column("price_eur_per_kwh", sa.Float(), nullable=False),
        sa.Column("earnings_eur", sa.Float(), nullable=False),
        sa.Column("extra_gas_m3", sa.Float(), nullable=False),
        sa.Column("gas_compensation_eur", sa.Float(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("final", sa.Boolean(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("home_id", "period"),
    )
    op.create_index(
        "ix_settlement_statements_congestion_point_id",
        "settlement_statements",
        ["congestion_point_id"],
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(
        "ix_settlement_statements_congestion_point_id",
        table_name="settlement_statements",
    )
    op.drop_table("settlement_statements")
