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
    # The central broker the home was told to use (enrollment, broker move);
    # None for homes enrolled before there were several: the single broker.
    broker_id: Mapped[str | None] = mapped_column(String(32))


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
    """One telemetry message; (home, boot, seq) is unique, so duplicates cannot enter.

    On PostgreSQL the table is partitioned by day (migration 0008): there the
    keys hold ``ts`` too, (id, ts) and (home, ts, boot, seq), and the guard
    stands in for ``ix_telemetry_home_ts``.
    """

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
    # The envelope: [{"start": iso, "end": iso, "cap_w": float}, ...]
    intervals: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
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
    # The sender's ownership epoch of the home's congestion point (None: alone).
    epoch: Mapped[int | None] = mapped_column(BigInteger)


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


class OpenAdrEventRow(Base):
    """One version of an OpenADR event the VEN has handled, and what became of it.

    (program, event, modification time) is unique: each version is processed
    exactly once, even across restarts.
    """

    __tablename__ = "openadr_events"
    __table_args__ = (
        UniqueConstraint(
            "program_id", "event_id", "modified_at", name="uq_openadr_event_version"
        ),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    )
    program_id: Mapped[str] = mapped_column(String(128), index=True)
    event_id: Mapped[str] = mapped_column(String(128))
    modified_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16))  # applied, refused, expired, noted
    reason: Mapped[str | None] = mapped_column(String(1000))
    group_name: Mapped[str | None] = mapped_column(String(128))
    congestion_point_id: Mapped[str | None] = mapped_column(String(64))
    # [[congestion point id, cap event id], ...] put in force for this version
    caps: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # FLEX intervals for the delivery report: [{"id", "start", "duration_s"}, ...]
    intervals: Mapped[list[Any]] = mapped_column(JSON, default=list)
    ends_at: Mapped[datetime | None]
    processed_at: Mapped[datetime]
    cancelled_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    reported_at: Mapped[datetime | None]


class OpenAdrResourceRow(Base):
    """A home registered as an OpenADR resource, and the grid operator's answer."""

    __tablename__ = "openadr_resources"

    home_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    resource_id: Mapped[str] = mapped_column(String(128))
    ean: Mapped[str] = mapped_column(String(18))
    congestion_point_id: Mapped[str] = mapped_column(String(64))
    group_id: Mapped[str | None] = mapped_column(String(128))
    registration_requested_at: Mapped[datetime | None]
    registration_status: Mapped[str | None] = mapped_column(String(16))
    rejected_reason: Mapped[str | None] = mapped_column(String(64))
    status_at: Mapped[datetime | None]
    operational_status: Mapped[str | None] = mapped_column(String(16))


class UftpInboundRow(Base):
    """A UFTP message we accepted, by (sender, MessageID): repeats are answered, not redone."""

    __tablename__ = "uftp_inbound"

    sender_domain: Mapped[str] = mapped_column(String(253), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    message_type: Mapped[str] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(64))  # SHA-256 of the inner XML
    received_at: Mapped[datetime]
    response_message_id: Mapped[str | None] = mapped_column(String(36))


class UftpFlexRequestRow(Base):
    """A FlexRequest from a DSO, as accepted."""

    __tablename__ = "uftp_flex_requests"

    message_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(36))
    sender_domain: Mapped[str] = mapped_column(String(253))
    congestion_point: Mapped[str] = mapped_column(String(500))  # UFTP entity address
    congestion_point_id: Mapped[str] = mapped_column(String(64), index=True)
    period: Mapped[str] = mapped_column(String(10))  # local day, YYYY-MM-DD
    revision: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime]
    # [{"isp": int, "disposition": str, "min_power": int, "max_power": int}, ...]
    isps: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    received_at: Mapped[datetime]


