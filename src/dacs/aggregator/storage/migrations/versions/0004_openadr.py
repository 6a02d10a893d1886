"""OpenADR VEN: event versions handled and homes registered as resources.

Revision ID: 0004_openadr
Revises: 0001
Create Date: 2026-12-01 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
import sqlalchemy as sa

revision: str = "0004_openadr"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "openadr_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("program_id", sa.String(length=128), nullable=False),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=1000), nullable=True),
        sa.Column("group_name", sa.String(length=128), nullable=True),
        sa.Column("congestion_point_id", sa.String(length=64), nullable=True),
        sa.Column("caps", sa.JSON(), nullable=False),
        sa.Column("intervals", sa.JSON(), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "program_id", "event_id", "modified_at", name="uq_openadr_event_version"
        ),
    )
    op.create_index(
        "ix_openadr_events_program_id", "openadr_events", ["program_id"], unique=False
    )
    op.create_table(
        "openadr_resources",
        sa.Column("home_id", sa.String(length=64), nullable=False),
        sa.Column("resource_id", sa.String(length=128), nullable=False),
        sa.Column("ean", sa.String(length=18), nullable=False),
        sa.Column("congestion_point_id", sa.String(length=64), nullable=False),
        sa.Column("group_id", sa.String(length=128), nullable=True),
        sa.Column(
            "registration_requested_at", sa.DateTime(timezone=True), nullable=True
        ),
        sa.Column("registration_status", sa.String(length=16), nullable=True),
        sa.Column("rejected_reason", sa.String(length=64), nullable=True),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("operational_status", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("home_id"),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("openadr_resources")
    op.drop_index("ix_openadr_events_program_id", table_name="openadr_events")
    op.drop_table("openadr_events")
