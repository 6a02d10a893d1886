"""What one scenario of the suite is, and the suite itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from dacs.testbed.neighbourhood.scenario import Scenario

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


class ScenarioError(Exception):
    """A scenario that cannot run as specified."""


class SignalKind(StrEnum):
    """How the grid operator asks for the evening's cap (the flex pyramid's levels)."""

    FIXED = "fixed"  # a fixed capacity per time of day, every day
    DAY_AHEAD = "day_ahead"  # a dynamic profile per ISP, known the day before
    EMERGENCY = "emergency"  # every heat pump to its floor or gas-only
    OPENADR = "openadr"  # an IMPORT_CAPACITY_LIMIT event from a VTN
    UFTP = "uftp"  # a FlexOrder on our FlexOffer


@dataclass(frozen=True, kw_only=True)
class ScenarioSpec:
    """One seeded evening: the street, the day, the cap and what residents do.

    ``depth`` is how far the cap lies under the uncontrolled evening's peak
    (0.2: the cap is 80 % of the peak). ``opt_outs`` homes switch
    participation off, and ``offline`` homes lose their connection, one hour
    into the event.
    """

    name: str
    day: date  # a weekday of the packaged KNMI winter (December 2024 - February 2025)
    homes: int = 50
    depth: float = 0.2
    signal: SignalKind = SignalKind.DAY_AHEAD
    seed: int = 2025
    opt_outs: int = 0
    offline: int = 0

    def __post_init__(self) -> None:
        """Refuse scenarios that cannot run."""
        if not 0 < self.depth < 1:
            raise ScenarioError("depth must lie in (0, 1)")
        if self.homes < 1 or self.opt_outs + self.offline > self.homes:
            raise ScenarioError(
                "opt-outs and offline homes must be homes of the street"
            )

    def neighbourhood(self) -> Scenario:
        """The street and the evening: 14:00 to 22:00 local, an event from 16:00."""
        start = datetime.combine(self.day, time(14, 0), AMSTERDAM).astimezone(UTC)
        return Scenario(
            homes=self.homes, seed=self.seed, start=start, cap_share=1 - self.depth
        )

    @property
    def incident_at(self) -> timedelta:
        """When opt-outs and connection losses happen, from the scenario's start."""
        return self.neighbourhood().event_start + timedelta(hours=1)


# Weekdays of the packaged winter, from frosty to mild (°C at 18:00 local).
_DAYS = {
    "frost": date(2025, 1, 13),  # about 1 °C
    "cold": date(2025, 2, 18),  # about 1 °C
    "demo": date(2025, 1, 20),  # the demo's evening
    "chilly": date(2024, 12, 11),  # about 3 °C
    "mild": date(2025, 1, 28),  # about 8 °C
    "soft": date(2024, 12, 2),  # about 9 °C
}


def suite(*, quick: bool = False) -> list[ScenarioSpec]:
    """The scenario suite; ``quick`` keeps one small scenario per signal kind."""
    demo = _DAYS["demo"]
    if quick:
        return [
            ScenarioSpec(name="quick-day-ahead", day=demo, homes=20),
            ScenarioSpec(
                name="quick-fixed", day=demo, homes=20, signal=SignalKind.FIXED
            ),
            ScenarioSpec(
                name="quick-emergency", day=demo, homes=20, signal=SignalKind.EMERGENCY
            ),
            ScenarioSpec(
                name="quick-openadr", day=demo, homes=20, signal=SignalKind.OPENADR
            ),
            ScenarioSpec(name="quick-uftp", day=demo, homes=20, signal=SignalKind.UFTP),
            ScenarioSpec(
                name="quick-residents", day=demo, homes=20, opt_outs=2, offline=2
            ),
        ]
    specs = [
        ScenarioSpec(name=f"day-{label}", day=day, seed=2025 + index)
        for index, (label, day) in enumerate(_DAYS.items())
    ]
    specs += [
        ScenarioSpec(name=f"homes-{homes}", day=demo, homes=homes)
        for homes in (20, 200)
    ]
    specs += [
        ScenarioSpec(name=f"depth-{round(depth * 100)}", day=demo, depth=depth)
        for depth in (0.1, 0.3)
    ]
    specs += [
        ScenarioSpec(name="depth-30-homes-200", day=demo, homes=200, depth=0.3),
        ScenarioSpec(name="depth-30-frost", day=_DAYS["frost"], depth=0.3),
        ScenarioSpec(name="fixed", day=demo, signal=SignalKind.FIXED),
        ScenarioSpec(name="fixed-mild", day=_DAYS["mild"], signal=SignalKind.FIXED),
        ScenarioSpec(name="emergency-stop", day=demo, signal=SignalKind.EMERGENCY),
        ScenarioSpec(name="openadr-event", day=demo, signal=SignalKind.OPENADR),
        ScenarioSpec(
            name="openadr-event-chilly", day=_DAYS["chilly"], signal=SignalKind.OPENADR
        ),
        ScenarioSpec(name="uftp-flex-order", day=demo, signal=SignalKind.UFTP),
        ScenarioSpec(
            name="uftp-flex-order-cold", day=_DAYS["cold"], signal=SignalKind.UFTP
        ),
        ScenarioSpec(name="opt-outs", day=demo, opt_outs=5),
        ScenarioSpec(name="offline-homes", day=demo, offline=5),
        ScenarioSpec(
            name="opt-outs-and-offline-200",
            day=demo,
            homes=200,
            opt_outs=20,
            offline=10,
        ),
    ]
    return specs
