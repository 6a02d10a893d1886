"""Weather-dependent baselines of hybrid heat pumps: what a home would have drawn.

A heat pump's electric power follows the heat loss of the house, which falls
roughly linearly as the outdoor temperature rises, until the heat pump reaches
its capacity (cold side) or the house needs no heat (mild side). So the
baseline is a robust fit of interval-average kW against outdoor °C:

* one line, or two joined lines (a hinge) where the data show a bend, fitted
  with Huber weights so that a few odd intervals (hot water, a window left
  open, a sensor glitch) do not pull it;
* per local time-of-day block (sun, habits) where a block holds enough
  intervals, otherwise the home's whole-day fit; a block whose temperatures
  barely vary keeps the whole-day slope and only shifts its level;
* zero below the home's observed switch-over temperature (the boiler alone
  heats there, so there is nothing to curtail);
* clipped to [0, a little above the highest power seen].

Homes with too little history get the neighbourhood's pooled fit, scaled to
the home's own level when it has at least a few intervals. Everything here is
pure NumPy; callers decide which intervals are eligible (not limited, no event,
no comfort override, no boiler-only operation).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

from dacs.protocol.rules import COMPRESSOR_RUNNING_W

from .errors import NotEnoughDataError

type FloatArray = NDArray[np.float64]
type IntArray = NDArray[np.int64]
type BoolArray = NDArray[np.bool_]

# Below this interval average the compressor counts as off (kW).
RUNNING_KW = COMPRESSOR_RUNNING_W / 1000
# Intervals of the home's own needed before the pooled fit is scaled to it.
_MIN_SCALING_INTERVALS = 8
_SCALE_BOUNDS = (0.2, 5.0)
_HINGE_QUANTILES = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
_HINGE_GAIN = 0.9  # a hinge must cut the robust loss by 10 % to be used


class BaselineSource(StrEnum):
    """Whose history a baseline was fitted on."""

    HOME = "home"
    POOLED = "pooled"


@dataclass(frozen=True, kw_only=True)
class BaselineSettings:
    """How much data a fit needs, and how robust it is."""

    blocks_per_day: int = 6
    min_intervals: int = 288  # three days of 15-minute intervals
    min_block_intervals: int = 24
    min_spread_k: float = 2.0
    huber_k: float = 1.345
    cap_margin: float = 1.1

    def __post_init__(self) -> None:
        """Refuse settings no fit can honour."""
        if self.blocks_per_day < 1 or 24 % self.blocks_per_day:
            raise ValueError("blocks_per_day must divide 24")
        if self.min_intervals < 0 or self.min_block_intervals < 2:
            raise ValueError("min_intervals >= 0 and min_block_intervals >= 2")
        if not (self.huber_k > 0 and self.cap_margin >= 1 and self.min_spread_k >= 0):
            raise ValueError("huber_k > 0, cap_margin >= 1, min_spread_k >= 0")


@dataclass(frozen=True, kw_only=True)
class LineFit:
    """``intercept + slope * T``, plus ``hinge_slope * max(0, T - hinge_c)`` when bent."""

    intercept: float
    slope: float
    hinge_c: float | None = None
    hinge_slope: float = 0.0

    def value(self, outdoor_c: FloatArray) -> FloatArray:
        """Unclipped prediction at these outdoor temperatures."""
        result: FloatArray = self.intercept + self.slope * outdoor_c
        if self.hinge_c is not None:
            result = result + self.hinge_slope * np.maximum(
                0.0, outdoor_c - self.hinge_c
            )
        return result


@dataclass(frozen=True, kw_only=True)
class BaselineModel:
    """A fitted baseline: predicts interval-average kW from outdoor °C and block."""

    source: BaselineSource
    day: LineFit
    blocks: tuple[LineFit | None, ...]
    max_kw: float
    switch_over_c: float | None = None
    scale: float = 1.0
    intervals: int = 0  # eligible intervals of the home itself

    def predict(self, outdoor_c: FloatArray, block: IntArray) -> FloatArray:
        """Baseline kW per interval; NaN where the outdoor temperature is unknown."""
        outdoor = np.asarray(outdoor_c, dtype=np.float64)
        blocks = np.asarray(block, dtype=np.int64)
        if outdoor.shape != blocks.shape:
            raise ValueError("outdoor_c and block must have the same shape")
        known = np.isfinite(outdoor)
        filled = np.where(known, outdoor, 0.0)
        values = self.day.value(filled)
        for index, fit in enumerate(self.blocks):
            if fit is not None:
                here = blocks == index
                values[here] = fit.value(filled[here])
        values = np.clip(values * self.scale, 0.0, self.max_kw)
        if self.switch_over_c is not None:
            values[filled <= self.switch_over_c] = 0.0
        values[~known] = np.nan
        return values


def fit_baseline(
    outdoor_c: FloatArray,
    value_kw: FloatArray,
    block: IntArray,
    eligible: BoolArray,
    *,
    settings: BaselineSettings | None = None,
    boiler_only: BoolArray | None = None,
    pooled: BaselineModel | None = None,
) -> BaselineModel:
    """Fit a home's baseline on its eligible intervals, or fall back to ``pooled``.

    ``boiler_only`` marks unlimited intervals in which the boiler heated while
    the heat pump stood still; they set the switch-over temperature and are
    never fitted. Raises NotEnoughDataError when the home has too little
    history and no pooled fit is given.
    """
    settings = settings or BaselineSettings()
    outdoor, value, blocks, usable = _clean(outdoor_c, value_kw, block, eligible)
    switch_over = None
    # Boiler-only intervals count as history (they show the switch-over) but are not fitted.
    history = int(usable.sum())
    if boiler_only is not None:
        only = np.asarray(boiler_only, dtype=bool)
        if only.shape != outdoor.shape:
            raise ValueError("boiler_only must have the shape of outdoor_c")
        switch_over = estimate_switch_over(outdoor, value, usable, only)
        usable &= ~only
    if history < max(settings.min_intervals, 2) or int(usable.sum()) < 2:
        if pooled is None:
            raise NotEnoughDataError(
                f"{history} eligible intervals, {settings.min_intervals} needed,"
                " and no pooled fit"
            )
        return _scaled(
            pooled, outdoor[usable], value[usable], blocks[usable], switch_over
        )
    return _fit(
        outdoor[usable],
        value[usable],
        blocks[usable],
        settings,
        source=BaselineSource.HOME,
        switch_over_c=switch_over,
    )


def fit_boiler_baseline(
    outdoor_c: FloatArray,
    boiler_kw: FloatArray,
    block: IntArray,
    eligible: BoolArray,
    boiler_only: BoolArray,
    *,
    settings: BaselineSettings | None = None,
    pooled: BaselineModel | None = None,
) -> BaselineModel:
    """The boiler's heat output a home would have had, for the gas compensation.

    Fitted like the electric baseline on the intervals in which the heat pump
    ran (boiler-only intervals are another regime, and there the heat pump
    had nothing to give). The home's history is already vouched for by its
    electric fit, so a block's worth of such intervals suffices; with fewer,
    the pooled fit, and without one a zero baseline (every extra kWh of boiler
    heat then counts, still capped by ``max_cop`` times the delivered energy).
    """
    settings = settings or BaselineSettings()
    usable = np.asarray(eligible, dtype=bool) & ~np.asarray(boiler_only, dtype=bool)
    try:
        return fit_baseline(
            outdoor_c,
            boiler_kw,
            block,
            usable,
            settings=replace(settings, min_intervals=settings.min_block_intervals),
            pooled=pooled,
        )
    except NotEnoughDataError:
        return BaselineModel(
            source=BaselineSource.POOLED,
            day=LineFit(intercept=0.0, slope=0.0),
            blocks=(),
            max_kw=0.0,
        )


def fit_pooled(
    histories: Sequence[tuple[FloatArray, FloatArray, IntArray, BoolArray]],
    *,
    settings: BaselineSettings | None = None,
) -> BaselineModel | None:
    """One fit over the eligible intervals of many homes; None when they have none.

    Values are taken as they are: the pooled fit predicts the neighbourhood's
    average home, which :func:`fit_baseline` scales to a home's own level.
    """
    settings = settings or BaselineSettings()
    parts = [_clean(*history) for history in histories]
    outdoor = np.concatenate([p[0][p[3]] for p in parts]) if parts else np.empty(0)
    if len(outdoor) < 2:
        return None
    value = np.concatenate([p[1][p[3]] for p in parts])
    blocks = np.concatenate([p[2][p[3]] for p in parts])
    return _fit(
        outdoor,
        value,
        blocks,
        settings,
        source=BaselineSource.POOLED,
        switch_over_c=None,
    )


def estimate_switch_over(
    outdoor_c: FloatArray,
    value_kw: FloatArray,
    eligible: BoolArray,
    boiler_only: BoolArray,
) -> float | None:
    """The temperature below which the home heats with its boiler alone, if seen.

    Boiler-only intervals warmer than the coldest twentieth of running
    intervals are not switch-over (hot water, defrost, a fault) and are ignored.
    """
    running = eligible & ~boiler_only & (value_kw >= RUNNING_KW)
    cold = eligible & boiler_only
    if not cold.any() or not running.any():
        return None
    limit = float(np.quantile(outdoor_c[running], 0.05))
    below = outdoor_c[cold][outdoor_c[cold] < limit]
    return float(below.max()) if below.size else None


def _clean(
    outdoor_c: FloatArray, value_kw: FloatArray, block: IntArray, eligible: BoolArray
) -> tuple[FloatArray, FloatArray, IntArray, BoolArray]:
    outdoor = np.asarray(outdoor_c, dtype=np.float64)
    value = np.asarray(value_kw, dtype=np.float64)
    blocks = np.asarray(block, dtype=np.int64)
    usable = np.asarray(eligible, dtype=bool)
    if (
        not (outdoor.shape == value.shape == blocks.shape == usable.shape)
        or outdoor.ndim != 1
    ):
        raise ValueError(
            "outdoor_c, value_kw, block and eligible must be 1-D of one length"
        )
    usable = usable & np.isfinite(outdoor) & np.isfinite(value) & (value >= 0)
    return outdoor, value, blocks, usable


def _fit(
    outdoor: FloatArray,
    value: FloatArray,
    blocks: IntArray,
    settings: BaselineSettings,
    *,
    source: BaselineSource,
    switch_over_c: float | None,
) -> BaselineModel:
    day = robust_fit(outdoor, value, settings)
    fits: list[LineFit | None] = []
    for index in range(settings.blocks_per_day):
        here = blocks == index
        if int(here.sum()) < settings.min_block_intervals:
            fits.append(None)
        elif _spread(outdoor[here]) >= settings.min_spread_k:
            fits.append(robust_fit(outdoor[here], value[here], settings))
        else:
            # Too little weather variation to see a slope: keep the day's shape, shift its level.
            shift = float(np.median(value[here] - day.value(outdoor[here])))
            fits.append(
                LineFit(
                    intercept=day.intercept + shift,
                    slope=day.slope,
                    hinge_c=day.hinge_c,
                    hinge_slope=day.hinge_slope,
                )
            )
    return BaselineModel(
        source=source,
        day=day,
        blocks=tuple(fits),
        max_kw=float(np.quantile(value, 0.99)) * settings.cap_margin,
        switch_over_c=switch_over_c,
        intervals=len(value) if source is BaselineSource.HOME else 0,
    )


def _scaled(
    pooled: BaselineModel,
    outdoor: FloatArray,
    value: FloatArray,
    blocks: IntArray,
    switch_over_c: float | None,
) -> BaselineModel:
    scale = 1.0
    if len(value) >= _MIN_SCALING_INTERVALS:
        predicted = float(pooled.predict(outdoor, blocks).sum())
        if predicted > 1e-6:
            scale = float(np.clip(value.sum() / predicted, *_SCALE_BOUNDS))
    return BaselineModel(
        source=BaselineSource.POOLED,
        day=pooled.day,
        blocks=pooled.blocks,
        max_kw=pooled.max_kw * scale,
        switch_over_c=switch_over_c,
        scale=scale,
        intervals=len(value),
    )


def _spread(values: FloatArray) -> float:
    low, high = np.quantile(values, (0.1, 0.9))
    return float(high - low)


def robust_fit(
    outdoor: FloatArray, value: FloatArray, settings: BaselineSettings
) -> LineFit:
    """Huber-weighted line, or hinge where a bend fits clearly better."""
    if len(value) < 2 or _spread(outdoor) < settings.min_spread_k:
        return LineFit(
            intercept=float(np.median(value)) if len(value) else 0.0, slope=0.0
        )
    line_design = np.column_stack((np.ones_like(outdoor), outdoor))
    line, scale = _huber(line_design, value, settings)
    # Every candidate is judged with the line's residual scale, so losses compare.
    threshold = settings.huber_k * scale
    best = LineFit(intercept=float(line[0]), slope=float(line[1]))
    best_loss = _huber_loss(value - line_design @ line, threshold) * _HINGE_GAIN
    minimum_side = max(settings.min_block_intervals, len(outdoor) // 10)
    for hinge in np.quantile(outdoor, _HINGE_QUANTILES):
        above = outdoor > hinge
        if min(int(above.sum()), int((~above).sum())) < minimum_side:
            continue
        design = np.column_stack(
            (np.ones_like(outdoor), outdoor, np.maximum(0.0, outdoor - hinge))
        )
        coefficients, _ = _huber(design, value, settings)
        loss = _huber_loss(value - design @ coefficients, threshold)
        if loss < best_loss:
            best_loss = loss
            best = LineFit(
                intercept=float(coefficients[0]),
                slope=float(coefficients[1]),
                hinge_c=float(hinge),
                hinge_slope=float(coefficients[2]),
            )
    return best


def _huber(
    design: FloatArray,
    value: FloatArray,
    settings: BaselineSettings,
    iterations: int = 12,
) -> tuple[FloatArray, float]:
    """Iteratively reweighted least squares with Huber weights; (coefficients, scale).

    The residual scale (MAD) is taken from the least-squares fit and renewed
    once, after the first reweighting: re-estimating it every round costs a
    median per round and barely moves the result.
    """
    coefficients = _weighted_solve(design, value, np.ones_like(value))
    scale = _mad_scale(value - design @ coefficients)
    for round_ in range(iterations):
        residual = value - design @ coefficients
        if round_ == 1:
            scale = _mad_scale(residual)
        weight = np.minimum(
            1.0, settings.huber_k * scale / np.maximum(np.abs(residual), 1e-12)
        )
        updated = _weighted_solve(design, value, weight)
        done = float(np.max(np.abs(updated - coefficients))) < 1e-5
        coefficients = updated
        if done and round_ >= 1:
            break
    return coefficients, scale


def _weighted_solve(
    design: FloatArray, value: FloatArray, weight: FloatArray
) -> FloatArray:
    weighted = design * weight[:, None]
    normal = design.T @ weighted
    try:
        solution = np.linalg.solve(normal, weighted.T @ value)
    except np.linalg.LinAlgError:
        # Collinear columns (a single temperature): least squares still answers.
        solution = np.linalg.lstsq(weighted, value * weight, rcond=None)[0]
    return np.asarray(solution, dtype=np.float64)


def _mad_scale(residual: FloatArray) -> float:
    mad = float(np.median(np.abs(residual - np.median(residual))))
    return max(1.4826 * mad, 1e-3)  # a floor: exact fits would divide by zero


def _huber_loss(residual: FloatArray, threshold: float) -> float:
    size = np.abs(residual)
    loss = np.where(
        size <= threshold, 0.5 * size**2, threshold * (size - 0.5 * threshold)
    )
    return float(loss.sum())
