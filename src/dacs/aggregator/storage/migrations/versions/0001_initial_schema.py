"""Initial schema: registry, enrollment, telemetry, events, commands, alerts.

Revision ID: 0001
Revises:
Create Date: 2026-11-29 15:17:42.437980
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
import sqlalchemy as sa

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "alerts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("home_id", sa.String(length=64), nullable=True),
        sa.Column("congestion_point_id", sa.String(length=64), nullable=True),
        sa.Column("message", sa.String(length=500), nullable=False),
        sa.Column(
            "raised_at",
            sa.DateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "cleared_at",
            sa.DateTime(timezone=True),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_alerts_home_id"), ["home_id"], unique=False
        )

    op.create_table(
        "commands",
        sa.Column("command_id", sa.String(length=64), nullable=False),
        sa.Column("home_id", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=True),
        sa.Column(
            "issued_at",
            sa.DateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "expires_at",
            sa.DateTime(timezone=True),
            nullable=False,
        ),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("envelope", sa.JSON(), nullable=False),
        sa.Column("ack_result", sa.String(length=32), nullable=True),
        sa.Column("ack_reason", sa.String(length=32), nullable=True),
        sa.Column(
            "acked_at",
            sa.DateTime(timezone=True),
            nullable=True,
        ),
        sa.Column(
            "cancelled_at",
            sa.DateTime(timezone=True),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("command_id"),
    )
    with op.batch_alter_table("commands", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_commands_event_id"), ["event_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_commands_home_id"), ["home_id"], unique=False
        )

    op.create_table(
        "congestion_points",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("rated_capacity_kw", sa.Float(), nullable=False),
        sa.Column("grid_operator", sa.String(length=200), nullable=False),
        sa.Column("ean", sa.String(length=18), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "telemetry",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("home_id", sa.String(length=64), nullable=False),
        sa.Column("boot_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column(
            "ts",
            sa.DateTime(timezone=True),
            nullable=False,
        ),
        sa.Column("electric_power_w", sa.Float(), nullable=True),
        sa.Column("thermal_power_w", sa.Float(), nullable=True),
        sa.Column("boiler_active", sa.Boolean(), nullable=True),
        sa.Column("boiler_thermal_w", sa.Float(), nullable=True),
        sa.Column("indoor_temp_c", sa.Float(), nullable=True),
        sa.Column("outdoor_temp_c", sa.Float(), nullable=True),
        sa.Column("electric_energy_kwh", sa.Float(), nullable=True),
        sa.Column("limit_w", sa.Float(), nullable=True),
        sa.Column("limit_source", sa.String(length=16), nullable=False),
        sa.Column("command_id", sa.String(length=64), nullable=True),
        sa.Column("participation", sa.String(length=8), nullable=False),
        sa.Column("comfort_override", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "home_id", "boot_id", "seq", name="uq_telemetry_home_boot_seq"
        ),
    )
    with op.batch_alter_table("telemetry", schema=None) as batch_op:
        batch_op.create_index("ix_telemetry_home_ts", ["home_id", "ts"], unique=False)

    op.create_table(
        "transformer_measurements",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("congestion_point_id", sa.String(length=64), nullable=False),
        sa.Column(
            "ts",
            sa.DateTime(timezone=True),
            nullable=False,
        ),
        sa.Column("load_kw", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("transformer_measurements", schema=None) as batch_op:
        batch_op.create_index(
            "ix_transformer_cp_ts", ["congestion_point_id", "ts"], unique=False
        )

    op.create_table(
        "enrollment_codes",
        sa.Column("code", sa.String(length=14), nullable=False),
        sa.Column("congestion_point_id", sa.String(length=64), nullable=False),
        sa.Column("ean", sa.String(length=18), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "expires_at",
            sa.DateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "used_at",
            sa.DateTime(timezone=True),
            nullable=True,
        ),
        sa.Column("home_id", sa.String(length=64), nullable=True),
        sa.Column(
            "revoked_at",
            sa.DateTime(timezone=True),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["congestion_point_id"],
            ["congestion_points.id"],
        ),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("congestion_point_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column(
            "start",
            sa.DateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "end",
            sa.DateTime(timezone=True),
            nullable=False,
        ),
        sa.Column("profile", sa.JSON(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
        ),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column(
            "cancelled_at",
            sa.DateTime(timezone=True),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["congestion_point_id"],
            ["congestion_points.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_events_congestion_point_id"),
            ["congestion_point_id"],
            unique=False,
        )

    op.create_table(
        "homes",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("congestion_point_id", sa.String(length=64), nullable=False),
        sa.Column("ean", sa.String(length=18), nullable=True),
        sa.Column(
            "enrolled_at",
            sa.DateTime(timezone=True),
            nullable=False,
        ),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column(
            "status_at",
            sa.DateTime(timezone=True),
            nullable=True,
        ),
        sa.Column("device", sa.JSON(), nullable=True),
        sa.Column("preferences", sa.JSON(), nullable=True),
        sa.Column(
            "last_seen",
            sa.DateTime(timezone=True),
            nullable=True,
        ),
        sa.Column("last_boot_id", sa.String(length=64), nullable=True),
        sa.Column("last_seq", sa.BigInteger(), nullable=True),
        sa.Column("telemetry_gaps", sa.Integer(), nullable=False),
        sa.Column("telemetry_duplicates", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["congestion_point_id"],
            ["congestion_points.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("homes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_homes_congestion_point_id"),
            ["congestion_point_id"],
            unique=False,
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("homes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_homes_congestion_point_id"))

    op.drop_table("homes")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_congestion_point_id"))

    op.drop_table("events")
    op.drop_table("enrollment_codes")
    with op.batch_alter_table("transformer_measurements", schema=None) as batch_op:
        batch_op.drop_index("ix_transformer_cp_ts")

    op.drop_table("transformer_measurements")
    with op.batch_alter_table("telemetry", schema=None) as batch_op:
        batch_op.drop_index("ix_telemetry_home_ts")

    op.drop_table("telemetry")
    op.drop_table("congestion_points")
    with op.batch_alter_table("commands", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_commands_home_id"))
        batch_op.drop_index(batch_op.f("ix_commands_event_id"))

    op.drop_table("commands")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alerts_home_id"))

    op.drop_table("alerts")
