"""The API's request bodies as typed models: the handlers read them, the OpenAPI document shows them.

Fields are read in the order they are declared and the first refusal is the
answer, so a body is refused for the same reason it always was.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import json
from typing import Annotated, Any, ClassVar, Literal, Self

from aiohttp import web
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from dacs.aggregator.domain.envelope import (
    CapacityEnvelope,
    CapacityInterval,
    EnvelopeKind,
)

from .errors import BadRequestError
from .fields import Items, Moment, Number, Numbers, OptionalIdentifier, Text, refusal

_MAX_INTERVALS = 192  # two days of 15-minute intervals

# The largest power a congestion point, cap or measurement may state: above
# a 100 MW substation no value is one a grid operator means.
MAX_POWER_KW = 100_000.0


async def read_object(request: web.Request) -> dict[str, Any]:
    """The request's body, which must be a JSON object."""
    try:
        document = json.loads(await request.read())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BadRequestError(f"the body is not JSON: {err}") from err
    if not isinstance(document, dict):
        raise BadRequestError("the body must be a JSON object")
    return document


class RequestBody(BaseModel):
    """A JSON object whose unknown fields are ignored; an absent field reads as null."""

    model_config = ConfigDict(frozen=True)
    not_an_object: ClassVar[str] = "the body must be a JSON object"

    @model_validator(mode="before")
    @classmethod
    def _absent_is_null(cls, data: Any) -> Any:
        # Required fields are checked (and refused) as null when they are
        # absent; a field with a default keeps it.
        if not isinstance(data, dict):
            raise refusal(cls.not_an_object)
        absent = {
            name: None
            for name, field in cls.model_fields.items()
            if field.is_required() and name not in data
        }
        return data | absent if absent else data


def parse[B: RequestBody](model: type[B], document: Any) -> B:
    """Read ``document`` with ``model``; the first refusal becomes a 400 answer."""
    try:
        return model.model_validate(document)
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        message = (
            first["msg"]
            if first["type"] == "malformed"
            else f"{'.'.join(map(str, first['loc']))}: {first['msg']}"
        )
        raise BadRequestError(message) from None


class CongestionPointCreate(RequestBody):
    """A congestion point (transformer) to register."""

    id: Annotated[str, Text(identifier=True)]
    name: Annotated[str, Text()]
    rated_capacity_kw: Annotated[
        float,
        Number(
            minimum=0.001,
            maximum=MAX_POWER_KW,
            above_maximum=f"rated_capacity_kw must be at most {MAX_POWER_KW:g} kW",
        ),
    ]
    grid_operator: Annotated[str, Text()]
    ean: Annotated[str | None, Text(optional=True)] = None


class IntervalCreate(RequestBody):
    """One interval of a manual event: the cap from its start to its end."""

    not_an_object: ClassVar[str] = "each interval must be an object"

    start: Annotated[datetime, Moment()]
    end: Annotated[datetime, Moment()]
    cap_kw: Annotated[
        float,
        Number(
            maximum=MAX_POWER_KW,
            above_maximum=f"cap_kw must be at most {MAX_POWER_KW:g} kW",
        ),
    ]

    @model_validator(mode="after")
    def _possible(self) -> Self:
        # An impossible interval is refused before the ones after it are read.
        try:
            self.capacity_interval()
        except ValueError as err:
            raise refusal(str(err)) from err
        return self

    def capacity_interval(self) -> CapacityInterval:
        """The interval in the domain's terms (W)."""
        return CapacityInterval(
            start=self.start, end=self.end, cap_w=self.cap_kw * 1000
        )


class EventHeader(RequestBody):
    """What every event body starts with: the id (none: one is made), then the kind."""

    id: Annotated[str | None, OptionalIdentifier()] = None
    kind: str

    @field_validator("kind", mode="before")
    @classmethod
    def _known(cls, value: Any) -> str:
        if not isinstance(value, str) or value not in EVENT_BODIES:
            raise refusal("'kind' must be 'manual', 'dynamic' or 'emergency'")
        return value


class EventBody(RequestBody):
    """An event's body, read once its kind is known."""

    id: Annotated[str | None, OptionalIdentifier()] = None

    def envelope(self, envelope_id: str, *, origin: str) -> CapacityEnvelope:
        """The capacity envelope this body asks for."""
        raise NotImplementedError


