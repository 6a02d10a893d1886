"""The aggregator's live view of its homes, built from what they publish."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
import math

from dacs.aggregator.domain.flex_model import Availability, FlexModel
from dacs.aggregator.domain.substitution import EnergyPrices
from dacs.protocol import (
    Ack,
    AckResult,
    Command,
    DeviceSummary,
    Participation,
    Preferences,
    Status,
    Telemetry,
)

from .flex_arrays import flex_model_of

# Weight of the newest unlimited sample in the baseline's moving average.
_BASELINE_SMOOTHING = 0.2
# A COP is only read from a compressor that is clearly running.
_COP_MIN_POWER_W = 100.0
_COP_RANGE = (1.0, 8.0)
# A home that has not reported for this many telemetry intervals counts as offline.
_SILENT_INTERVALS = 3
# A home nearing the resident's maximum curtailment is handed over this early:
# the allocation picks its replacement while it is still limited, and the
# staggered release lets it go before the home's own guard would, at once.
HANDOVER = timedelta(minutes=3)
# After a curtailment that reached the maximum, the home rests this long
# before it may be curtailed again (its own guard restarts with a new command).
REST_AFTER_MAX = timedelta(minutes=30)
# A home applies a new limit within its control interval (10 s) plus a Modbus
# write; until then it still draws what it reported.
FOLLOW_DELAY = timedelta(seconds=15)


@dataclass
class HomeView:
    """What the aggregator knows about one home now."""

    home_id: str
    congestion_point_id: str
    online: bool = False
    device: DeviceSummary | None = None
    telemetry_interval_s: float = 10.0
    preferences: Preferences | None = None
    telemetry: Telemetry | None = None
    last_seen: datetime | None = None
    baseline_w: float | None = None  # moving average of the power while unlimited
    cop: float | None = None  # moving average of heat / electric power while unlimited
    command: Command | None = None
    command_result: AckResult | None = None
    changed_at: datetime | None = None  # when the last command or cancel went out
    curtailed_since: datetime | None = None
    resting_until: datetime | None = (
        None  # after a curtailment that reached the maximum
    )
    # Delivered curtailment for fairness. Settled only when a curtailment ends,
    # so the allocation does not swap homes in the middle of an event.
    curtailment_kwh: float = 0.0
    pending_kwh: float = 0.0

    def reachable(self, now: datetime) -> bool:
        """Online and heard from recently."""
        if not self.online or self.last_seen is None:
            return False
        return now - self.last_seen <= timedelta(
            seconds=_SILENT_INTERVALS * self.telemetry_interval_s + 5
        )

    def availability(self, now: datetime) -> Availability:
        """May the home be curtailed now?"""
        if not self.reachable(now) or self.device is None:
            return Availability.OFFLINE
        preferences = self.preferences
        if preferences is not None:
            if preferences.participation is Participation.OFF:
                return Availability.NOT_PARTICIPATING
            if preferences.participation is Participation.PAUSED and (
                preferences.paused_until is None or preferences.paused_until > now
            ):
                return Availability.PAUSED
        if self.telemetry is not None and self.telemetry.comfort_override:
            return Availability.NOT_PARTICIPATING
        if self.resting_until is not None and now < self.resting_until:
            return Availability.MAX_DURATION_REACHED
        if self.near_max_duration(now):
            return Availability.MAX_DURATION_REACHED
        return Availability.AVAILABLE

    def near_max_duration(self, now: datetime) -> bool:
        """Curtailed so long that the handover to other homes is due."""
        if self.curtailed_since is None or self.preferences is None:
            return False
        limit = timedelta(minutes=self.preferences.max_curtailment_minutes)
        return now - self.curtailed_since >= limit - HANDOVER

    def rebound_w(self, rebound_share: float) -> float:
        """What the heat pump draws right after its limit is lifted.

        More than its baseline: the house cooled a little and the evening got
        colder while the baseline stood still; never more than the nominal power.
        """
        rebound = (self.baseline_w or 0.0) * (1 + rebound_share)
        if self.device is not None and self.device.nominal_power_w > 0:
            rebound = min(rebound, self.device.nominal_power_w)
        return max(rebound, self.baseline_w or 0.0)

    def expected_power_w(self, at: datetime, rebound_share: float = 0.0) -> float:
        """What the heat pump draws at ``at``, as far as the aggregator can tell.

        The latest telemetry, unless a command or cancel went out after it: a
        home follows a new limit within seconds but reports only once a
        minute, and counting the power from before the change would make the
        loop see load that is gone (or miss load that is coming) and swing.
        """
        if self.telemetry is None:
            return 0.0
        power = self.telemetry.electric_power_w or 0.0
        changed = self.changed_at
        if (
            changed is None
            or self.telemetry.ts > changed
            or at < changed + FOLLOW_DELAY
        ):
            return power
        if self.command_result is AckResult.REJECTED:
            return power
        # What the house asks for once a limit is lifted: its baseline, and
        # more after a curtailment (the house cooled meanwhile).
        demand = max(power, self.rebound_w(rebound_share))
        limit = self.command.limit_at(at) if self.command is not None else None
        if limit is None:
            return demand
        return min(demand, self.followed_limit_w(limit))

    def followed_limit_w(self, limit_w: float) -> float:
        """The power a limit leaves: below the safety floor, gas-only or the floor."""
        device = self.device
        if device is None or limit_w >= device.safety_floor_w:
            return limit_w
        return 0.0 if device.supports_gas_only else device.safety_floor_w

    def limited(self) -> bool:
        """True when the home's last telemetry reports an aggregator limit."""
        return self.telemetry is not None and self.telemetry.limit_source.value in (
            "aggregator",
            "floor",
            "gas_only",
        )


