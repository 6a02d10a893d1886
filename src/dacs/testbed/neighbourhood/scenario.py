"""The congestion evening: homes, weather, household load and the grid operator's cap."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import random

from dacs.testbed.sim.home_config import HybridHomeConfig
from dacs.testbed.sim.hybrid import make_neighbourhood_configs

# Monday 20 January 2025 in De Bilt, 14:00 local time: a frosty weekday.
DEFAULT_START = datetime(2025, 1, 20, 13, 0, tzinfo=UTC)


@dataclass(frozen=True, kw_only=True)
class Scenario:
    """Everything that defines one run, so a controlled and an uncontrolled run match."""

    homes: int = 50
    seed: int = 2025
    start: datetime = DEFAULT_START
    duration: timedelta = timedelta(hours=8)
    event_start: timedelta = timedelta(hours=2)  # 16:00 local, as in ElaadNL's profiles
    event_duration: timedelta = timedelta(hours=4, minutes=30)
    cap_share: float = (
        0.8  # the event's cap, as a share of the uncontrolled evening peak
    )

    def __post_init__(self) -> None:
        """A scenario must make sense before hours are spent on it."""
        if self.homes < 1:
            raise ValueError("a neighbourhood needs at least one home")
        if not 0 < self.cap_share <= 1.5:
            raise ValueError("cap_share must lie in (0, 1.5]")
        if self.event_start + self.event_duration > self.duration:
            raise ValueError("the event must end within the scenario")

    @property
    def end(self) -> datetime:
        """When the scenario ends."""
        return self.start + self.duration

    @property
    def event_window(self) -> tuple[datetime, datetime]:
        """When the grid operator limits the transformer."""
        begin = self.start + self.event_start
        return begin, begin + self.event_duration

    def home_configs(self) -> list[HybridHomeConfig]:
        """The neighbourhood's homes (the same for every run with this seed)."""
        return make_neighbourhood_configs(self.homes, self.seed)

    def annual_household_kwh(self) -> list[float]:
        """Each home's other electricity use per year (typical Dutch spread)."""
        rng = random.Random(self.seed + 1)
        return [
            round(min(6500.0, max(1500.0, rng.gauss(3000.0, 800.0))), 0)
            for _ in range(self.homes)
        ]

    def home_ids(self) -> list[str]:
        """Stable home ids for the demo."""
        return [f"h-demo-{i:03d}" for i in range(self.homes)]
