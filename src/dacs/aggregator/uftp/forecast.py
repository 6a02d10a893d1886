"""The congestion point load forecast the adapter offers against and reports.

A persistence forecast: the heat pumps' baselines now (moving averages of
their unlimited power) plus the other load, from a forecast when the
aggregator has one, else the other load the last control cycle saw. It is
crude for hours ahead; it is what the allocation itself works with.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from dacs.aggregator.domain.flex_model import FlexModel
from dacs.aggregator.grid_port import GridPort, OtherLoadForecast

# The other load (W) at a congestion point and moment, from a forecast (the
# same callable the service takes as its ``other_load_forecast``).


class CongestionPointLoadForecast(Protocol):
    """Forecast congestion point load (W) at a moment, as seen now."""

    def __call__(self, congestion_point_id: str, at: datetime, now: datetime) -> float:
        """Load in W at ``at``."""
        ...


class PersistenceForecast:
    """Baselines of the homes now, plus the other load."""

    def __init__(
        self, port: GridPort, other_load: OtherLoadForecast | None = None
    ) -> None:
        """Read the live homes and the last control cycles through the grid port."""
        self._port = port
        self._other_load = other_load

    def __call__(self, congestion_point_id: str, at: datetime, now: datetime) -> float:
        """Load in W at ``at``."""
        model = self._port.flex_model(self._port.homes(congestion_point_id), now)
        if self._other_load is not None:
            other = self._other_load(congestion_point_id, at)
        else:
            report = self._port.last_cycle(congestion_point_id)
            other = report.other_load_w if report is not None else 0.0
        return persistence_load_w(model, other)


def persistence_load_w(model: FlexModel, other_w: float) -> float:
    """The homes' baselines now plus the other load (W, never below 0)."""
    return max(0.0, float(model.baseline_w.sum()) + max(0.0, other_w))
