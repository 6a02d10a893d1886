"""JSON views shared by the REST API and the live stream."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from dacs.aggregator.control.fleet import HomeView
from dacs.aggregator.domain.envelope import CapacityEnvelope
from dacs.aggregator.domain.flex_model import Availability
from dacs.protocol import format_time

from .responses import Event, ParticipationCounts


def participation_counts(
    homes: Iterable[HomeView], now: datetime
) -> ParticipationCounts:
    """Online / curtailed / paused / offline / opted-out, as the REST API counts them."""
    counts: ParticipationCounts = {
        "online": 0,
        "curtailed": 0,
        "paused": 0,
        "offline": 0,
        "opted_out": 0,
    }
    for view in homes:
        availability = view.availability(now)
        if availability is Availability.OFFLINE:
            counts["offline"] += 1
            continue
        counts["online"] += 1
        if availability is Availability.PAUSED:
            counts["paused"] += 1
        elif availability is Availability.NOT_PARTICIPATING:
            counts["opted_out"] += 1
        if view.limited():
            counts["curtailed"] += 1
    return counts


def kilowatts(watts: float) -> float:
    """Watts as the kilowatts the API speaks, without float noise from the conversion."""
    return round(watts / 1000, 6)


def event_json(event: CapacityEnvelope) -> Event:
    """An envelope in force as the API shows it: an event with caps in kW."""
    return {
        "id": event.envelope_id,
        "kind": event.kind.value,
        "start": format_time(event.start),
        "end": format_time(event.end),
        "intervals": [
            {
                "start": format_time(i.start),
                "end": format_time(i.end),
                "cap_kw": kilowatts(i.cap_w),
            }
            for i in event.intervals
        ],
    }