class ManualEventCreate(EventBody):
    """A manual event: caps for explicit intervals."""

    kind: Literal["manual"]
    intervals: Annotated[
        tuple[IntervalCreate, ...],
        Items(min_items=1, max_items=_MAX_INTERVALS, what="intervals"),
    ]

    def envelope(self, envelope_id: str, *, origin: str) -> CapacityEnvelope:
        """The intervals as one manual envelope."""
        return CapacityEnvelope(
            envelope_id=envelope_id,
            kind=EnvelopeKind.MANUAL,
            intervals=tuple(i.capacity_interval() for i in self.intervals),
            origin=origin,
        )


class DynamicEventCreate(EventBody):
    """A day-ahead profile: one cap per 15 minutes from its start."""

    kind: Literal["dynamic"]
    caps_kw: Annotated[
        tuple[float, ...],
        Numbers(min_items=1, max_items=_MAX_INTERVALS, maximum=MAX_POWER_KW),
    ]
    start: Annotated[datetime, Moment()]

    def envelope(self, envelope_id: str, *, origin: str) -> CapacityEnvelope:
        """The caps as a dynamic envelope of 15-minute intervals."""
        return CapacityEnvelope.day_ahead(
            envelope_id,
            self.start,
            [float(c) * 1000 for c in self.caps_kw],
            origin=origin,
        )


class EmergencyEventCreate(EventBody):
    """An emergency stop: every home curtailed from its start for a while."""

    kind: Literal["emergency"]
    duration_minutes: Annotated[
        float,
        Number(
            minimum=1,
            maximum=24 * 60,
            above_maximum="an emergency stop lasts at most 24 hours",
        ),
    ]
    start: Annotated[datetime, Moment()]

    def envelope(self, envelope_id: str, *, origin: str) -> CapacityEnvelope:
        """The stop as an emergency envelope."""
        return CapacityEnvelope.emergency_stop(
            envelope_id,
            self.start,
            timedelta(minutes=self.duration_minutes),
            origin=origin,
        )


EVENT_BODIES: dict[str, type[EventBody]] = {
    "manual": ManualEventCreate,
    "dynamic": DynamicEventCreate,
    "emergency": EmergencyEventCreate,
}
"""The event bodies by kind; the OpenAPI document's ``EventCreate`` is one of them."""


class Measurement(RequestBody):
    """A real-time load measurement of a transformer."""

    ts: Annotated[datetime, Moment()]
    load_kw: Annotated[
        float,
        Number(
            maximum=MAX_POWER_KW,
            above_maximum=f"load_kw must be at most {MAX_POWER_KW:g} kW",
        ),
    ]


class SessionCreate(RequestBody):
    """A token that signs a browser in to the dashboard."""

    token: Annotated[
        str, Text(), Field(description="a reader or operator token (read-only here)")
    ]


class BrokerMoveCreate(RequestBody):
    """Move a home to another central broker (docs/protocol.md, broker move)."""

    broker_id: Annotated[
        str,
        Text(identifier=True),
        Field(description="one of the ids in the aggregator's [mqtt] brokers"),
    ]


class CodesCreate(RequestBody):
    """Enrollment codes to create for homes behind a congestion point."""

    count: Annotated[
        float,
        Number(
            minimum=1,
            maximum=1000,
            above_maximum="count must be at most 1000 (codes are made 1000 at a time)",
        ),
        Field(description="how many codes (the registry makes at most 1000 at a time)"),
    ] = 1
    valid_days: Annotated[
        float,
        Number(
            minimum=0.01,
            maximum=366,
            above_maximum="valid_days must be at most 366 (a code lasts a year at most)",
        ),
    ] = 14.0
    congestion_point_id: Annotated[str, Text(identifier=True)]
    note: Annotated[str | None, Text(optional=True)] = None


def query_time(request: web.Request, key: str) -> datetime:
    """A required RFC 3339 time with a time zone from the query, in UTC."""
    value = request.query.get(key)
    if not value:
        raise BadRequestError(
            f"the query needs {key!r} (an RFC 3339 time with a time zone)"
        )
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadRequestError(
            f"{key!r} must be an RFC 3339 time, got {value[:40]!r}"
        ) from None
    if moment.tzinfo is None:
        raise BadRequestError(f"{key!r} needs a time zone, e.g. {value[:40]}Z")
    return moment.astimezone(UTC)
