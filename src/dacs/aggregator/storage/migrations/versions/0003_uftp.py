"""UFTP (GOPACS) aggregator: inbound log, flex requests, offers, orders, outbox.

Revision ID: 0003_uftp
Revises: 0001
Create Date: 2026-11-30 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from alembic import op
import sqlalchemy as sa

revision: str = "0003_uftp"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "uftp_inbound",
        sa.Column("sender_domain", sa.String(length=253), nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("message_type", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        _time("received_at"),
        sa.Column("response_message_id", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("sender_domain", "message_id"),
    )
    op.create_table(
        "uftp_flex_requests",
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.Column("sender_domain", sa.String(length=253), nullable=False),
        sa.Column("congestion_point", sa.String(length=500), nullable=False),
        sa.Column("congestion_point_id", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        _time("expires_at"),
        sa.Column("isps", sa.JSON(), nullable=False),
        _time("received_at"),
        sa.PrimaryKeyConstraint("message_id"),
    )
    op.create_index(
        "ix_uftp_flex_requests_congestion_point_id",
        "uftp_flex_requests",
        ["congestion_point_id"],
    )
    op.create_table(
        "uftp_flex_offers",
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("flex_request_message_id", sa.String(length=36), nullable=True),
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.Column("recipient_domain", sa.String(length=253), nullable=False),
        sa.Column("congestion_point", sa.String(length=500), nullable=False),
        sa.Column("congestion_point_id", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=False),
        _time("expires_at"),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("baseline_w", sa.JSON(), nullable=False),
        _time("created_at"),
        sa.Column("order_message_id", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("message_id"),
    )
    op.create_index(
        "ix_uftp_flex_offers_flex_request_message_id",
        "uftp_flex_offers",
        ["flex_request_message_id"],
    )
    op.create_index(
        "ix_uftp_flex_offers_congestion_point_id",
        "uftp_flex_offers",
        ["congestion_point_id"],
    )
    op.create_table(
        "uftp_flex_orders",
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("flex_offer_message_id", sa.String(length=36), nullable=False),
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.Column("sender_domain", sa.String(length=253), nullable=False),
        sa.Column("order_reference", sa.String(length=200), nullable=False),
        sa.Column("option_reference", sa.String(length=200), nullable=False),
        sa.Column("congestion_point_id", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("isps", sa.JSON(), nullable=False),
        sa.Column("price", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        _time("received_at"),
        sa.Column("settlement", sa.JSON(), nullable=True),
        _time("settled_at", nullable=True),
        sa.PrimaryKeyConstraint("message_id"),
    )
    op.create_index(
        "ix_uftp_flex_orders_flex_offer_message_id",
        "uftp_flex_orders",
        ["flex_offer_message_id"],
    )
    op.create_index(
        "ix_uftp_flex_orders_order_reference", "uftp_flex_orders", ["order_reference"]
    )
    op.create_table(
        "uftp_outbox",
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("message_type", sa.String(length=64), nullable=False),
        sa.Column("recipient_domain", sa.String(length=253), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("payload", sa.String(), nullable=False),
        _time("created_at"),
        _time("sent_at", nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        _time("given_up_at", nullable=True),
        sa.PrimaryKeyConstraint("message_id"),
    )
    op.create_index("ix_uftp_outbox_reference", "uftp_outbox", ["reference"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_uftp_outbox_reference", table_name="uftp_outbox")
    op.drop_table("uftp_outbox")
    op.drop_index("ix_uftp_flex_orders_order_reference", table_name="uftp_flex_orders")
    op.drop_index(
        "ix_uftp_flex_orders_flex_offer_message_id", table_name="uftp_flex_orders"
    )
    op.drop_table("uftp_flex_orders")
    op.drop_index(
        "ix_uftp_flex_offers_congestion_point_id", table_name="uftp_flex_offers"
    )
    op.drop_index(
        "ix_uftp_flex_offers_flex_request_message_id", table_name="uftp_flex_offers"
    )
    op.drop_table("uftp_flex_offers")
    op.drop_index(
        "ix_uftp_flex_requests_congestion_point_id", table_name="uftp_flex_requests"
    )
    op.drop_table("uftp_flex_requests")
    op.drop_table("uftp_inbound")
