"""A home enrolled through one instance is known to the others by their next cycle (real PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime

import pytest

from dacs.aggregator.clock import SystemClock
from dacs.aggregator.config import (
    AggregatorConfig,
    ClusterConfig,
    ControlConfig,
    DatabaseConfig,
)
from dacs.aggregator.registry.provisioning import OpenBrokerProvisioner
from dacs.aggregator.service import AggregatorService
from dacs.aggregator.storage.database import migrate
from dacs.protocol import Participation, Preferences


def _service(dsn: str, instance: str) -> AggregatorService:
    return AggregatorService(
        AggregatorConfig(
            database=DatabaseConfig(url=dsn),
            control=ControlConfig(cycle_s=3600),
            cluster=ClusterConfig(
                enabled=True, instance_id=instance, lease_s=30, margin_s=5
            ),
        ),
        clock=SystemClock(),
        provisioner=OpenBrokerProvisioner(),
    )


@pytest.fixture
async def pair(
    postgres_dsn: str,
) -> AsyncIterator[tuple[AggregatorService, AggregatorService]]:
    """Instances A and B on one database (their loops not started), one point."""
    async with AsyncExitStack() as stack:
        a, b = _service(postgres_dsn, "a"), _service(postgres_dsn, "b")
        for service in (a, b):
            stack.push_async_callback(service.stop)
        await migrate(a.engine)
        await a.registry.add_congestion_point(
            point_id="tr-1", name="Street", rated_capacity_kw=100, grid_operator="DSO"
        )
        await a.reload()
        await b.reload()
        yield a, b


async def test_a_home_enrolled_through_b_reaches_a_without_a_take_over(
    pair: tuple[AggregatorService, AggregatorService],
) -> None:
    a, b = pair
    await a.cycle()  # A alone: it owns tr-1
    assert a.ownership.controls("tr-1")
    code = (await b.registry.create_codes("tr-1", count=1))[0]
    home_id = (await b.registry.enroll(code.code)).home_id
    now = datetime.now(UTC)
    await b.registry.record_preferences(
        Preferences(home_id=home_id, ts=now, participation=Participation.OFF)
    )
    assert home_id in b.fleet.homes  # the enrolling instance at once
    assert home_id not in a.fleet.homes  # the owner not yet
    await a.cycle()
    assert a.ownership.controls("tr-1")  # still A's: no take-over was needed
    view = a.fleet.homes[home_id]
    assert view.congestion_point_id == "tr-1"
    # What the home told B's registry came with it: its resident opted out.
    assert view.preferences is not None
    assert view.preferences.participation is Participation.OFF
    # The next cycle reads only counts: nothing new, nothing added.
    assert await a.ownership._enrolled.follow() == []
