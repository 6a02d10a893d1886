"""The resident's choices, kept by the home and announced as preferences."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from dacs.protocol import Participation, Preferences
from dacs.protocol.rules import DEFAULT_COMFORT_FLOOR_C, DEFAULT_MAX_CURTAILMENT_MINUTES

MIN_COMFORT_FLOOR_C = 10.0
MAX_COMFORT_FLOOR_C = 25.0


@dataclass(frozen=True, kw_only=True)
class ResidentSettings:
    """What the resident decided; the home enforces it before anything else."""

    participation: Participation = Participation.ON
    paused_until: datetime | None = None
    comfort_floor_c: float = DEFAULT_COMFORT_FLOOR_C
    min_compensation_eur_per_kwh: float = 0.0
    max_curtailment_minutes: int = DEFAULT_MAX_CURTAILMENT_MINUTES
    manual_limit_w: float | None = None

    def __post_init__(self) -> None:
        """Refuse settings that would leave the home in an undefined state."""
        if self.participation is Participation.PAUSED and self.paused_until is None:
            raise ValueError("a pause needs an end time")
        if not MIN_COMFORT_FLOOR_C <= self.comfort_floor_c <= MAX_COMFORT_FLOOR_C:
            raise ValueError(
                f"comfort floor must lie between {MIN_COMFORT_FLOOR_C} and "
                f"{MAX_COMFORT_FLOOR_C} °C, got {self.comfort_floor_c}"
            )
        if not 0 <= self.min_compensation_eur_per_kwh <= 10:
            raise ValueError("minimum compensation must lie between 0 and 10 EUR/kWh")
        if not 0 <= self.max_curtailment_minutes <= 1440:
            raise ValueError("maximum curtailment must lie between 0 and 1440 minutes")
        if self.manual_limit_w is not None and self.manual_limit_w < 0:
            raise ValueError("a manual limit cannot be negative")

    def participating(self, now: datetime) -> bool:
        """True when flexibility requests may be applied at ``now``."""
        if self.participation is Participation.OFF:
            return False
        if self.participation is Participation.PAUSED:
            return self.paused_until is not None and now >= self.paused_until
        return True

    def settled(self, now: datetime) -> ResidentSettings:
        """These settings with an ended pause turned back into participation."""
        if (
            self.participation is Participation.PAUSED
            and self.paused_until is not None
            and now >= self.paused_until
        ):
            return replace(self, participation=Participation.ON, paused_until=None)
        return self

    def preferences(self, home_id: str, now: datetime) -> Preferences:
        """The retained preferences message for these settings."""
        return Preferences(
            home_id=home_id,
            ts=now,
            participation=self.participation,
            paused_until=self.paused_until,
            comfort_floor_c=self.comfort_floor_c,
            min_compensation_eur_per_kwh=self.min_compensation_eur_per_kwh,
            max_curtailment_minutes=self.max_curtailment_minutes,
        )
