"""A simulated street's stored history: telemetry, an event, preferences (for DB tests)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dacs.aggregator.storage.tables import (
    CongestionPointRow,
    EventRow,
    HomeRow,
    TelemetryRow,
)
from dacs.protocol import format_time
from dacs.testbed.sim.hybrid import make_neighbourhood_configs, simulate_year
from dacs.testbed.sim.weather import WeatherSeries

# Monday 20 January 2025, 16:00-18:00 local: the event.
EVENT_START = datetime(2025, 1, 20, 15, 0, tzinfo=UTC)
EVENT_END = EVENT_START + timedelta(hours=2)
HISTORY_START = datetime(2025, 1, 15, 23, 0, tzinfo=UTC)  # local midnight, 16 January
STEP_S = 300.0  # a telemetry row every five minutes keeps the tests quick
WEATHER = WeatherSeries.default(wrap=True)


class FixedClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, now: datetime) -> None:
        """Start at ``now``."""
        self.moment = now

    def now(self) -> datetime:
        """The set time."""
        return self.moment

    async def sleep(self, seconds: float) -> None:
        """Real sleep (the service's loops)."""
        await asyncio.sleep(seconds)


@dataclass(frozen=True)
class SeededHome:
    """What the simulator says really happened, to compare settlement with."""

    home_id: str
    true_delivered_kwh: float
    extra_gas_m3: float


def _rows(
    home_id: str, start: datetime, run, *, limited_w: float | None, seq0: int
) -> list[TelemetryRow]:  # type: ignore[no-untyped-def]  # a simulator result
    times = start.timestamp() + STEP_S * np.arange(run.steps)
    outdoor, _ = WEATHER.at_epoch_seconds(times)
    rows = []
    for i, (t, power, boiler, indoor, temp) in enumerate(
        zip(
            times.tolist(),
            run.trace.hp_electric_w.tolist(),
            run.trace.boiler_thermal_w.tolist(),
            run.trace.indoor_temp_c.tolist(),
            outdoor.tolist(),
            strict=True,
        )
    ):
        rows.append(
            TelemetryRow(
                home_id=home_id,
                boot_id="b-1",
                seq=seq0 + i,
                ts=datetime.fromtimestamp(t, tz=UTC),
                electric_power_w=power,
                thermal_power_w=None,
                boiler_active=boiler > 0,
                boiler_thermal_w=boiler,
                indoor_temp_c=indoor,
                outdoor_temp_c=temp,
                electric_energy_kwh=None,
                limit_w=limited_w,
                limit_source="none" if limited_w is None else "aggregator",
                command_id=None if limited_w is None else "c-1",
                participation="on",
                comfort_override=False,
            )
        )
    return rows


async def seed_street(
    sessions: async_sessionmaker[AsyncSession],
    *,
    point_id: str = "tr-1",
    homes: dict[str, float | None],
    register: bool = True,
    event_id: str = "ev-1",
) -> list[SeededHome]:
    """Store history, a limited event window and preferences for ``homes`` (id -> ask)."""
    configs = make_neighbourhood_configs(len(homes), 2025)
    seeded = []
    async with sessions() as session:
        if register:
            session.add(
                CongestionPointRow(
                    id=point_id,
                    name="Street",
                    rated_capacity_kw=100,
                    grid_operator="DSO",
                    ean=None,
                    created_at=HISTORY_START,
                )
            )
            await session.flush()
        for (home_id, ask), config in zip(homes.items(), configs, strict=True):
            if register:
                session.add(
                    HomeRow(
                        id=home_id,
                        congestion_point_id=point_id,
                        ean=None,
                        enrolled_at=HISTORY_START,
                        preferences=None
                        if ask is None
                        else {"min_compensation_eur_per_kwh": ask},
                    )
                )
            else:
                home = await session.get(HomeRow, home_id)
                assert home is not None
                home.preferences = (
                    None if ask is None else {"min_compensation_eur_per_kwh": ask}
                )
            history_s = (EVENT_START - HISTORY_START).total_seconds()
            history = simulate_year(
                config,
                WEATHER,
                HISTORY_START,
                STEP_S,
                duration_s=history_s,
                record=True,
            )
            window_s = (EVENT_END - EVENT_START).total_seconds()
            limit = 0.5 * config.heat_pump.nominal_electric_w
            indoor = history.final_state.indoor_temp_c
            free = simulate_year(
                config,
                WEATHER,
                EVENT_START,
                STEP_S,
                duration_s=window_s,
                initial_indoor_c=indoor,
                record=True,
            )
            limited = simulate_year(
                config,
                WEATHER,
                EVENT_START,
                STEP_S,
                duration_s=window_s,
                initial_indoor_c=indoor,
                electric_limit_w=limit,
                record=True,
            )
            session.add_all(
                _rows(home_id, HISTORY_START, history, limited_w=None, seq0=0)
            )
            session.add_all(
                _rows(
                    home_id, EVENT_START, limited, limited_w=limit, seq0=history.steps
                )
            )
            assert free.trace is not None
            assert limited.trace is not None
            true_kw = (
                np.maximum(0, free.trace.hp_electric_w - limited.trace.hp_electric_w)
                / 1000
            )
            seeded.append(
                SeededHome(
                    home_id=home_id,
                    true_delivered_kwh=float(true_kw.sum()) * STEP_S / 3600,
                    extra_gas_m3=limited.gas_m3 - free.gas_m3,
                )
            )
        if register:
            session.add(
                EventRow(
                    id=event_id,
                    congestion_point_id=point_id,
                    kind="manual",
                    reason="congestion",
                    start=EVENT_START,
                    end=EVENT_END,
                    intervals=[
                        {
                            "start": format_time(EVENT_START),
                            "end": format_time(EVENT_END),
                            "cap_w": 2000.0,
                        }
                    ],
                    created_at=HISTORY_START,
                    created_by="test",
                )
            )
        await session.commit()
    return seeded