class UftpFlexOfferRow(Base):
    """A FlexOffer we sent, with the baseline its volumes are measured against."""

    __tablename__ = "uftp_flex_offers"

    message_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    flex_request_message_id: Mapped[str | None] = mapped_column(String(36), index=True)
    conversation_id: Mapped[str] = mapped_column(String(36))
    recipient_domain: Mapped[str] = mapped_column(String(253))
    congestion_point: Mapped[str] = mapped_column(String(500))
    congestion_point_id: Mapped[str] = mapped_column(String(64), index=True)
    period: Mapped[str] = mapped_column(String(10))
    expires_at: Mapped[datetime]
    # [{"reference": str, "price": "decimal", "isps": {"<isp>": power W}}, ...]
    options: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    baseline_w: Mapped[dict[str, Any]] = mapped_column(JSON)  # {"<isp>": W}
    created_at: Mapped[datetime]
    order_message_id: Mapped[str | None] = mapped_column(String(36))


class UftpFlexOrderRow(Base):
    """A FlexOrder we accepted, the cap event it became, and its settlement."""

    __tablename__ = "uftp_flex_orders"

    message_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    flex_offer_message_id: Mapped[str] = mapped_column(String(36), index=True)
    conversation_id: Mapped[str] = mapped_column(String(36))
    sender_domain: Mapped[str] = mapped_column(String(253))
    order_reference: Mapped[str] = mapped_column(String(200), index=True)
    option_reference: Mapped[str] = mapped_column(String(200))
    congestion_point_id: Mapped[str] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(10))
    isps: Mapped[dict[str, Any]] = mapped_column(JSON)  # {"<isp>": power W}
    price: Mapped[str] = mapped_column(String(40))  # decimal text, EUR
    currency: Mapped[str] = mapped_column(String(3))
    event_id: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime]
    settlement: Mapped[dict[str, Any] | None]
    settled_at: Mapped[datetime | None]


class UftpOutboxRow(Base):
    """A UFTP message to send (unsigned XML), kept until the recipient accepted it."""

    __tablename__ = "uftp_outbox"

    message_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    message_type: Mapped[str] = mapped_column(String(64))
    recipient_domain: Mapped[str] = mapped_column(String(253))
    reference: Mapped[str | None] = mapped_column(String(200), index=True)
    payload: Mapped[str] = mapped_column(String)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    given_up_at: Mapped[datetime | None]


class SettlementStatementRow(Base):
    """A home's monthly settlement statement, as last issued (one per home and period)."""

    __tablename__ = "settlement_statements"

    home_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    period: Mapped[str] = mapped_column(String(7), primary_key=True)  # YYYY-MM
    congestion_point_id: Mapped[str] = mapped_column(String(64), index=True)
    issued_at: Mapped[datetime]
    delivered_kwh: Mapped[float] = mapped_column(Float)
    price_eur_per_kwh: Mapped[float] = mapped_column(Float)
    earnings_eur: Mapped[float] = mapped_column(Float)
    extra_gas_m3: Mapped[float] = mapped_column(Float)
    gas_compensation_eur: Mapped[float] = mapped_column(Float)
    events: Mapped[int] = mapped_column(Integer)
    final: Mapped[bool] = mapped_column(Boolean)
    published_at: Mapped[datetime | None]


class PointLeaseRow(Base):
    """Which aggregator instance controls a congestion point, until when, in which epoch."""

    __tablename__ = "point_leases"

    congestion_point_id: Mapped[str] = mapped_column(
        ForeignKey("congestion_points.id"), primary_key=True
    )
    owner: Mapped[str | None] = mapped_column(String(128))  # None: free
    # Raised by one at every take-over: the fencing token commands carry.
    epoch: Mapped[int] = mapped_column(BigInteger, default=0)
    expires_at: Mapped[datetime]  # the database's clock
    acquired_at: Mapped[datetime | None]


class AggregatorInstanceRow(Base):
    """A running aggregator instance, seen every control cycle (for the fair share)."""

    __tablename__ = "aggregator_instances"

    instance_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    started_at: Mapped[datetime]
    expires_at: Mapped[datetime]
