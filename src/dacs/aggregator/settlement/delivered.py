"""Delivered flexibility per 15-minute interval: baseline minus measured, while limited.

For each home and each interval inside an event of its congestion point, in
which the home was under an aggregator limit (``limit_source`` aggregator,
floor or gas_only at least once in the interval):

    delivered_kw = max(0, baseline_kw - measured_kw)

Other intervals deliver nothing, even if the home happened to draw less than
its baseline. The baseline of each settled day is fitted on the home's
``history_days`` before that local day, leaving out every interval that was
limited, overridden (manual limit, comfort override) or inside an event.
Pure functions over arrays; the database adapter builds the inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import logging

import numpy as np

from dacs.aggregator.domain.delivery import SETTLEMENT_INTERVAL, IntervalDelivery

from .baseline import (
    BaselineModel,
    BaselineSettings,
    BoolArray,
    FloatArray,
    IntArray,
    fit_baseline,
    fit_boiler_baseline,
    fit_pooled,
)
from .config import SettlementConfig
from .errors import NotEnoughDataError
from .periods import INTERVAL_S, LOCAL_TIME, interval_starts, time_of_day_blocks
from .remuneration import extra_boiler_heat_kw

_LOGGER = logging.getLogger(__name__)
_HOURS = INTERVAL_S / 3600


@dataclass(frozen=True, kw_only=True)
class HomeIntervals:
    """One home's telemetry as 15-minute averages (only intervals it reported in)."""

    home_id: str
    starts: IntArray  # POSIX seconds, increasing
    electric_kw: FloatArray
    boiler_kw: FloatArray  # boiler heat output; NaN where not reported
    outdoor_c: FloatArray
    limited: BoolArray  # an aggregator limit in force at some sample
    excluded: BoolArray  # a manual limit or a comfort override at some sample
    boiler_only: BoolArray  # the boiler heated while the heat pump stood still

    def __post_init__(self) -> None:
        """All arrays line up; starts increase."""
        size = len(self.starts)
        arrays = (
            self.electric_kw,
            self.boiler_kw,
            self.outdoor_c,
            self.limited,
            self.excluded,
            self.boiler_only,
        )
        if any(len(a) != size for a in arrays):
            raise ValueError("every interval array must have the length of starts")
        if size > 1 and np.any(np.diff(self.starts) <= 0):
            raise ValueError("interval starts must increase")


@dataclass(frozen=True, kw_only=True)
class EventWindow:
    """When an event limited a congestion point (cancelled events end at cancellation)."""

    event_id: str
    start: datetime
    end: datetime


@dataclass(frozen=True, kw_only=True)
class HomeDelivery:
    """One home's settled intervals: those inside an event of its congestion point."""

    home_id: str
    starts: IntArray
    baseline_kw: FloatArray  # NaN: no baseline (no outdoor temperature, no history)
    measured_kw: FloatArray  # NaN: the home did not report
    delivered_kw: FloatArray
    extra_heat_kw: FloatArray
    limited: BoolArray
    events: frozenset[str]  # events in which the home was limited and reporting

    @property
    def delivered_kwh(self) -> float:
        """Energy not drawn over the settled intervals."""
        return float(np.sum(self.delivered_kw)) * _HOURS

    @property
    def extra_heat_kwh(self) -> float:
        """Boiler heat made because of the limits."""
        return float(np.sum(self.extra_heat_kw)) * _HOURS

    def intervals(self) -> list[IntervalDelivery]:
        """The intervals the home reported in, as the grid adapters read them."""
        return [
            IntervalDelivery(
                start=_time(start),
                end=_time(start) + SETTLEMENT_INTERVAL,
                baseline_kw=float(np.nan_to_num(baseline)),
                measured_kw=float(measured),
                delivered_kw=float(delivered),
                homes_reporting=1,
            )
            for start, baseline, measured, delivered in zip(
                self.starts.tolist(),
                self.baseline_kw.tolist(),
                self.measured_kw.tolist(),
                self.delivered_kw.tolist(),
                strict=True,
            )
            if np.isfinite(measured)
        ]


