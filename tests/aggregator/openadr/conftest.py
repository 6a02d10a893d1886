"""A real test VTN on 127.0.0.1, an aggregator service on each database, a settable clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from openadr3_client.oadr310.models.event.event import ExistingEvent, NewEvent
import pytest

from dacs.aggregator.clock import Clock
from dacs.aggregator.config import AggregatorConfig, DatabaseConfig
from dacs.aggregator.domain.delivery import IntervalDelivery
from dacs.aggregator.openadr import OpenAdrConfig
from dacs.aggregator.openadr.identifiers import with_check_digit
from dacs.aggregator.openadr.ven import OpenAdrVen
from dacs.aggregator.registry.provisioning import OpenBrokerProvisioner
from dacs.aggregator.service import AggregatorService
from dacs.aggregator.storage.database import migrate
from dacs.testbed.grid_peers.openadr_vtn import (
    OpenAdrTestVtn,
    anchor_event,
    baseline_event,
    nlflex_program,
    resource_group,
)

SP_EAN = with_check_digit("871234567890")
DSO_EAN = "8712423014022"  # Enexis
GRID_CP = "CP-EINDHOVEN-042"
POINT = "tr-1"
START = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def home_ean(n: int) -> str:
    """A valid EAN18 for home number n."""
    return with_check_digit(f"8716900000000{n:04d}")


def existing(
    event: NewEvent, *, event_id: str = "ev-1", modified: datetime = START
) -> ExistingEvent:
    """A NewEvent as the VTN would return it."""
    body = event.model_dump(by_alias=True, mode="json", exclude_none=True)
    return ExistingEvent.model_validate(
        body
        | {
            "id": event_id,
            "createdDateTime": modified.isoformat(),
            "modificationDateTime": modified.isoformat(),
        }
    )


class SettableClock(Clock):
    """Time that tests move by hand; sleeping yields without waiting long."""

    def __init__(self, start: datetime) -> None:
        self.moment = start

    def now(self) -> datetime:
        return self.moment

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(min(seconds, 0.01))


class RecordedDelivery:
    """A DeliveredFlexSource that delivers a fixed kW in every quarter hour that has passed."""

    def __init__(self, clock: SettableClock, delivered_kw: float = 1.234) -> None:
        self.clock = clock
        self.delivered_kw = delivered_kw
        self.calls: list[tuple[str, datetime, datetime]] = []

    async def __call__(
        self, congestion_point_id: str, start: datetime, end: datetime
    ) -> Sequence[IntervalDelivery]:
        self.calls.append((congestion_point_id, start, end))
        out = []
        moment = start
        while moment + timedelta(minutes=15) <= min(end, self.clock.now()):
            out.append(
                IntervalDelivery(
                    start=moment,
                    end=moment + timedelta(minutes=15),
                    baseline_kw=10.0,
                    measured_kw=10.0 - self.delivered_kw,
                    delivered_kw=self.delivered_kw,
                    homes_reporting=2,
                )
            )
            moment += timedelta(minutes=15)
        return out


@pytest.fixture(params=["normal", "strict"])
async def vtn(request: pytest.FixtureRequest) -> AsyncIterator[OpenAdrTestVtn]:
    """The test VTN as it is, and as a minimal specification-literal VTN."""
    async with OpenAdrTestVtn(strict=request.param == "strict") as peer:
        yield peer


# Every OpenADR version the VEN speaks, each as the test VTN is and strict.
VTN_MODES = [
    pytest.param(("3.1.0", False), id="3.1.0-normal"),
    pytest.param(("3.1.0", True), id="3.1.0-strict"),
    pytest.param(("3.0.1", False), id="3.0.1-normal"),
    pytest.param(("3.0.1", True), id="3.0.1-strict"),
]


@pytest.fixture(params=VTN_MODES)
async def any_vtn(request: pytest.FixtureRequest) -> AsyncIterator[OpenAdrTestVtn]:
    """The test VTN in each OpenADR version, as it is and specification-literal."""
    version, strict = request.param
    async with OpenAdrTestVtn(strict=strict, version=version) as peer:
        yield peer


@pytest.fixture
async def strict_vtn() -> AsyncIterator[OpenAdrTestVtn]:
    """A minimal, specification-literal VTN (no NL-flex extension, zone-less stamps)."""
    async with OpenAdrTestVtn(strict=True) as peer:
        yield peer


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(START)


@pytest.fixture
async def service(
    database_url: str, clock: SettableClock
) -> AsyncIterator[AggregatorService]:
    """A service with one congestion point and three homes (no MQTT: events only)."""
    service = AggregatorService(
        AggregatorConfig(database=DatabaseConfig(url=database_url)),
        clock=clock,
        provisioner=OpenBrokerProvisioner(),
    )
    await migrate(service.engine)
    await service.registry.add_congestion_point(
        point_id=POINT, name="Street", rated_capacity_kw=100, grid_operator="Enexis"
    )
    yield service
    await service.engine.dispose()


async def enroll(service: AggregatorService, eans: Sequence[str | None]) -> list[str]:
    """Enroll one home per EAN behind POINT."""
    ids = []
    for ean in eans:
        (code,) = await service.registry.create_codes(POINT, count=1)
        ids.append((await service.registry.enroll(code.code, ean=ean)).home_id)
    await service.reload()
    return ids


def ven_config(vtn: OpenAdrTestVtn, **changes: Any) -> OpenAdrConfig:
    config = OpenAdrConfig(
        enabled=True,
        vtn_url=vtn.base_url,
        token_url=vtn.token_url,
        client_id=vtn.client_id,
        client_secret=vtn.client_secret,
        service_provider_ean=SP_EAN,
        dso_ean=DSO_EAN,
        congestion_points=(f"{GRID_CP}={POINT}",),
        allow_insecure_http=True,
        request_timeout_s=5,
        version=vtn.version,
    )
    return replace(config, **changes)


@dataclass(frozen=True)
class NlflexWorld:
    """An NL-flex program as a grid operator publishes it, by VTN id."""

    program: str
    anchor: str
    group: str


def publish_nlflex(vtn: OpenAdrTestVtn, group: str = "GROUP-EHV-042") -> NlflexWorld:
    """An NL-flex program, its reporting anchor event and one resource group.

    The grid operator's VTN then offers the NL-flex extension, strict or not.
    """
    vtn.not_offered.discard("/resource_groups")
    program = vtn.add_program(nlflex_program("dso-sp", dso_ean=DSO_EAN))
    anchor = vtn.add_event(anchor_event(program))
    vtn.add_resource_group(
        resource_group(
            group,
            dso_ean=DSO_EAN,
            service_provider_ean=SP_EAN,
            congestion_point_id=GRID_CP,
        )
    )
    return NlflexWorld(program=program, anchor=anchor, group=group)


async def nlflex_with_baseline(
    vtn: OpenAdrTestVtn, service: AggregatorService
) -> NlflexWorld:
    """One enrolled home, the NL-flex program and a 40 kW baseline for its group."""
    await enroll(service, [home_ean(1)])
    world = publish_nlflex(vtn)
    vtn.add_event(
        baseline_event(world.program, world.group, active_kw=40, reserved_kw=0)
    )
    return world


def make_ven(
    vtn: OpenAdrTestVtn,
    service: AggregatorService,
    clock: SettableClock,
    **changes: object,
) -> OpenAdrVen:
    return OpenAdrVen(
        ven_config(vtn, **changes),
        service,
        sessions=service.sessions,
        delivered_flex=RecordedDelivery(clock),
    )
