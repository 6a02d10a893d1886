"""One home of the fast path: the home controller's rules without the network.

The home controller's decisions live in pure functions (the command book,
``decide``, ``check_guards``, ``reported_limit``) and the device layer's in
``plan_limit``; this class strings them together as the controller does, on
a simulated clock, against the simulated physics. What it leaves out is only
transport: MQTT, Modbus and their delays.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from dacs import __version__
from dacs.devices import Capabilities, LimitAction, LimitResult, plan_limit
from dacs.devices.modbus_profile import RegisterPoint, get_profile
from dacs.home.arbitration import (
    Decision,
    Guard,
    needs_write,
    released_by_resident,
    reported_limit,
)
from dacs.home.command_book import CommandBook
from dacs.home.resident import ResidentSettings
from dacs.protocol import (
    Ack,
    Cancel,
    Command,
    DeviceSummary,
    LimitSource,
    Preferences,
    Status,
    Telemetry,
)
from dacs.testbed.sim.simulated_heat_pump import firmware_for

from .model_home import HomePhysics

_NO_DECISION = Decision(
    max_power_w=None,
    source=LimitSource.NONE,
    guard=Guard.NONE,
    command_id=None,
    valid_until=None,
)


def device_capabilities(home: HomePhysics, profile_id: str) -> Capabilities:
    """What the home's heat pump reports over Modbus in ``profile_id``'s registers."""
    profile = get_profile(profile_id)
    firmware = firmware_for(home, profile_id, serial="FAST")
    values: Mapping[str, object] = {
        name: firmware.capability(name) if isinstance(spec, RegisterPoint) else spec
        for name, spec in profile.capabilities.items()
    }
    return Capabilities.from_values(values)


class FastHome:
    """A simulated home and its controller's rules, stepped by the caller."""

    def __init__(
        self,
        home_id: str,
        physics: HomePhysics,
        profile_id: str,
        *,
        settings: ResidentSettings | None = None,
    ) -> None:
        """A home in ``profile_id``'s registers, with the resident's ``settings``."""
        self.home_id = home_id
        self.physics = physics
        self.profile_id = profile_id
        self.capabilities = device_capabilities(physics, profile_id)
        self.settings = settings or ResidentSettings()
        self.online = True
        self._book = CommandBook(home_id)
        self._decision = _NO_DECISION
        self._applied: LimitResult | None = None
        self._applied_decision: Decision | None = None
        self._curtailed_since: datetime | None = None
        self._seq = 0

    # -- messages in -----------------------------------------------------------

    def receive(self, command: Command, now: datetime) -> Ack:
        """A command from the aggregator; decided at once, as the controller does."""
        ack = self._book.receive(
            command, now=now, settings=self.settings, capabilities=self.capabilities
        )
        self.evaluate(now)
        return ack

    def cancel(self, cancel: Cancel, now: datetime) -> Ack:
        """A cancel from the aggregator."""
        ack = self._book.cancel(cancel, now=now)
        self.evaluate(now)
        return ack

    def change_settings(self, settings: ResidentSettings, now: datetime) -> None:
        """The resident changes a setting; an opt-out drops the command at once."""
        was_participating = self.settings.participating(now)
        self.settings = settings
        if was_participating and not settings.participating(now):
            self._book.withdraw()
        self.evaluate(now)

    # -- the controller's step ------------------------------------------------

    def evaluate(self, now: datetime) -> None:
        """One arbitration step: guards, decision, a write when it changed."""
        self.settings = self.settings.settled(now)
        step = self._book.arbitrate(
            now,
            previous=self._decision,
            curtailed_since=self._curtailed_since,
            indoor_temp_c=self.physics.indoor_temp_c,
            settings=self.settings,
        )
        self._curtailed_since = step.curtailed_since
        self._decision = step.decision
        if needs_write(self._applied_decision, step.decision):
            self._write(step.decision)

    def _write(self, decision: Decision) -> None:
        result = plan_limit(decision.max_power_w, self.capabilities)
        limited = result.action in (
            LimitAction.APPLIED,
            LimitAction.ROUNDED,
            LimitAction.FLOOR_APPLIED,
        )
        self.physics.electric_limit_w = (
            float(result.max_power_w)
            if limited and result.max_power_w is not None
            else None
        )
        self.physics.mode = result.mode
        self._applied = result
        self._applied_decision = decision

    def step(self, seconds: float) -> None:
        """Advance the physics by ``seconds`` under the limit in force."""
        self.physics.step(seconds)

    # -- messages out ----------------------------------------------------------

    @property
    def curtailed(self) -> bool:
        """True while any limit of the aggregator's is in force at the heat pump."""
        _, source = reported_limit(self._applied, self._applied_decision)
        return source in (
            LimitSource.AGGREGATOR,
            LimitSource.FLOOR,
            LimitSource.GAS_ONLY,
        )

    def telemetry(self, now: datetime) -> Telemetry:
        """The next telemetry message, as the controller would publish it."""
        last = self.physics.last_step
        limit_w, source = reported_limit(self._applied, self._applied_decision)
        message = Telemetry(
            home_id=self.home_id,
            seq=self._seq,
            boot_id="fast",
            ts=now,
            electric_power_w=last.hp_electric_w if last else 0.0,
            thermal_power_w=last.hp_thermal_w if last else 0.0,
            boiler_active=bool(last and last.boiler_thermal_w > 0),
            boiler_thermal_w=last.boiler_thermal_w if last else 0.0,
            indoor_temp_c=self.physics.indoor_temp_c,
            outdoor_temp_c=self.physics.outdoor_temp_c,
            flow_temp_c=last.flow_temp_c if last else None,
            electric_energy_kwh=self.physics.electric_energy_wh / 1000,
            limit_w=limit_w,
            limit_source=source,
            command_id=self._decision.command_id,
            participation=self.settings.participation,
            comfort_override=released_by_resident(self._book.guard),
            device_fault=0,
        )
        self._seq += 1
        return message

    def status(self, now: datetime, telemetry_interval_s: float) -> Status:
        """The retained online status with the device's capabilities."""
        caps = self.capabilities
        profile = get_profile(self.profile_id)
        return Status(
            home_id=self.home_id,
            ts=now,
            online=True,
            device=DeviceSummary(
                profile=self.profile_id,
                manufacturer=profile.name,
                model=profile.name,
                nominal_power_w=caps.nominal_electric_w,
                safety_floor_w=caps.safety_floor_w,
                limit_step_w=caps.limit_step_w,
                supports_gas_only=caps.supports_gas_only,
                native_watchdog=caps.native_watchdog,
            ),
            telemetry_interval_s=max(1, round(telemetry_interval_s)),
            software=f"dacs-hw {__version__} (fast path)",
        )

    def preferences(self, now: datetime) -> Preferences:
        """The retained preferences message."""
        return self.settings.preferences(self.home_id, now)