def settle_deliveries(
    homes: Sequence[HomeIntervals],
    events: Sequence[EventWindow],
    start: datetime,
    end: datetime,
    config: SettlementConfig,
) -> list[HomeDelivery]:
    """Delivered flexibility of each home in the event intervals of ``[start, end)``.

    ``homes`` must hold telemetry from ``history_days`` before ``start`` on,
    so that each settled day has its history.
    """
    settings = BaselineSettings(
        blocks_per_day=24 // config.block_hours,
        min_intervals=int(config.min_history_days * 96),
    )
    grid = interval_starts(start, end)
    event_ids = [_events_at(events, s) for s in grid.tolist()]
    settled = (
        grid[np.array([bool(ids) for ids in event_ids], dtype=bool)]
        if len(grid)
        else grid
    )
    ids_at = dict(zip(grid.tolist(), event_ids, strict=True))
    blocks = time_of_day_blocks(settled, config.block_hours)
    baselines = {h.home_id: np.full(len(settled), np.nan) for h in homes}
    boiler_baselines = {h.home_id: np.full(len(settled), np.nan) for h in homes}
    days = _local_days(settled)
    for day_start, members in days.items():
        models = _fit_day(homes, events, day_start, config, settings)
        for home in homes:
            fitted = models.get(home.home_id)
            if fitted is None:
                continue
            outdoor = _lookup(home, home.outdoor_c, settled[members])
            baselines[home.home_id][members] = fitted[0].predict(
                outdoor, blocks[members]
            )
            boiler_baselines[home.home_id][members] = fitted[1].predict(
                outdoor, blocks[members]
            )
    results = []
    for home in homes:
        measured = _lookup(home, home.electric_kw, settled)
        limited = _lookup(home, home.limited, settled, missing=False).astype(bool)
        baseline = baselines[home.home_id]
        usable = limited & np.isfinite(measured) & np.isfinite(baseline)
        delivered = np.where(
            usable,
            np.maximum(0.0, np.nan_to_num(baseline) - np.nan_to_num(measured)),
            0.0,
        )
        extra = np.where(
            usable,
            extra_boiler_heat_kw(
                boiler_measured_kw=_lookup(home, home.boiler_kw, settled),
                boiler_baseline_kw=boiler_baselines[home.home_id],
                electric_baseline_kw=baseline,
                delivered_kw=delivered,
                max_cop=config.max_cop,
            ),
            0.0,
        )
        took_part = {
            event_id
            for s, ok in zip(settled.tolist(), usable.tolist(), strict=True)
            if ok
            for event_id in ids_at[s]
        }
        results.append(
            HomeDelivery(
                home_id=home.home_id,
                starts=settled,
                baseline_kw=baseline,
                measured_kw=measured,
                delivered_kw=delivered,
                extra_heat_kw=extra,
                limited=limited,
                events=frozenset(took_part),
            )
        )
    return results


def congestion_point_intervals(
    deliveries: Sequence[HomeDelivery],
) -> list[IntervalDelivery]:
    """Sum the homes per interval; ``homes_reporting`` counts homes with telemetry.

    ``delivered_kw`` sums only limited homes' deliveries, so it may be less
    than the sum of baselines minus the sum of measured powers.
    """
    if not deliveries:
        return []
    starts = deliveries[0].starts
    baseline = np.zeros(len(starts))
    measured = np.zeros(len(starts))
    delivered = np.zeros(len(starts))
    reporting = np.zeros(len(starts), dtype=np.int64)
    for home in deliveries:
        if not np.array_equal(home.starts, starts):
            raise ValueError("every home must be settled over the same intervals")
        present = np.isfinite(home.measured_kw)
        measured += np.where(present, home.measured_kw, 0.0)
        baseline += np.where(present, np.nan_to_num(home.baseline_kw), 0.0)
        delivered += home.delivered_kw
        reporting += present
    return [
        IntervalDelivery(
            start=_time(s),
            end=_time(s) + SETTLEMENT_INTERVAL,
            baseline_kw=float(b),
            measured_kw=float(m),
            delivered_kw=float(d),
            homes_reporting=int(n),
        )
        for s, b, m, d, n in zip(
            starts.tolist(),
            baseline.tolist(),
            measured.tolist(),
            delivered.tolist(),
            reporting.tolist(),
            strict=True,
        )
    ]


