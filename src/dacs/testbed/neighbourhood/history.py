"""The demo homes' past: a week of uncontrolled telemetry, so settlement has a baseline.

Settlement fits each home's baseline on its own stored telemetry before the
settled day (docs/settlement.md, section 1). The demo's homes are enrolled
minutes before their congestion evening, so this module simulates each home
without any limit over the days before the live run and stores what its
controller would have reported. The physics runs in one-minute steps, the
same as the live Modbus simulator; each stored row holds the averages over
its reporting step, as a meter-backed report would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import math
import time
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Insert, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dacs.aggregator.storage.tables import HomeRow, TelemetryRow
from dacs.protocol import LimitSource, Participation
from dacs.testbed.sim.home_config import HybridHomeConfig
from dacs.testbed.sim.hybrid import simulate_year
from dacs.testbed.sim.weather import ArrayWeather, Weather

# Live controllers use random 12-hex-digit boot ids; this one cannot match them.
HISTORY_BOOT_ID = "history"
PHYSICS_STEP_S = 60.0  # as the live simulator's largest step
MAX_DAYS = 60.0  # settlement reads at most 120 days; a demo needs far fewer
_ROWS_PER_STATEMENT = 5_000


class HistoryError(Exception):
    """The demo history could not be stored."""


class UnknownHomeError(HistoryError, KeyError):
    """History was asked for homes that are not enrolled."""

    def __str__(self) -> str:
        """The message itself, not KeyError's quoted repr."""
        return str(self.args[0]) if self.args else "unknown home"


@dataclass(frozen=True, kw_only=True)
class HomeHistory:
    """One home's simulated reports: one per reporting step, values averaged over it."""

    times_s: NDArray[np.float64]  # POSIX start of each reporting step
    electric_w: NDArray[np.float64]
    boiler_thermal_w: NDArray[np.float64]
    indoor_c: NDArray[np.float64]  # at the end of each reporting step
    outdoor_c: NDArray[np.float64]
    final_indoor_c: float


@dataclass(frozen=True, kw_only=True)
class SeededHistory:
    """What :func:`seed_history` stored."""

    rows: int  # rows added (rows already present are skipped)
    start: datetime
    end: datetime
    final_indoor_c: dict[str, float]  # each home's indoor temperature at ``end``
    simulate_s: float  # wall-clock seconds spent in the simulator
    store_s: float  # wall-clock seconds spent writing


def simulate_history(
    config: HybridHomeConfig,
    weather: Weather,
    *,
    start: datetime,
    steps: int,
    step_s: float,
) -> HomeHistory:
    """Run one home without limits from ``start`` for ``steps`` reporting steps."""
    per_step = round(step_s / PHYSICS_STEP_S)
    run = simulate_year(
        config,
        weather,
        start,
        PHYSICS_STEP_S,
        duration_s=steps * step_s,
        record=True,
    )
    trace = run.trace
    if trace is None:  # record=True always traces; keeps mypy and readers sure
        raise HistoryError("the simulator returned no trace")
    physics_s = start.timestamp() + PHYSICS_STEP_S * np.arange(
        steps * per_step, dtype=np.float64
    )
    outdoor = _outdoor(weather, physics_s)
    shape = (steps, per_step)
    return HomeHistory(
        times_s=physics_s[::per_step].copy(),
        electric_w=trace.hp_electric_w.reshape(shape).mean(axis=1),
        boiler_thermal_w=trace.boiler_thermal_w.reshape(shape).mean(axis=1),
        indoor_c=trace.indoor_temp_c.reshape(shape)[:, -1].copy(),
        outdoor_c=outdoor.reshape(shape).mean(axis=1),
        final_indoor_c=run.final_state.indoor_temp_c,
    )


def history_records(home_id: str, history: HomeHistory) -> list[dict[str, Any]]:
    """The telemetry table's rows for one home's history (seq: the report's POSIX second)."""
    none = LimitSource.NONE.value
    on = Participation.ON.value
    return [
        {
            "home_id": home_id,
            "boot_id": HISTORY_BOOT_ID,
            "seq": int(t),
            "ts": datetime.fromtimestamp(t, tz=UTC),
            "electric_power_w": round(power, 1),
            "thermal_power_w": None,
            "boiler_active": boiler > 0.0,
            "boiler_thermal_w": round(boiler, 1),
            "indoor_temp_c": round(indoor, 2),
            "outdoor_temp_c": round(outdoor, 2),
            # No meter: a cumulative reading would not continue into the live
            # controller's own meter, and averages already carry the energy.
            "electric_energy_kwh": None,
            "limit_w": None,
            "limit_source": none,
            "command_id": None,
            "participation": on,
            "comfort_override": False,
        }
        for t, power, boiler, indoor, outdoor in zip(
            history.times_s.tolist(),
            history.electric_w.tolist(),
            history.boiler_thermal_w.tolist(),
            history.indoor_c.tolist(),
            history.outdoor_c.tolist(),
            strict=True,
        )
    ]


