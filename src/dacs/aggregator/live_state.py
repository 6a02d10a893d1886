"""The read side of the grid port, over the aggregator's live state.

The service inherits it; it answers from memory (the fleet view and each
congestion point's control), so a grid adapter's read never waits on the
database.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime

from .clock import Clock
from .control.fleet import Fleet, HomeView
from .control.loop import CongestionPointControl, CycleReport
from .domain.envelope import CapacityEnvelope
from .domain.flex_model import FlexModel
from .grid_port import UnknownCongestionPointError


class LiveState:
    """Clock, homes, control state and envelopes, read as the grid port offers them."""

    clock: Clock
    fleet: Fleet
    controls: dict[str, CongestionPointControl]

    def now(self) -> datetime:
        """The aggregator's clock."""
        return self.clock.now()

    async def sleep(self, seconds: float) -> None:
        """Wait on the aggregator's clock."""
        await self.clock.sleep(seconds)

    def congestion_points(self) -> Collection[str]:
        """The ids of the congestion points under control."""
        return self.controls.keys()

    def homes(self, congestion_point_id: str | None = None) -> Sequence[HomeView]:
        """The homes behind a congestion point, or all homes."""
        if congestion_point_id is None:
            return list(self.fleet.homes.values())
        return self.fleet.of(congestion_point_id)

    def home(self, home_id: str) -> HomeView | None:
        """One home, None when it is not enrolled."""
        return self.fleet.homes.get(home_id)

    def flex_model(self, homes: Iterable[HomeView], now: datetime) -> FlexModel:
        """What ``homes`` can do at ``now``."""
        return self.fleet.flex_model(homes, now)

    def last_cycle(self, congestion_point_id: str) -> CycleReport | None:
        """The last control cycle's report of a congestion point."""
        control = self.controls.get(congestion_point_id)
        return control.last_report if control is not None else None

    def record_measurement(
        self, congestion_point_id: str, at: datetime, load_w: float
    ) -> None:
        """A real-time measurement of the congestion point's whole load (W)."""
        self._control(congestion_point_id).record_measurement(at, load_w)

    def envelopes(self, congestion_point_id: str) -> Sequence[CapacityEnvelope]:
        """The envelopes in force on a congestion point."""
        return tuple(self._control(congestion_point_id).envelopes)

    def _control(self, congestion_point_id: str) -> CongestionPointControl:
        control = self.controls.get(congestion_point_id)
        if control is None:
            raise UnknownCongestionPointError(
                f"unknown congestion point {congestion_point_id!r}"
            )
        return control
