"""The telemetry partitions' upkeep as a task of the service: at start, then hourly."""

from __future__ import annotations

from datetime import UTC
import logging

from sqlalchemy.ext.asyncio import AsyncEngine

from .clock import Clock
from .config import DatabaseConfig
from .storage.telemetry_partitions import PartitionUpkeep, maintain_partitions

_LOGGER = logging.getLogger(__name__)
# Hourly: a missed pass (the database away) is made up long before the
# partitions made ahead run out, and a new day is never an hour old without one.
UPKEEP_INTERVAL_S = 3600.0


class PartitionUpkeepTask:
    """Keeps the telemetry table's partitions made ahead and within the retention."""

    def __init__(
        self, engine: AsyncEngine, config: DatabaseConfig, clock: Clock
    ) -> None:
        """Upkeep of ``engine``'s telemetry by ``config``'s retention."""
        self._engine = engine
        self._config = config
        self._clock = clock
        self.last: PartitionUpkeep | None = None

    async def run_once(self) -> PartitionUpkeep:
        """One pass, for today (UTC) on the service's clock."""
        self.last = await maintain_partitions(
            self._engine,
            today=self._clock.now().astimezone(UTC).date(),
            ahead_days=self._config.telemetry_partitions_ahead_days,
            retention_days=self._config.telemetry_retention_days,
        )
        return self.last

    async def run(self) -> None:
        """Pass after pass; a failed pass is logged and tried at the next."""
        while True:
            try:
                await self.run_once()
            except Exception:
                _LOGGER.exception("telemetry partition upkeep failed; next in an hour")
            await self._clock.sleep(UPKEEP_INTERVAL_S)
