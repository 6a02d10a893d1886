"""Reads what settlement needs from the database: 15-minute telemetry averages and events.

The averaging happens in the database (one row per home and interval), so a
month of 10-second telemetry from a street of homes never crosses the wire
sample by sample.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Integer, case, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from dacs.aggregator.storage.envelopes import overlapping_rows
from dacs.aggregator.storage.tables import TelemetryRow

from .baseline import RUNNING_KW
from .delivered import EventWindow, HomeIntervals
from .periods import INTERVAL_S

_LIMITED_SOURCES = ("aggregator", "floor", "gas_only")
# The cumulative meter is used when its readings span this much of an interval.
_METER_SPAN_S = 600.0
_MAX_PLAUSIBLE_KW = 50.0


def _bucket(session: AsyncSession) -> ColumnElement[Any]:
    """The interval number of a telemetry row, in the database's own dialect."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(
            func.floor(func.extract("epoch", TelemetryRow.ts) / INTERVAL_S), Integer
        )
    # SQLite stores the UTC time as text; strftime('%s') reads it as UTC.
    return cast(func.strftime("%s", TelemetryRow.ts), Integer) // INTERVAL_S


async def load_home_intervals(
    session: AsyncSession, home_ids: Sequence[str], start: datetime, end: datetime
) -> list[HomeIntervals]:
    """Every home's interval averages of telemetry in ``[start, end)`` (homes in order)."""
    bucket = _bucket(session).label("bucket")
    limited = func.sum(
        case((TelemetryRow.limit_source.in_(_LIMITED_SOURCES), 1), else_=0)
    )
    excluded = func.sum(
        case(
            (
                or_(
                    TelemetryRow.limit_source == "manual", TelemetryRow.comfort_override
                ),
                1,
            ),
            else_=0,
        )
    )
    boiler_on = func.sum(case((TelemetryRow.boiler_active.is_(True), 1), else_=0))
    statement = (
        select(
            TelemetryRow.home_id,
            bucket,
            func.count(),
            func.avg(TelemetryRow.electric_power_w),
            func.avg(TelemetryRow.boiler_thermal_w),
            func.avg(TelemetryRow.outdoor_temp_c),
            limited,
            excluded,
            boiler_on,
            func.min(TelemetryRow.ts),
            func.max(TelemetryRow.ts),
            func.min(TelemetryRow.electric_energy_kwh),
            func.max(TelemetryRow.electric_energy_kwh),
        )
        .where(
            TelemetryRow.home_id.in_(list(home_ids)),
            TelemetryRow.ts >= start,
            TelemetryRow.ts < end,
        )
        .group_by(TelemetryRow.home_id, bucket)
        .order_by(TelemetryRow.home_id, bucket)
    )
    rows = (await session.execute(statement)).all()
    grouped: dict[str, list[Any]] = {home_id: [] for home_id in home_ids}
    for row in rows:
        grouped[row[0]].append(row)
    return [_intervals(home_id, grouped[home_id]) for home_id in home_ids]


def _intervals(home_id: str, rows: list[Any]) -> HomeIntervals:
    size = len(rows)
    electric = np.full(size, np.nan)
    boiler = np.full(size, np.nan)
    outdoor = np.full(size, np.nan)
    limited = np.zeros(size, dtype=bool)
    excluded = np.zeros(size, dtype=bool)
    boiler_only = np.zeros(size, dtype=bool)
    starts = np.zeros(size, dtype=np.int64)
    for i, (
        _,
        bucket,
        count,
        power_w,
        boiler_w,
        outdoor_c,
        n_limited,
        n_excluded,
        n_boiler,
        first,
        last,
        meter_low,
        meter_high,
    ) in enumerate(rows):
        starts[i] = int(bucket) * INTERVAL_S
        electric[i] = _measured_kw(power_w, first, last, meter_low, meter_high)
        boiler[i] = np.nan if boiler_w is None else float(boiler_w) / 1000
        outdoor[i] = np.nan if outdoor_c is None else float(outdoor_c)
        limited[i] = int(n_limited) > 0
        excluded[i] = int(n_excluded) > 0
        boiler_only[i] = (
            np.isfinite(electric[i])
            and electric[i] < RUNNING_KW
            and 2 * int(n_boiler) >= int(count)
        )
    return HomeIntervals(
        home_id=home_id,
        starts=starts,
        electric_kw=electric,
        boiler_kw=boiler,
        outdoor_c=outdoor,
        limited=limited,
        excluded=excluded,
        boiler_only=boiler_only,
    )


def _measured_kw(
    power_w: float | None,
    first: datetime | None,
    last: datetime | None,
    meter_low: float | None,
    meter_high: float | None,
) -> float:
    """The interval's average power: from the energy meter where it spans the interval.

    A meter reads the energy between samples that the 10-second power
    snapshots can miss (an on/off compressor between two readings); otherwise
    the mean of the power samples.
    """
    if (
        first is not None
        and last is not None
        and meter_low is not None
        and meter_high is not None
    ):
        span_s = (last - first).total_seconds()
        if span_s >= _METER_SPAN_S:
            kw = (meter_high - meter_low) * 3600 / span_s
            if 0 <= kw <= _MAX_PLAUSIBLE_KW:
                return float(kw)
    return np.nan if power_w is None else float(power_w) / 1000


async def load_events(
    session: AsyncSession, congestion_point_id: str, start: datetime, end: datetime
) -> list[EventWindow]:
    """The congestion point's events overlapping ``[start, end)``; cancelled ones end early."""
    rows = await overlapping_rows(session, congestion_point_id, start, end)
    windows = []
    for row in rows:
        finish = row.end if row.cancelled_at is None else min(row.end, row.cancelled_at)
        if finish > row.start:
            windows.append(EventWindow(event_id=row.id, start=row.start, end=finish))
    return sorted(windows, key=lambda w: (w.start, w.event_id))