async def seed_history(
    sessions: async_sessionmaker[AsyncSession],
    *,
    homes: Sequence[tuple[str, HybridHomeConfig]],
    end: datetime,
    weather: Weather,
    days: float = 7.0,
    step_s: float = 300.0,
) -> SeededHistory:
    """Store ``days`` of uncontrolled telemetry before ``end`` for enrolled homes.

    Each home starts ``days`` before ``end`` in equilibrium at its setpoint and
    runs without limits up to ``end``; pass ``end`` = the live run's start so
    the history leads into it. Rows carry boot id ``history`` and the report's
    POSIX second as sequence number, so they never collide with a live
    controller's rows, and storing the same history twice adds nothing. All
    rows go in one transaction: either the whole history is stored or none.

    Raises:
        ValueError: naive ``end``, ``days`` outside (0, 60], or ``step_s``
            not a whole number of minutes up to an hour.
        UnknownHomeError: a home id is not enrolled (nothing is stored).
    """
    steps = _check(end, days, step_s)
    start = end - timedelta(seconds=steps * step_s)
    ids = [home_id for home_id, _ in homes]
    if len(set(ids)) != len(ids):
        raise ValueError("each home may appear only once")
    async with sessions() as session:
        await _require_enrolled(session, ids)
    began = time.perf_counter()
    # Simulating and building the rows is CPU work: off the event loop, which
    # keeps serving the aggregator's broker link meanwhile.
    prepared = await asyncio.to_thread(
        _prepare, homes, weather, start=start, steps=steps, step_s=step_s
    )
    simulated = time.perf_counter()
    added = 0
    if ids:
        async with sessions() as session, session.begin():
            before = await _count(session, ids)
            statement = _insert(session)
            for _, _, records in prepared:
                for first in range(0, len(records), _ROWS_PER_STATEMENT):
                    await session.execute(
                        statement, records[first : first + _ROWS_PER_STATEMENT]
                    )
            added = await _count(session, ids) - before
    return SeededHistory(
        rows=added,
        start=start,
        end=end,
        final_indoor_c={home_id: indoor for home_id, indoor, _ in prepared},
        simulate_s=simulated - began,
        store_s=time.perf_counter() - simulated,
    )


def _prepare(
    homes: Sequence[tuple[str, HybridHomeConfig]],
    weather: Weather,
    *,
    start: datetime,
    steps: int,
    step_s: float,
) -> list[tuple[str, float, list[dict[str, Any]]]]:
    """Each home's final indoor temperature and telemetry rows."""
    prepared = []
    for home_id, config in homes:
        history = simulate_history(
            config, weather, start=start, steps=steps, step_s=step_s
        )
        prepared.append(
            (home_id, history.final_indoor_c, history_records(home_id, history))
        )
    return prepared


def _check(end: datetime, days: float, step_s: float) -> int:
    """Validate the arguments; the number of reporting steps."""
    if end.tzinfo is None:
        raise ValueError("end needs a time zone")
    if not (math.isfinite(days) and 0 < days <= MAX_DAYS):
        raise ValueError(f"days must lie in (0, {MAX_DAYS:g}], got {days}")
    minutes = step_s / PHYSICS_STEP_S
    if not (math.isfinite(step_s) and minutes == round(minutes) and 1 <= minutes <= 60):
        raise ValueError(
            f"step_s must be a whole number of minutes, 60 to 3600 s, got {step_s}"
        )
    steps = int(days * 86_400 // step_s)
    if steps < 1:
        raise ValueError(f"{days} days hold no step of {step_s} s")
    return steps


async def _require_enrolled(session: AsyncSession, ids: list[str]) -> None:
    found = set(
        (await session.execute(select(HomeRow.id).where(HomeRow.id.in_(ids))))
        .scalars()
        .all()
    )
    missing = [home_id for home_id in ids if home_id not in found]
    if missing:
        raise UnknownHomeError(
            f"not enrolled: {', '.join(missing)}; enroll the homes before seeding history"
        )


async def _count(session: AsyncSession, ids: list[str]) -> int:
    """History rows stored for these homes."""
    query = select(func.count()).where(
        TelemetryRow.home_id.in_(ids), TelemetryRow.boot_id == HISTORY_BOOT_ID
    )
    return int((await session.execute(query)).scalar_one())


def _insert(session: AsyncSession) -> Insert:
    """An insert that skips rows whose (home, boot, seq) is already stored."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(TelemetryRow).on_conflict_do_nothing(
            constraint="uq_telemetry_home_boot_seq"
        )
    if dialect == "sqlite":
        return sqlite.insert(TelemetryRow).on_conflict_do_nothing()
    raise HistoryError(f"history can be stored in PostgreSQL or SQLite, not {dialect}")


def _outdoor(weather: Weather, times_s: NDArray[np.float64]) -> NDArray[np.float64]:
    """Outdoor temperature at many instants (vectorised where the weather allows)."""
    if isinstance(weather, ArrayWeather):
        outdoor, _ = weather.at_epoch_seconds(times_s)
        return np.asarray(outdoor, dtype=np.float64)
    return np.array(
        [
            weather.at(datetime.fromtimestamp(t, tz=UTC)).outdoor_temp_c
            for t in times_s.tolist()
        ],
        dtype=np.float64,
    )
