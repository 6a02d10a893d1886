"""The aggregator's tables (SQLAlchemy 2, typed). Migrations live in ``migrations/``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """Timestamps in UTC on every backend; SQLite would otherwise lose the zone."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(
        self, value: datetime | None, dialect: Dialect
    ) -> datetime | None:
        """Refuse naive times; store UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes cannot be stored: pass a time zone")
        return value.astimezone(UTC)

    def process_result_value(
        self, value: datetime | None, dialect: Dialect
    ) -> datetime | None:
        """Return aware UTC times."""
        if value is None:
            return None
        return (
            value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        )


class Base(DeclarativeBase):
    """Declarative base; every timestamp is stored in UTC with its zone."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime(),
        dict[str, Any]: JSON,
    }


class CongestionPointRow(Base):
    """A transformer (or feeder) whose load the service keeps under a cap."""

    __tablename__ = "congestion_points"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    rated_capacity_kw: Mapped[float] = mapped_column(Float)
    grid_operator: Mapped[str] = mapped_column(String(200))
    ean: Mapped[str | None] = mapped_column(String(18))
    created_at: Mapped[datetime]


class HomeRow(Base):
    """An enrolled home and what it last told the aggregator."""

    __tablename__ = "homes"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    congestion_point_id: Mapped[str] = mapped_column(
        ForeignKey("congestion_points.id"), index=True
    )
    ean: Mapped[str | None] = mapped_column(String(18))
    enrolled_at: Mapped[datetime]
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    status_at: Mapped[datetime | None]
    device: Mapped[dict[str, Any] | None]
    preferences: Mapped[dict[str, Any] | None]
    last_seen: Mapped[datetime | None]
    last_boot_id: Mapped[str | None] = mapped_column(String(64))
    last_seq: Mapped[int | None] = mapped_column(BigInteger)
    telemetry_gaps: Mapped[int] = mapped_column(Integer, default=0)
    telemetry_duplicates: Mapped[int] = mapped_column(Integer, default=0)


class EnrollmentCodeRow(Base):
    """A one-time code that lets a home join; single-use and expiring."""

    __tablename__ = "enrollment_codes"

    code: Mapped[str] = mapped_column(String(14), primary_key=True)
    congestion_point_id: Mapped[str] = mapped_column(ForeignKey("congestion_points.id"))
    ean: Mapped[str | None] = mapped_column(String(18))
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    home_id: Mapped[str | None] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None]


class TelemetryRow(Base):
    """One telemetry message; (home, boot, seq) is unique, so duplicates cannot enter."""

    __tablename__ = "telemetry"
    __table_args__ = (
        UniqueConstraint(
            "home_id", "boot_id", "seq", name="uq_telemetry_home_boot_seq"
        ),
        Index("ix_telemetry_home_ts", "home_id", "ts"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    )
    home_id: Mapped[str] = mapped_column(String(64))
    boot_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger)
    ts: Mapped[datetime]
    electric_power_w: Mapped[float | None]
    thermal_power_w: Mapped[float | None]
    boiler_active: Mapped[bool | None]
    boiler_thermal_w: Mapped[float | None]
    indoor_temp_c: Mapped[float | None]
    outdoor_temp_c: Mapped[float | None]
    electric_energy_kwh: Mapped[float | None]
    limit_w: Mapped[float | None]
    limit_source: Mapped[str] = mapped_column(String(16))
    command_id: Mapped[str | None] = mapped_column(String(64))
    participation: Mapped[str] = mapped_column(String(8))
    comfort_override: Mapped[bool]


class EventRow(Base):
    """A flexibility event on a congestion point: a cap over time, from some source."""

    __tablename__ = "events"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    congestion_point_id: Mapped[str] = mapped_column(
        ForeignKey("congestion_points.id"), index=True
    )
    kind: Mapped[str] = mapped_column(
        String(32)
    )  # fixed, emergency, dynamic, manual, openadr, uftp
    reason: Mapped[str] = mapped_column(String(16))  # congestion, emergency, test
    start: Mapped[datetime]
    end: Mapped[datetime]
    # [{"start": iso, "duration_s": int, "cap_kw": float}, ...]
    profile: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64))
    cancelled_at: Mapped[datetime | None]


class CommandRow(Base):
    """A command sent to a home, and what the home answered."""

    __tablename__ = "commands"

    command_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    home_id: Mapped[str] = mapped_column(String(64), index=True)
    event_id: Mapped[str | None] = mapped_column(String(64), index=True)
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(16))
    envelope: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    ack_result: Mapped[str | None] = mapped_column(String(32))
    ack_reason: Mapped[str | None] = mapped_column(String(32))
    acked_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]


class TransformerMeasurementRow(Base):
    """A real-time load measurement of a congestion point."""

    __tablename__ = "transformer_measurements"
    __table_args__ = (Index("ix_transformer_cp_ts", "congestion_point_id", "ts"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    )
    congestion_point_id: Mapped[str] = mapped_column(String(64))
    ts: Mapped[datetime]
    load_kw: Mapped[float]


class AlertRow(Base):
    """Something an operator should look at."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    )
    kind: Mapped[str] = mapped_column(String(32))
    home_id: Mapped[str | None] = mapped_column(String(64), index=True)
    congestion_point_id: Mapped[str | None] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(String(500))
    raised_at: Mapped[datetime]
    cleared_at: Mapped[datetime | None]
