"""Time for the aggregator: the real clock, or a faster simulated one for demos and tests."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
import time
from typing import Protocol


class Clock(Protocol):
    """What every time-dependent part of the aggregator uses."""

    def now(self) -> datetime:
        """The current (possibly simulated) time, timezone-aware."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...


class SystemClock:
    """Real time."""

    def now(self) -> datetime:
        """UTC now."""
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        """Real sleep."""
        await asyncio.sleep(seconds)


class ScaledClock:
    """Simulated time that runs ``speed`` times faster than real time from ``start``."""

    def __init__(self, start: datetime, speed: float) -> None:
        """Start at ``start`` now."""
        if start.tzinfo is None:
            raise ValueError("the simulated start needs a time zone")
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.start = start
        self.speed = speed
        self._origin = time.monotonic()

    def now(self) -> datetime:
        """Simulated now."""
        return self.start + timedelta(
            seconds=(time.monotonic() - self._origin) * self.speed
        )

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` of simulated time."""
        await asyncio.sleep(max(0.0, seconds) / self.speed)

    def wall_seconds(self, simulated_s: float) -> float:
        """How long ``simulated_s`` of simulated time takes in real time."""
        return simulated_s / self.speed
