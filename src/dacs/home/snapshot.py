"""What the home controller knows at one moment, for Home Assistant and the demo."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dacs.devices import Capabilities, DeviceIdentity, LimitResult, Measurements
from dacs.protocol import Command, CommandReason, LimitSource, Statement

from .arbitration import Decision
from .resident import ResidentSettings


@dataclass(frozen=True, kw_only=True)
class FlexEvent:
    """A flexibility event as a resident sees it: when, why and how deep."""

    command_id: str
    reason: CommandReason
    start: datetime
    end: datetime
    lowest_limit_w: float

    @classmethod
    def of(cls, command: Command) -> FlexEvent:
        """The event a command describes."""
        return cls(
            command_id=command.command_id,
            reason=command.reason,
            start=command.envelope[0].start,
            end=command.ends_at,
            lowest_limit_w=min(i.max_power_w for i in command.envelope),
        )


@dataclass(frozen=True, kw_only=True)
class HomeSnapshot:
    """Everything the home controller knows now."""

    time: datetime
    identity: DeviceIdentity | None
    capabilities: Capabilities | None
    measurements: Measurements | None
    device_available: bool
    device_error: str | None
    decision: Decision
    applied: LimitResult | None  # what the device layer made of the decision
    limit_w: float | None  # the cap in force at the heat pump (0: gas-only)
    limit_source: LimitSource
    settings: ResidentSettings
    comfort_override: bool
    current_event: FlexEvent | None
    next_event: FlexEvent | None
    aggregator_linked: bool
    aggregator_connected: bool
    statement: Statement | None
    telemetry_seq: int
