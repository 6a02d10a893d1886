"""The grid port: all that the grid adapters and the demo may use of the aggregator.

The OpenADR 3 VEN, the UFTP agent and the demo's grid stand-ins put capacity
envelopes in force and read what the homes behind a congestion point can do;
they never reach into the service's control loops, fleet or database
sessions. Keeping them on this narrow, typed surface is what lets the
aggregator's inside change (ownership of congestion points, planning ahead)
without touching the adapters.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime
from typing import Protocol

from dacs.aggregator.control.fleet import HomeView
from dacs.aggregator.control.loop import CycleReport
from dacs.aggregator.domain.envelope import CapacityEnvelope
from dacs.aggregator.domain.flex_model import FlexModel

# The load (W) other than the heat pumps' at a congestion point and moment, forecast.
type OtherLoadForecast = Callable[[str, datetime], float]


class UnknownCongestionPointError(KeyError):
    """The congestion point id is not one the aggregator serves."""


class GridPort(Protocol):
    """The aggregator, as a grid adapter sees it."""

    def now(self) -> datetime:
        """The aggregator's clock."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait on the aggregator's clock (simulated time in tests and the demo)."""
        ...

    def congestion_points(self) -> Collection[str]:
        """The ids of the congestion points the aggregator controls."""
        ...

    def homes(self, congestion_point_id: str | None = None) -> Sequence[HomeView]:
        """The homes behind a congestion point, or all homes (read, never change)."""
        ...

    def home(self, home_id: str) -> HomeView | None:
        """One home, None when it is not enrolled."""
        ...

    def flex_model(self, homes: Iterable[HomeView], now: datetime) -> FlexModel:
        """What ``homes`` can do at ``now``: baselines, floors, availability, asks."""
        ...

    def last_cycle(self, congestion_point_id: str) -> CycleReport | None:
        """What the last control cycle of a congestion point saw and did."""
        ...

    def record_measurement(
        self, congestion_point_id: str, at: datetime, load_w: float
    ) -> None:
        """A real-time measurement of the congestion point's whole load (W).

        Raises ValueError for a load that is not a number >= 0.
        """
        ...

    def envelopes(self, congestion_point_id: str) -> Sequence[CapacityEnvelope]:
        """The envelopes in force (or still to come) on a congestion point."""
        ...

    async def put_in_force(
        self, congestion_point_id: str, envelope: CapacityEnvelope
    ) -> None:
        """Store ``envelope`` and control to it; it survives a restart.

        Raises UnknownCongestionPointError for a congestion point the
        aggregator does not serve, and the storage's error when an envelope
        with that id exists already.
        """
        ...

    async def withdraw(self, congestion_point_id: str, envelope_id: str) -> bool:
        """End an envelope early; False when it is not in force."""
        ...