def _fit_day(
    homes: Sequence[HomeIntervals],
    events: Sequence[EventWindow],
    day_start: datetime,
    config: SettlementConfig,
    settings: BaselineSettings,
) -> dict[str, tuple[BaselineModel, BaselineModel]]:
    """Each home's (electric, boiler) baseline from the days before ``day_start``."""
    since = (day_start - timedelta(days=config.history_days)).timestamp()
    until = day_start.timestamp()
    inputs = {}
    for home in homes:
        here = (home.starts >= since) & (home.starts < until)
        starts = home.starts[here]
        in_event = np.array(
            [bool(_events_at(events, int(s))) for s in starts], dtype=bool
        )
        eligible = ~home.limited[here] & ~home.excluded[here] & ~in_event
        inputs[home.home_id] = (
            home.outdoor_c[here],
            home.electric_kw[here],
            home.boiler_kw[here],
            time_of_day_blocks(starts, config.block_hours),
            eligible,
            home.boiler_only[here],
        )
    pooled_electric: BaselineModel | None = None
    pooled_boiler: BaselineModel | None = None
    if any(
        int(ok.sum()) < settings.min_intervals or int((ok & ~only).sum()) < 2
        for *_, ok, only in inputs.values()
    ):
        pooled_electric = fit_pooled(
            [(o, e, b, ok & ~only) for o, e, _, b, ok, only in inputs.values()],
            settings=settings,
        )
        pooled_boiler = fit_pooled(
            [(o, h, b, ok & ~only) for o, _, h, b, ok, only in inputs.values()],
            settings=settings,
        )
    models = {}
    for home_id, (outdoor, electric, boiler, blocks, eligible, only) in inputs.items():
        try:
            models[home_id] = (
                fit_baseline(
                    outdoor,
                    electric,
                    blocks,
                    eligible,
                    settings=settings,
                    boiler_only=only,
                    pooled=pooled_electric,
                ),
                fit_boiler_baseline(
                    outdoor,
                    boiler,
                    blocks,
                    eligible,
                    only,
                    settings=settings,
                    pooled=pooled_boiler,
                ),
            )
        except NotEnoughDataError as err:
            _LOGGER.warning(
                "no baseline for %s on %s: %s; its intervals deliver nothing",
                home_id,
                day_start.astimezone(LOCAL_TIME).date(),
                err,
            )
    return models


def _events_at(events: Sequence[EventWindow], start_s: int) -> tuple[str, ...]:
    begin = start_s
    finish = start_s + INTERVAL_S
    return tuple(
        e.event_id
        for e in events
        if e.start.timestamp() < finish and e.end.timestamp() > begin
    )


def _local_days(starts: IntArray) -> dict[datetime, BoolArray]:
    """Settled intervals grouped by local calendar day (keyed by the day's UTC start)."""
    days: dict[datetime, list[int]] = {}
    for index, start in enumerate(starts.tolist()):
        local = datetime.fromtimestamp(start, tz=LOCAL_TIME)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(
            UTC
        )
        days.setdefault(midnight, []).append(index)
    result = {}
    for day, indices in days.items():
        mask = np.zeros(len(starts), dtype=bool)
        mask[indices] = True
        result[day] = mask
    return result


def _lookup(
    home: HomeIntervals,
    values: np.ndarray,
    starts: IntArray,
    *,
    missing: float | bool = np.nan,
) -> FloatArray:
    """The home's values at these interval starts; ``missing`` where it did not report."""
    result = np.full(len(starts), missing, dtype=np.float64)
    if len(home.starts) == 0 or len(starts) == 0:
        return result
    position = np.clip(np.searchsorted(home.starts, starts), 0, len(home.starts) - 1)
    found = home.starts[position] == starts
    result[found] = values[position[found]]
    return result


def _time(start_s: int) -> datetime:
    return datetime.fromtimestamp(start_s, tz=UTC)
