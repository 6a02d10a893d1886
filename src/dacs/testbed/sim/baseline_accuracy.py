"""How well the baseline predicts, measured where the truth is known: the simulator.

Run it with ``python -m dacs.testbed.sim.baseline_accuracy [--homes N]``. It lives
beside the simulator, not in the aggregator, because shipped code must not
depend on the simulator.

For each event day, every home of a simulated neighbourhood (real KNMI weather)
runs its preceding days without any limit; that telemetry fits its baseline.
The event window then runs twice from the same state: once without a limit
(the true counterfactual) and once with the event's limit (what a meter would
measure). The baseline's prediction is compared with the counterfactual per
15-minute interval, per home and for the congestion point (the sum of the
homes), next to the naive baseline "the same interval yesterday". The
delivered flexibility and the extra gas it implies are compared too.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
import copy
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import numpy as np

from dacs.aggregator.settlement.baseline import (
    RUNNING_KW,
    BaselineModel,
    BaselineSettings,
    BaselineSource,
    FloatArray,
    fit_baseline,
    fit_boiler_baseline,
    fit_pooled,
)
from dacs.aggregator.settlement.config import SettlementConfig
from dacs.aggregator.settlement.periods import (
    INTERVAL_S,
    LOCAL_TIME,
    time_of_day_blocks,
)
from dacs.aggregator.settlement.remuneration import extra_boiler_heat_kw

from .home_config import HybridHomeConfig
from .hybrid import make_neighbourhood_configs
from .neighbourhood_model import IntervalRecord, NeighbourhoodModel
from .realistic import make_realistic_configs
from .weather import WeatherSeries

_STEP_S = 60.0
_DAY = 96  # intervals
_BOILER_ONLY_KW = 0.2
# Every fifth day from mid-December to late February 2025: cold snaps and mild spells.
DEFAULT_EVENT_DAYS = tuple(
    date(2024, 12, 16) + timedelta(days=5 * i) for i in range(15)
)


@dataclass(frozen=True, kw_only=True)
class AccuracyScenario:
    """Which homes, which days, which event."""

    homes: int = 30
    seed: int = 2025
    event_days: tuple[date, ...] = DEFAULT_EVENT_DAYS
    event_start: time = time(16, 0)  # local time, as in ElaadNL's profiles
    event_duration: timedelta = timedelta(hours=4, minutes=30)
    limit_share: float = 0.5  # the home's limit, as a share of its nominal power
    own_history_days: float | None = None  # None: all of the config's history days
    # Realistic homes (occupants, hot water, setback, sensor noise, compressor
    # timers, real heat pump models); False: the generic homes of
    # make_neighbourhood_configs, exact sensors.
    realistic: bool = True

    def __post_init__(self) -> None:
        """Refuse scenarios the weather or the grid cannot hold."""
        if self.homes < 2:
            raise ValueError("at least two homes (the pooled fit leaves one half out)")
        if not self.event_days:
            raise ValueError("at least one event day")
        if (
            self.event_duration.total_seconds() % INTERVAL_S
            or self.event_duration <= timedelta(0)
        ):
            raise ValueError("the event must last whole 15-minute intervals")
        if not 0 <= self.limit_share < 1:
            raise ValueError("limit_share must lie in [0, 1)")


@dataclass(frozen=True, kw_only=True)
class ErrorFigures:
    """Errors of a prediction per 15-minute interval."""

    mae_kw: float
    bias_kw: float  # mean of prediction minus truth: > 0 over-predicts
    nmae: float  # sum of absolute errors over the sum of the truth
    intervals: int

    @classmethod
    def of(cls, predicted: FloatArray, actual: FloatArray) -> ErrorFigures:
        """Compare paired intervals."""
        error = np.asarray(predicted) - np.asarray(actual)
        total = float(np.sum(actual))
        return cls(
            mae_kw=float(np.mean(np.abs(error))),
            bias_kw=float(np.mean(error)),
            nmae=float(np.sum(np.abs(error)) / total) if total > 0 else float("nan"),
            intervals=int(error.size),
        )


@dataclass(frozen=True, kw_only=True)
class HomeAccuracy:
    """One home over every event day."""

    home: int
    baseline: ErrorFigures
    naive: ErrorFigures
    pooled_days: int  # event days on which the pooled fallback was used


@dataclass(frozen=True, kw_only=True)
class AccuracyReport:
    """The measured figures."""

    scenario: AccuracyScenario
    homes: tuple[HomeAccuracy, ...]
    home_intervals: ErrorFigures  # every home-interval pooled
    home_intervals_naive: ErrorFigures
    congestion_point: ErrorFigures  # the sum over homes per interval
    congestion_point_naive: ErrorFigures
    delivered_true_kwh: float
    delivered_estimated_kwh: float
    extra_gas_true_m3: float
    extra_gas_estimated_m3: float


@dataclass
class _Series:
    """Per-interval arrays of one home on one day, gathered for the metrics."""

    truth: list[FloatArray] = field(default_factory=list)
    baseline: list[FloatArray] = field(default_factory=list)
    naive: list[FloatArray] = field(default_factory=list)
    pooled_days: int = 0


@dataclass(frozen=True)
class _History:
    outdoor: FloatArray
    electric: FloatArray
    boiler: FloatArray
    blocks: np.ndarray
    eligible: np.ndarray
    boiler_only: np.ndarray
    indoor_c: float


def measure_baseline_accuracy(
    scenario: AccuracyScenario | None = None,
    config: SettlementConfig | None = None,
    weather: WeatherSeries | None = None,
) -> AccuracyReport:
    """Simulate the scenario and measure the baseline against the true counterfactual."""
    scenario = scenario or AccuracyScenario()
    config = config or SettlementConfig()
    weather = weather or WeatherSeries.default(wrap=True)
    settings = baseline_settings(config)
    make = make_realistic_configs if scenario.realistic else make_neighbourhood_configs
    homes = make(scenario.homes, scenario.seed)
    series = [_Series() for _ in homes]
    point_truth: list[FloatArray] = []
    point_baseline: list[FloatArray] = []
    point_naive: list[FloatArray] = []
    delivered_true = delivered_estimated = gas_true = gas_estimated = 0.0
    for day in scenario.event_days:
        start = datetime.combine(day, scenario.event_start, LOCAL_TIME).astimezone(UTC)
        histories, model = _histories(homes, weather, start, config, settings)
        windows = _windows(model, homes, scenario)
        own = _own_history(histories, scenario, settings)
        electric_pools, boiler_pools = _pools(histories, settings)
        intervals = int(scenario.event_duration.total_seconds()) // INTERVAL_S
        day_truth = np.zeros(intervals)
        day_baseline = np.zeros(intervals)
        day_naive = np.zeros(intervals)
        for index, history in enumerate(histories):
            half = index % 2  # the pool fitted on the other half of the homes
            electric_model = fit_baseline(
                history.outdoor,
                history.electric,
                history.blocks,
                own[index],
                settings=settings,
                boiler_only=history.boiler_only,
                pooled=electric_pools[1 - half],
            )
            boiler_model = fit_boiler_baseline(
                history.outdoor,
                history.boiler,
                history.blocks,
                own[index],
                history.boiler_only,
                settings=settings,
                pooled=boiler_pools[1 - half],
            )
            window = windows[index]
            blocks = time_of_day_blocks(window.starts, config.block_hours)
            predicted = electric_model.predict(window.outdoor, blocks)
            naive = history.electric[-_DAY : -_DAY + len(predicted)]
            record = series[index]
            record.truth.append(window.counterfactual_kw)
            record.baseline.append(predicted)
            record.naive.append(naive)
            record.pooled_days += electric_model.source is BaselineSource.POOLED
            day_truth = day_truth + window.counterfactual_kw
            day_baseline = day_baseline + predicted
            day_naive = day_naive + naive
            hours = INTERVAL_S / 3600
            delivered_true += (
                float(
                    np.sum(
                        np.maximum(
                            0.0, window.counterfactual_kw - window.limited_true_kw
                        )
                    )
                )
                * hours
            )
            estimated = np.maximum(0.0, predicted - window.limited_kw)
            delivered_estimated += float(np.sum(estimated)) * hours
            gas_true += window.extra_gas_m3
            gas_estimated += _estimated_gas_m3(
                boiler_model=boiler_model,
                window=window,
                blocks=blocks,
                electric_baseline=predicted,
                delivered_kw=estimated,
                config=config,
            )
        point_truth.append(day_truth)
        point_baseline.append(day_baseline)
        point_naive.append(day_naive)
    per_home = tuple(
        HomeAccuracy(
            home=index,
            baseline=ErrorFigures.of(
                np.concatenate(s.baseline), np.concatenate(s.truth)
            ),
            naive=ErrorFigures.of(np.concatenate(s.naive), np.concatenate(s.truth)),
            pooled_days=s.pooled_days,
        )
        for index, s in enumerate(series)
    )
    truth_all = np.concatenate([np.concatenate(s.truth) for s in series])
    return AccuracyReport(
        scenario=scenario,
        homes=per_home,
        home_intervals=ErrorFigures.of(
            np.concatenate([np.concatenate(s.baseline) for s in series]), truth_all
        ),
        home_intervals_naive=ErrorFigures.of(
            np.concatenate([np.concatenate(s.naive) for s in series]), truth_all
        ),
        congestion_point=ErrorFigures.of(
            np.concatenate(point_baseline), np.concatenate(point_truth)
        ),
        congestion_point_naive=ErrorFigures.of(
            np.concatenate(point_naive), np.concatenate(point_truth)
        ),
        delivered_true_kwh=delivered_true,
        delivered_estimated_kwh=delivered_estimated,
        extra_gas_true_m3=gas_true,
        extra_gas_estimated_m3=gas_estimated,
    )


def baseline_settings(config: SettlementConfig) -> BaselineSettings:
    """The baseline's settings that follow from the settlement's configuration."""
    return BaselineSettings(
        blocks_per_day=24 // config.block_hours,
        min_intervals=int(config.min_history_days * _DAY),
    )


def _histories(
    homes: Sequence[HybridHomeConfig],
    weather: WeatherSeries,
    event_start: datetime,
    config: SettlementConfig,
    settings: BaselineSettings,
) -> tuple[list[_History], NeighbourhoodModel]:
    """Every home's unlimited days before the event, as its telemetry reports them."""
    start = event_start - timedelta(days=config.history_days)
    model = NeighbourhoodModel(homes, weather, start, meter_seed=int(start.timestamp()))
    run = model.run(
        config.history_days * 86_400.0, _STEP_S, record_interval_s=INTERVAL_S
    )
    if run.record is None:
        raise RuntimeError("run(record_interval_s=...) returned no record")
    record = run.record
    starts = record.starts_s.astype(np.int64)
    blocks = time_of_day_blocks(starts, 24 // settings.blocks_per_day)
    histories = []
    for index in range(len(homes)):
        # The power sensor's reading, not the truth, is what the baseline sees.
        electric = record.metered_electric_w[:, index] / 1000
        boiler = record.boiler_thermal_w[:, index] / 1000
        histories.append(
            _History(
                outdoor=record.outdoor_temp_c,
                electric=electric,
                boiler=boiler,
                blocks=blocks,
                eligible=np.ones(len(electric), dtype=bool),
                boiler_only=(electric < RUNNING_KW) & (boiler > _BOILER_ONLY_KW),
                indoor_c=float(model.indoor_c[index]),
            )
        )
    return histories, model


def _own_history(
    histories: Sequence[_History],
    scenario: AccuracyScenario,
    settings: BaselineSettings,
) -> list[np.ndarray]:
    """Eligible masks: all history, or only the last ``own_history_days`` (a newcomer)."""
    if scenario.own_history_days is None:
        return [h.eligible for h in histories]
    keep = int(scenario.own_history_days * _DAY)
    masks = []
    for history in histories:
        mask = np.zeros_like(history.eligible)
        if keep:
            mask[-keep:] = history.eligible[-keep:]
        masks.append(mask)
    return masks


def _pools(
    histories: Sequence[_History], settings: BaselineSettings
) -> tuple[list[BaselineModel | None], list[BaselineModel | None]]:
    """Pooled fits of the even and of the odd homes (each home uses the other half's)."""
    electric: list[BaselineModel | None] = []
    boiler: list[BaselineModel | None] = []
    for half in (0, 1):
        group = histories[half::2]
        electric.append(
            fit_pooled(
                [
                    (h.outdoor, h.electric, h.blocks, h.eligible & ~h.boiler_only)
                    for h in group
                ],
                settings=settings,
            )
        )
        boiler.append(
            fit_pooled(
                [
                    (h.outdoor, h.boiler, h.blocks, h.eligible & ~h.boiler_only)
                    for h in group
                ],
                settings=settings,
            )
        )
    return electric, boiler


@dataclass(frozen=True)
class _Window:
    starts: np.ndarray
    outdoor: FloatArray
    counterfactual_kw: FloatArray
    limited_kw: FloatArray  # as the power sensor reports it
    limited_true_kw: FloatArray
    counterfactual_boiler_kw: FloatArray
    limited_boiler_kw: FloatArray
    extra_gas_m3: float


def _windows(
    model: NeighbourhoodModel,
    homes: Sequence[HybridHomeConfig],
    scenario: AccuracyScenario,
) -> list[_Window]:
    """The event window twice from the same state: without and with the limit."""
    duration = scenario.event_duration.total_seconds()
    free_model = copy.deepcopy(model)
    limited_model = copy.deepcopy(model)
    for index, home in enumerate(homes):
        limited_model.set_limit(
            index, scenario.limit_share * home.heat_pump.nominal_electric_w
        )
    free = free_model.run(duration, _STEP_S, record_interval_s=INTERVAL_S)
    limited = limited_model.run(duration, _STEP_S, record_interval_s=INTERVAL_S)
    if free.record is None or limited.record is None:
        raise RuntimeError("run(record_interval_s=...) returned no record")
    extra_gas = (limited_model.gas_m3 - model.gas_m3) - (
        free_model.gas_m3 - model.gas_m3
    )
    return [
        _window_of(free.record, limited.record, index, float(extra_gas[index]))
        for index in range(len(homes))
    ]


def _window_of(
    free: IntervalRecord, limited: IntervalRecord, index: int, extra_gas_m3: float
) -> _Window:
    return _Window(
        starts=free.starts_s.astype(np.int64),
        outdoor=free.outdoor_temp_c,
        counterfactual_kw=free.hp_electric_w[:, index] / 1000,  # the truth
        limited_kw=limited.metered_electric_w[:, index] / 1000,  # what is measured
        limited_true_kw=limited.hp_electric_w[:, index] / 1000,
        counterfactual_boiler_kw=free.boiler_thermal_w[:, index] / 1000,
        limited_boiler_kw=limited.boiler_thermal_w[:, index] / 1000,
        extra_gas_m3=extra_gas_m3,
    )


def _estimated_gas_m3(
    *,
    boiler_model: BaselineModel,
    window: _Window,
    blocks: np.ndarray,
    electric_baseline: FloatArray,
    delivered_kw: FloatArray,
    config: SettlementConfig,
) -> float:
    """Extra gas by the settlement's rule, for the whole window (every interval limited)."""
    baseline = boiler_model.predict(window.outdoor, blocks)
    extra = extra_boiler_heat_kw(
        boiler_measured_kw=window.limited_boiler_kw,
        boiler_baseline_kw=baseline,
        electric_baseline_kw=electric_baseline,
        delivered_kw=delivered_kw,
        max_cop=config.max_cop,
    )
    heat_kwh = float(np.sum(extra)) * INTERVAL_S / 3600
    return heat_kwh / config.boiler_efficiency / config.gas_kwh_per_m3


def format_report(report: AccuracyReport) -> str:
    """The figures as a table a person reads."""
    s = report.scenario
    lines = [
        (
            f"{s.homes} simulated homes (seed {s.seed}), KNMI De Bilt weather, "
            f"{len(s.event_days)} event days {s.event_days[0]} .. {s.event_days[-1]}, "
            f"window {s.event_start:%H:%M} local for {s.event_duration}, limit {s.limit_share:.0%} of nominal"
        ),
        f"own history: {'all' if s.own_history_days is None else f'{s.own_history_days:g} days'}",
        (
            "homes: realistic (occupants, hot water, setback, sensor noise, timers)"
            if s.realistic
            else "homes: generic (steady thermostat, no hot water, exact sensors)"
        ),
        "",
        f"{'per 15-minute interval':<36}{'MAE kW':>10}{'bias kW':>10}{'NMAE':>8}{'n':>7}",
    ]
    rows = (
        ("homes, weather baseline", report.home_intervals),
        ("homes, previous day", report.home_intervals_naive),
        ("congestion point, weather baseline", report.congestion_point),
        ("congestion point, previous day", report.congestion_point_naive),
    )
    lines += [
        f"{name:<36}{f.mae_kw:>10.3f}{f.bias_kw:>10.3f}{f.nmae:>8.1%}{f.intervals:>7}"
        for name, f in rows
    ]
    nmae = np.array([h.baseline.nmae for h in report.homes])
    naive = np.array([h.naive.nmae for h in report.homes])
    lines += [
        "",
        (
            f"per-home NMAE: median {np.nanmedian(nmae):.1%}, worst {np.nanmax(nmae):.1%} "
            f"(previous day: median {np.nanmedian(naive):.1%}, worst {np.nanmax(naive):.1%})"
        ),
        (
            f"homes better than the previous-day baseline: "
            f"{int(np.sum(nmae < naive))} of {len(report.homes)}"
        ),
        f"pooled fallback used on {sum(h.pooled_days for h in report.homes)} home-days",
        (
            f"delivered flexibility: estimated {report.delivered_estimated_kwh:.1f} kWh, "
            f"true {report.delivered_true_kwh:.1f} kWh "
            f"({_ratio(report.delivered_estimated_kwh, report.delivered_true_kwh)})"
        ),
        (
            f"extra gas: estimated {report.extra_gas_estimated_m3:.2f} m³, "
            f"true {report.extra_gas_true_m3:.2f} m³ "
            f"({_ratio(report.extra_gas_estimated_m3, report.extra_gas_true_m3)})"
        ),
    ]
    return "\n".join(lines)


def _ratio(estimated: float, true: float) -> str:
    return f"{estimated / true - 1:+.1%}" if true else "n/a"


def main() -> None:
    """Run the accuracy measurement and print its table."""
    parser = argparse.ArgumentParser(
        prog="python -m dacs.testbed.sim.baseline_accuracy"
    )
    parser.add_argument("--homes", type=int, default=30)
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument(
        "--own-history-days",
        type=float,
        default=None,
        help="give every home only this much history (tests the pooled fallback)",
    )
    parser.add_argument(
        "--generic",
        action="store_true",
        help="the generic homes without occupants, hot water or sensor noise",
    )
    args = parser.parse_args()
    scenario = AccuracyScenario(
        homes=args.homes,
        seed=args.seed,
        own_history_days=args.own_history_days,
        realistic=not args.generic,
    )
    print(format_report(measure_baseline_accuracy(scenario)))  # noqa: T201 - a CLI


if __name__ == "__main__":
    main()
