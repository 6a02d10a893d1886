"""What the home controller needs of a heat pump, whatever it speaks (Modbus or S2)."""

from __future__ import annotations

from typing import Protocol

from .models import Capabilities, DeviceIdentity, LimitResult, Measurements


class ControllableHeatPump(Protocol):
    """A heat pump whose electric power can be limited; errors are HeatPumpError."""

    @property
    def identity(self) -> DeviceIdentity:
        """Who the device says it is."""
        ...

    @property
    def capabilities(self) -> Capabilities:
        """What it can do, its safety floor included."""
        ...

    @property
    def measured(self) -> frozenset[str]:
        """Names of the Measurements fields this device reports."""
        ...

    @property
    def limit(self) -> LimitResult:
        """The limit this driver put in force (RELEASED when none)."""
        ...

    async def read_measurements(self) -> Measurements:
        """One consistent read of what it measures."""
        ...

    async def set_power_limit(
        self, max_power_w: float | None, *, validity_s: float | None = None
    ) -> LimitResult:
        """Limit its electric power (never below the floor); ``None`` releases."""
        ...

    async def release_limit(self) -> LimitResult:
        """Lift any limit this driver put in force."""
        ...

    async def close(self) -> None:
        """Let go of the device."""
        ...
