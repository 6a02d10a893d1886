"""What the VEN sends back, as OpenADR 3.1 models. Pure: no I/O.

Every builder returns a model that the NL-flex profile accepts; the adapter
checks again with ``nlflex_profile`` before sending, so a report the VTN would
refuse is never sent half-right.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
import math
from typing import Any

import numpy as np
from openadr3_client._models.common.attribute import Attribute
from openadr3_client._models.common.interval import Interval
from openadr3_client._models.common.interval_period import IntervalPeriod
from openadr3_client._models.common.value_map_collection import ValuesMap
from openadr3_client._models.common.ven_resource_attribute_type import (
    VenResourceAttributeType,
)
from openadr3_client.oadr310.models.report.report import NewReport, ReportResource
from openadr3_client.oadr310.models.report.report_payload import (
    ReportPayload,
    ReportPayloadType,
)
from openadr3_client.oadr310.models.resource.resource import (
    ExistingResource,
    NewResourceVenRequest,
)
from openadr3_client.oadr310.models.ven.ven import NewVenVenRequest

from dacs.aggregator.domain.delivery import (
    SETTLEMENT_INTERVAL,
    IntervalDelivery,
    deliveries_per_isp,
)
from dacs.aggregator.domain.flex_model import FlexModel

from .plans import DispatchInterval

AGGREGATED = "AGGREGATED_REPORT"


class OperationalStatus(StrEnum):
    """Whether a resource can deliver flexibility (the profile's three values)."""

    NORMAL = "NORMAL"
    ERROR = "ERROR"
    PENDING = "PENDING"


class RegistrationStatus(StrEnum):
    """The grid operator's answer to a registration."""

    ENROLLED = "ENROLLED"
    REJECTED = "REJECTED"


def kw(value: float) -> float:
    """A power in kW with at most two decimals, as the profile requires."""
    return round(value, 2) + 0.0  # + 0.0 turns -0.0 into 0.0


def offer_kw(value: float) -> float:
    """An offer rounded down to 0.01 kW: never promise more than the homes can do."""
    return math.floor(max(0.0, value) * 100 + 1e-9) / 100


def _aggregated(*intervals: Interval[ReportPayload[Any]]) -> tuple[ReportResource, ...]:
    return (ReportResource(resource_name=AGGREGATED, intervals=intervals),)


def _single(payloads: tuple[ReportPayload[Any], ...]) -> Interval[ReportPayload[Any]]:
    return Interval(id=0, payloads=payloads)


def acknowledgement(*, event_id: str, client_name: str) -> NewReport:
    """ACK: the FLEX event arrived."""
    return NewReport(
        eventID=event_id,
        client_name=client_name,
        report_name="ACK",
        resources=_aggregated(
            _single((ReportPayload(type=ReportPayloadType("ACK"), values=(True,)),))
        ),
    )


def flex_delta(
    *, event_id: str, client_name: str, active_kw: float, reserved_kw: float
) -> NewReport:
    """The answer to a baseline event: the flexibility offered, as deltas <= 0 kW."""
    return NewReport(
        eventID=event_id,
        client_name=client_name,
        report_name="FLEX_DELTA",
        resources=_aggregated(
            _single(
                (
                    ReportPayload(
                        type=ReportPayloadType("ACTIVE_FLEX_DELTA"),
                        values=(-offer_kw(active_kw) + 0.0,),
                    ),
                    ReportPayload(
                        type=ReportPayloadType("RESERVED_FLEX_DELTA"),
                        values=(-offer_kw(reserved_kw) + 0.0,),
                    ),
                )
            )
        ),
    )


def delivered_flex(
    *,
    event_id: str,
    client_name: str,
    intervals: Sequence[DispatchInterval],
    deliveries: Sequence[IntervalDelivery],
) -> NewReport | None:
    """DELIVERED_FLEX per 15 minutes for every interval of a FLEX event.

    None while a quarter hour is missing: the report covers every interval
    (adjacent hours included) once, so it waits until all are known.
    """
    by_start = deliveries_per_isp(deliveries)
    report_intervals = []
    for interval in sorted(intervals, key=lambda i: i.interval_id):
        quarters = int(interval.duration / SETTLEMENT_INTERVAL)
        values = []
        for n in range(quarters):
            delivery = by_start.get(interval.start + n * SETTLEMENT_INTERVAL)
            if delivery is None:
                return None
            values.append(kw(max(0.0, delivery.delivered_kw)))
        report_intervals.append(
            Interval(
                id=interval.interval_id,
                interval_period=IntervalPeriod(
                    start=interval.start, duration=interval.duration
                ),
                payloads=(
                    ReportPayload(
                        type=ReportPayloadType("DELIVERED_FLEX"), values=tuple(values)
                    ),
                ),
            )
        )
    if not report_intervals:
        return None
    return NewReport(
        eventID=event_id,
        client_name=client_name,
        report_name="DELIVERED_FLEX",
        resources=_aggregated(*report_intervals),
    )


def operational_status(
    *, anchor_event_id: str, client_name: str, statuses: Mapping[str, OperationalStatus]
) -> NewReport:
    """One entry per resource (Asset-ID) whose status changed."""
    return NewReport(
        eventID=anchor_event_id,
        client_name=client_name,
        report_name="OPERATIONAL_STATUS",
        resources=tuple(
            ReportResource(
                resource_name=asset_id,
                intervals=(
                    _single(
                        (
                            ReportPayload(
                                type=ReportPayloadType("OPERATIONAL_STATUS"),
                                values=(status.value,),
                            ),
                        )
                    ),
                ),
            )
            for asset_id, status in sorted(statuses.items())
        ),
    )


def registration(
    *,
    anchor_event_id: str,
    client_name: str,
    group_object_id: str,
    resource_ids: Sequence[str],
) -> NewReport:
    """Ask for resources (by object id) to join a resource group."""
    return NewReport(
        eventID=anchor_event_id,
        client_name=client_name,
        report_name="RESOURCE_REGISTRATION",
        resources=_aggregated(
            _single(
                (
                    ReportPayload(
                        type=ReportPayloadType("RESOURCE_GROUP_ID"),
                        values=(group_object_id,),
                    ),
                    ReportPayload(
                        type=ReportPayloadType("REGISTRATION_REQUEST"),
                        values=tuple(resource_ids),
                    ),
                )
            )
        ),
    )


def ven_request(service_provider_ean: str) -> NewVenVenRequest:
    """The VEN object: its name is the service provider's EAN13."""
    return NewVenVenRequest(ven_name=service_provider_ean)


def home_resource(
    *, ven_id: str, home_id: str, ean: str, dso_ean: str, flex_type: str
) -> NewResourceVenRequest:
    """One home's heat pump as a resource; its Asset-ID is the home id."""
    return NewResourceVenRequest(
        resource_name=home_id,
        venID=ven_id,
        attributes=ValuesMap(
            [
                Attribute(type=VenResourceAttributeType("EAN"), values=(ean,)),
                Attribute(type=VenResourceAttributeType("DSO_ID"), values=(dso_ean,)),
                Attribute(
                    type=VenResourceAttributeType("FLEX_TYPE"), values=(flex_type,)
                ),
            ]
        ),
    )


def registration_status(
    resource: ExistingResource,
) -> tuple[RegistrationStatus | None, str | None]:
    """The REGISTRATION_STATUS (and REJECTED_REASON) the grid operator set, if any."""
    attributes = resource.attributes or ValuesMap([])
    status = attributes.get_by_type(VenResourceAttributeType("REGISTRATION_STATUS"))
    if status is None or len(status.values) != 1:
        return None, None
    try:
        value = RegistrationStatus(status.values[0])
    except ValueError:
        return None, None
    reason = attributes.get_by_type(VenResourceAttributeType("REJECTED_REASON"))
    return value, (str(reason.values[0]) if reason and reason.values else None)


def interval_records(intervals: Sequence[DispatchInterval]) -> list[dict[str, object]]:
    """FLEX intervals as JSON for storage (the event may be gone by report time)."""
    return [
        {
            "id": i.interval_id,
            "start": i.start.isoformat(),
            "duration_s": int(i.duration.total_seconds()),
            "flex_kw": i.flex_kw,
        }
        for i in intervals
    ]


def intervals_from_records(
    records: Sequence[Mapping[str, object]],
) -> list[DispatchInterval]:
    """The inverse of :func:`interval_records`."""
    return [
        DispatchInterval(
            interval_id=int(str(r["id"])),
            start=datetime.fromisoformat(str(r["start"])),
            duration=timedelta(seconds=int(str(r["duration_s"]))),
            flex_kw=float(str(r["flex_kw"])),
        )
        for r in records
    ]


def offered_flex_kw(model: FlexModel) -> float:
    """What the available homes of a flex model can give up now, in kW.

    A home can drop to its safety floor, or to 0 when its boiler can take
    over entirely (gas-only).
    """
    floor = np.where(model.gas_only, 0.0, model.floor_w)
    headroom = np.maximum(0.0, model.baseline_w - floor)
    return float(headroom[model.available].sum()) / 1000.0
