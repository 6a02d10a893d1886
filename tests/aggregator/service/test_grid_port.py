"""The grid port as the service implements it: envelopes in force, withdrawn, refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import IntegrityError

from dacs.aggregator.clock import Clock
from dacs.aggregator.config import AggregatorConfig, DatabaseConfig
from dacs.aggregator.domain.envelope import CapacityEnvelope
from dacs.aggregator.grid_port import GridPort, UnknownCongestionPointError
from dacs.aggregator.registry.provisioning import OpenBrokerProvisioner
from dacs.aggregator.service import AggregatorService
from dacs.aggregator.storage.database import migrate

START = datetime(2025, 2, 3, 16, 0, tzinfo=UTC)


class FixedClock(Clock):
    """Time stands still at START."""

    def now(self) -> datetime:
        return START

    async def sleep(self, seconds: float) -> None:
        del seconds


@pytest.fixture
async def service(database_url: str) -> AsyncIterator[AggregatorService]:
    service = AggregatorService(
        AggregatorConfig(database=DatabaseConfig(url=database_url)),
        clock=FixedClock(),
        provisioner=OpenBrokerProvisioner(),
    )
    await migrate(service.engine)
    await service.registry.add_congestion_point(
        point_id="tr-1", name="Street", rated_capacity_kw=100, grid_operator="DSO"
    )
    await service.reload()
    yield service
    await service.engine.dispose()


def evening(envelope_id: str = "da-1") -> CapacityEnvelope:
    return CapacityEnvelope.day_ahead(
        envelope_id, START, [60_000.0, 55_000.0], origin="uftp:dso.example"
    )


async def test_an_envelope_put_in_force_survives_a_restart(
    service: AggregatorService,
) -> None:
    port: GridPort = service
    await port.put_in_force("tr-1", evening())
    assert [e.envelope_id for e in port.envelopes("tr-1")] == ["da-1"]
    revived = AggregatorService(
        service.config, clock=FixedClock(), provisioner=OpenBrokerProvisioner()
    )
    try:
        await revived.reload()
        (restored,) = revived.envelopes("tr-1")
    finally:
        await revived.engine.dispose()
    assert restored == evening()


async def test_withdrawn_envelopes_stay_withdrawn_after_a_restart(
    service: AggregatorService,
) -> None:
    await service.put_in_force("tr-1", evening())
    assert await service.withdraw("tr-1", "da-1")
    assert not await service.withdraw("tr-1", "da-1")  # not in force any more
    assert service.envelopes("tr-1") == ()
    revived = AggregatorService(
        service.config, clock=FixedClock(), provisioner=OpenBrokerProvisioner()
    )
    try:
        await revived.reload()
        assert revived.envelopes("tr-1") == ()
    finally:
        await revived.engine.dispose()


async def test_unknown_congestion_points_and_repeated_ids_are_refused(
    service: AggregatorService,
) -> None:
    with pytest.raises(UnknownCongestionPointError, match="tr-9"):
        await service.put_in_force("tr-9", evening())
    with pytest.raises(UnknownCongestionPointError):
        service.envelopes("tr-9")
    with pytest.raises(UnknownCongestionPointError):
        service.record_measurement("tr-9", START, 1000.0)
    assert not await service.withdraw("tr-9", "da-1")
    await service.put_in_force("tr-1", evening())
    with pytest.raises(IntegrityError):
        await service.put_in_force("tr-1", evening())
    # The refused copy changed nothing in force.
    assert [e.envelope_id for e in service.envelopes("tr-1")] == ["da-1"]


async def test_measurements_must_be_loads(service: AggregatorService) -> None:
    with pytest.raises(ValueError, match=">= 0 W"):
        service.record_measurement("tr-1", START, float("nan"))
    service.record_measurement("tr-1", START, 42_000.0)
    assert service.homes("tr-1") == []
    assert service.last_cycle("tr-1") is None
    (report,) = await service.cycle()
    assert report.measured_load_w == 42_000.0
    assert service.last_cycle("tr-1") is report
    assert service.congestion_points() == {"tr-1"}
    assert service.now() == START