class Fleet:
    """Every home the aggregator serves, updated from the protocol's messages."""

    def __init__(self) -> None:
        """Start empty; register homes with add()."""
        self.homes: dict[str, HomeView] = {}

    def add(self, home_id: str, congestion_point_id: str) -> HomeView:
        """Register (or re-register) a home."""
        view = self.homes.get(home_id)
        if view is None:
            view = HomeView(home_id=home_id, congestion_point_id=congestion_point_id)
            self.homes[home_id] = view
        view.congestion_point_id = congestion_point_id
        return view

    def of(self, congestion_point_id: str) -> list[HomeView]:
        """The homes behind a congestion point, in a stable order."""
        return sorted(
            (
                h
                for h in self.homes.values()
                if h.congestion_point_id == congestion_point_id
            ),
            key=lambda h: h.home_id,
        )

    def apply_status(self, message: Status) -> bool:
        """Record a status; False for unknown homes."""
        view = self.homes.get(message.home_id)
        if view is None:
            return False
        view.online = message.online
        if message.device is not None:
            view.device = message.device
        if message.telemetry_interval_s:
            view.telemetry_interval_s = float(message.telemetry_interval_s)
        if message.online:
            view.last_seen = max(view.last_seen or message.ts, message.ts)
        return True

    def apply_preferences(self, message: Preferences) -> bool:
        """Record preferences; False for unknown homes."""
        view = self.homes.get(message.home_id)
        if view is None:
            return False
        view.preferences = message
        return True

    def apply_telemetry(self, message: Telemetry, now: datetime) -> bool:
        """Record telemetry: latest values, baseline, curtailment bookkeeping."""
        view = self.homes.get(message.home_id)
        if view is None:
            return False
        previous = view.telemetry
        if previous is not None and message.ts < previous.ts:
            return True  # a late message: keep the newer state
        view.telemetry = message
        view.last_seen = now
        view.online = True
        power = message.electric_power_w
        if power is not None and not view.limited():
            view.baseline_w = _smoothed(view.baseline_w, power)
            heat = message.thermal_power_w
            if heat is not None and power > _COP_MIN_POWER_W:
                cop = min(max(heat / power, _COP_RANGE[0]), _COP_RANGE[1])
                view.cop = _smoothed(view.cop, cop)
        if view.limited():
            view.curtailed_since = view.curtailed_since or message.ts
            if (
                previous is not None
                and view.baseline_w is not None
                and power is not None
            ):
                hours = max(0.0, (message.ts - previous.ts).total_seconds()) / 3600
                view.pending_kwh += max(0.0, view.baseline_w - power) * hours / 1000
        else:
            if view.near_max_duration(message.ts):
                view.resting_until = message.ts + REST_AFTER_MAX
            view.curtailed_since = None
            view.curtailment_kwh += view.pending_kwh
            view.pending_kwh = 0.0
        return True

    def apply_ack(self, message: Ack) -> bool:
        """Record a home's answer to its command in force."""
        view = self.homes.get(message.home_id)
        if view is None:
            return False
        if view.command is not None and view.command.command_id == message.command_id:
            view.command_result = message.result
        return True

    @staticmethod
    def heat_pump_load_w(
        homes: Iterable[HomeView], now: datetime, rebound_share: float = 0.0
    ) -> float:
        """What the reachable ones among these homes draw at ``now`` (see expected_power_w)."""
        return sum(
            h.expected_power_w(now, rebound_share) for h in homes if h.reachable(now)
        )

    def flex_model(
        self,
        homes: Iterable[HomeView],
        now: datetime,
        *,
        rebound_share: float = 0.0,
        prices: EnergyPrices | None = None,
    ) -> FlexModel:
        """The allocation's input for these homes.

        A home limited now counts with its rebound as baseline: releasing it
        adds that much, so the allocation covers it with other homes first.
        With ``prices``, each home's curtailed kWh costs its boiler's gas
        (at its measured COP) less the electricity saved.
        """
        return flex_model_of(homes, now, rebound_share=rebound_share, prices=prices)

    def decay_history(self, factor: float) -> None:
        """Let old curtailment weigh less in fairness (call e.g. daily)."""
        if not 0 <= factor <= 1 or math.isnan(factor):
            raise ValueError("factor must lie in [0, 1]")
        for view in self.homes.values():
            view.curtailment_kwh *= factor


def _smoothed(previous: float | None, sample: float) -> float:
    """The moving average with the newest sample in it."""
    if previous is None:
        return sample
    return (1 - _BASELINE_SMOOTHING) * previous + _BASELINE_SMOOTHING * sample
