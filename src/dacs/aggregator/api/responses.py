"""The API's JSON answers as typed dictionaries: the handlers build them, the OpenAPI document shows them.

Typed dictionaries rather than models: an answer is built once from state
the aggregator already checked, so there is nothing to validate; mypy checks
that every handler builds the shape that is documented. Powers are in kW and
times are RFC 3339 strings in UTC, as everywhere in the API.
"""

from __future__ import annotations

from typing import Annotated, TypedDict

from pydantic import Field

Time = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
"""An RFC 3339 time in UTC, as ``dacs.protocol.format_time`` writes it."""


class TaskDown(TypedDict):
    """A supervised task that crashed and waits to be started again."""

    task: str  # e.g. "telemetry-writer", "control-loop", "openadr-poll"
    since: str  # RFC 3339, UTC: when it crashed
    restarts: int  # how often it has been started again so far


class Health(TypedDict):
    """Readiness: 503 while the broker link or any supervised task is down."""

    status: str  # "ok" or "degraded"
    broker_connected: bool
    tasks_down: list[TaskDown]


class Liveness(TypedDict):
    """``/healthz``: the process serves; nothing else is checked."""

    status: str  # always "alive"
    instance: str | None  # the lease table's name for it; None when not clustered


class Readiness(TypedDict):
    """``/readyz``: 503 unless the database answers, the broker is connected and, clustered, the leases are renewed."""

    status: str  # "ready" or "not_ready"
    instance: str | None  # None when not clustered
    database: bool  # answered a trivial query within 2 s
    broker_connected: bool  # every configured broker
    leases_renewed: bool | None  # None when not clustered


class DashboardSession(TypedDict):
    """Whether this browser is signed in to the dashboard (a read-only session)."""

    signed_in: bool
    expires: str | None  # RFC 3339, UTC


class ParticipationCounts(TypedDict):
    """How many homes behind a congestion point are in each state."""

    online: int
    curtailed: int
    paused: int
    offline: int
    opted_out: int


class LastCycle(TypedDict):
    """What the last control cycle of a congestion point saw and decided."""

    time: Time
    cap_kw: float
    cap_kind: str  # the envelope's kind, or "rated" without one
    measured_load_kw: float | None
    heat_pump_load_kw: float
    other_load_kw: float
    forecast_load_kw: float
    shortfall_kw: float
    curtailed_homes: int


class EventInterval(TypedDict):
    """One interval of an event: its cap from start to end."""

    start: Time
    end: Time
    cap_kw: float


class Event(TypedDict):
    """A capacity envelope in force on a congestion point."""

    id: str
    kind: str  # "fixed", "dynamic", "manual" or "emergency"
    start: Time
    end: Time
    intervals: list[EventInterval]


class CongestionPoint(TypedDict):
    """A congestion point (transformer) with its live state."""

    id: str
    name: str
    rated_capacity_kw: float
    grid_operator: str
    ean: str | None
    homes: int
    counts: ParticipationCounts
    last_cycle: LastCycle | None  # None before the first cycle
    events: list[Event]
    quarantine: Quarantine | None  # None while control runs for the point
    owner: PointOwner | None  # None when not clustered: this instance controls it


class PointOwner(TypedDict):
    """Which aggregator instance holds a congestion point's lease, as of the last cycle."""

    instance: str | None  # None: no instance holds it (free, or its holder stopped)
    epoch: int  # the fencing token its commands carry
    expires_at: Time
    live: bool  # the lease had not expired when it was read
    this_instance: bool  # the instance that answered holds it


class Quarantine(TypedDict):
    """Why control skips a congestion point: its cycle raised."""

    since: str
    reason: str


class QuarantineLifted(TypedDict):
    """A congestion point back under control."""

    lifted: str  # the point's id


class Cancelled(TypedDict):
    """An event ended early."""

    cancelled: str  # the event's id


class Accepted(TypedDict):
    """A measurement taken in: by the control loop, and stored unless already known."""

    accepted: bool
    stored: bool  # False: a measurement at that moment was stored already


class IspFigures(TypedDict):
    """One ISP as the grid operator settles it."""

    start: str
    cap_kw: float
    mean_kw: float  # of the minutes measured in it
    excess_kw: float
    over: bool
    minutes: int  # measured minutes in the ISP (15: fully measured)
    # What the homes delivered in it, as DELIVERED_FLEX and the UFTP
    # settlement report it (None: no event limited the homes then, or the
    # ISP has not passed).
    baseline_kw: float | None
    delivered_kw: float | None
    homes_reporting: int


class Compliance(TypedDict):
    """A window of a congestion point judged per ISP and per minute."""

    congestion_point_id: str
    start: str
    end: str
    isps: list[IspFigures]
    isps_over: int
    worst_isp_excess_kw: float
    minutes: int
    minutes_over: int
    worst_minute_excess_kw: float
    energy_over_kwh: float


class Alert(TypedDict):
    """Something an operator should look at, in force or cleared."""

    kind: str
    congestion_point_id: str | None
    home_id: str | None
    message: str
    raised_at: Time
    cleared_at: Time | None  # None while in force


class Home(TypedDict):
    """An enrolled home with its live state."""

    id: str
    congestion_point_id: str
    availability: str  # dacs.aggregator.domain.flex_model.Availability
    online: bool
    electric_power_w: float | None
    indoor_temp_c: float | None
    limit_w: float | None
    limit_source: str | None
    comfort_override: bool
    baseline_w: float | None
    participation: str | None
    safety_floor_w: float | None
    command_id: str | None
    curtailment_kwh: float


class EnrollmentCode(TypedDict):
    """A one-time code a home enrolls with."""

    code: str
    congestion_point_id: str
    created_at: Time
    expires_at: Time
    used_at: Time | None
    home_id: str | None
    revoked_at: Time | None
    note: str


class BrokerMoved(TypedDict):
    """A home told to use another central broker."""

    home_id: str
    left: str  # the broker it was on
    joined: str  # the broker it is on now
    moved: bool  # False: it was on that broker already, nothing was sent


class Revoked(TypedDict):
    """An enrollment code made unusable."""

    revoked: str  # the code
