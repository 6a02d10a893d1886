"""The congestion point load forecast the adapter offers against and reports.

A persistence forecast: the heat pumps' baselines now (moving averages of
their unlimited power) plus the other load, from a forecast when the
aggregator has one, else the other load the last control cycle saw. It is
crude for hours ahead; it is what the allocation itself works with.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from dacs.aggregator.control.fleet import Fleet
from dacs.aggregator.control.loop import CongestionPointControl

type OtherLoadForecast = Callable[[str, datetime], float]


class LoadForecast(Protocol):
    """Forecast congestion point load (W) at a moment, as seen now."""

    def __call__(self, congestion_point_id: str, at: datetime, now: datetime) -> float:
        """Load in W at ``at``."""
        ...


class PersistenceForecast:
    """Baselines of the homes now, plus the other load."""

    def __init__(
        self,
        fleet: Fleet,
        controls: dict[str, CongestionPointControl],
        other_load: OtherLoadForecast | None = None,
    ) -> None:
        """Read the live fleet and the last control cycles."""
        self._fleet = fleet
        self._controls = controls
        self._other_load = other_load

    def __call__(self, congestion_point_id: str, at: datetime, now: datetime) -> float:
        """Load in W at ``at``."""
        model = self._fleet.flex_model(self._fleet.of(congestion_point_id), now)
        heat_pumps = float(model.baseline_w.sum())
        if self._other_load is not None:
            other = self._other_load(congestion_point_id, at)
        else:
            control = self._controls.get(congestion_point_id)
            report = control.last_report if control is not None else None
            other = report.other_load_w if report is not None else 0.0
        return max(0.0, heat_pumps + max(0.0, other))
