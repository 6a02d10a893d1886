"""A UFTP neighbourhood: our endpoint in a real aiohttp server, the library's DSO on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from aiohttp import web
import pytest
from sqlalchemy import func, select

from dacs.aggregator.clock import SystemClock
from dacs.aggregator.config import AggregatorConfig, DatabaseConfig
from dacs.aggregator.domain.delivery import DeliveredFlexSource
from dacs.aggregator.registry.provisioning import OpenBrokerProvisioner
from dacs.aggregator.service import AggregatorService
from dacs.aggregator.storage.database import migrate
from dacs.aggregator.storage.tables import (
    EventRow,
    UftpFlexOfferRow,
    UftpFlexOrderRow,
    UftpFlexRequestRow,
    UftpInboundRow,
    UftpOutboxRow,
)
from dacs.aggregator.uftp import UftpConfig, generate_keypair
from dacs.aggregator.uftp.agent import UftpAgent
from dacs.aggregator.uftp.routes import add_uftp_routes
from dacs.protocol import DeviceSummary, Preferences, Status, Telemetry
from dacs.testbed.grid_peers.gopacs_dso import GopacsDso
from dacs.testbed.servers.ports import find_free_port

AGR_DOMAIN = "agr.example.com"
DSO_DOMAIN = "dso.example.com"
EAN = "871234567890123451"
ADDRESS = f"ean.{EAN}"
POINT = "tr-1"


@dataclass(frozen=True)
class Keys:
    """Key pairs of both sides."""

    agr_secret: str
    agr_public: str
    dso_secret: str
    dso_public: str


@pytest.fixture
def keys() -> Keys:
    """Fresh ed25519 keys for the aggregator and the DSO."""
    return Keys(*generate_keypair(), *generate_keypair())


def write_participants(
    path: Path, entries: Sequence[tuple[str, str, str, str]]
) -> Path:
    """A TOML participants file of (domain, role, public key, endpoint)."""
    path.write_text(
        "".join(
            f'[[participant]]\ndomain = "{d}"\nrole = "{r}"\npublic_key = "{k}"\nendpoint = "{e}"\n\n'
            for d, r, k, e in entries
        ),
        encoding="utf-8",
    )
    return path


def write_agr_files(folder: Path, dso_endpoint: str) -> None:
    """``agr.key`` (a fresh signing key) and ``participants.toml`` naming one DSO."""
    agr_secret, _ = generate_keypair()
    _, dso_public = generate_keypair()
    (folder / "agr.key").write_text(agr_secret, encoding="utf-8")
    write_participants(
        folder / "participants.toml",
        [("dso.example", "DSO", dso_public, dso_endpoint)],
    )


@dataclass
class UftpWorld:
    """Everything a UFTP test talks to."""

    service: AggregatorService
    agent: UftpAgent
    dso: GopacsDso
    endpoint: str
    keys: Keys
    tmp_path: Path

    def peer(self, *, domain: str = DSO_DOMAIN, secret: str | None = None) -> GopacsDso:
        """Another DSO peer towards our endpoint (not started; for sending only)."""
        return GopacsDso(
            domain=domain,
            signing_secret=secret or self.keys.dso_secret,
            agr_domain=AGR_DOMAIN,
            agr_public_key=self.keys.agr_public,
            agr_endpoint=self.endpoint,
        )


async def table_counts(service: AggregatorService) -> dict[str, int]:
    """Rows in every table a UFTP message may change."""
    counts = {}
    async with service.sessions() as session:
        for table in (
            UftpInboundRow,
            UftpFlexRequestRow,
            UftpFlexOfferRow,
            UftpFlexOrderRow,
            UftpOutboxRow,
            EventRow,
        ):
            counts[table.__tablename__] = int(
                await session.scalar(select(func.count()).select_from(table)) or 0
            )
    return counts


@asynccontextmanager
async def uftp_world(
    service: AggregatorService,
    tmp_path: Path,
    keys: Keys,
    *,
    delivered: DeliveredFlexSource | None = None,
    **config: object,
) -> AsyncIterator[UftpWorld]:
    """Serve our endpoint from a real aiohttp server and run the library's DSO service."""
    port = find_free_port()
    endpoint = f"http://127.0.0.1:{port}/shapeshifter/api/v3/message"
    dso = GopacsDso(
        domain=DSO_DOMAIN,
        signing_secret=keys.dso_secret,
        agr_domain=AGR_DOMAIN,
        agr_public_key=keys.agr_public,
        agr_endpoint=endpoint,
    )
    participants = write_participants(
        tmp_path / "participants.toml",
        [(DSO_DOMAIN, "DSO", keys.dso_public, dso.endpoint)],
    )
    key_file = tmp_path / "agr.key"
    key_file.write_text(keys.agr_secret, encoding="utf-8")
    settings = UftpConfig(
        enabled=True,
        domain=AGR_DOMAIN,
        signing_key_file=str(key_file),
        participants_file=str(participants),
        retry_base_s=0.05,
        retry_attempts=3,
        **config,  # type: ignore[arg-type]  # test overrides of UftpConfig fields
    )
    agent = UftpAgent.from_config(
        settings,
        service,
        sessions=service.sessions,
        settlement=service.config.settlement,
        delivered=delivered,
    )
    app = web.Application()
    add_uftp_routes(app, agent)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    await dso.start()
    try:
        yield UftpWorld(service, agent, dso, endpoint, keys, tmp_path)
    finally:
        await agent.outbox.idle()
        await dso.stop()
        await runner.cleanup()


def device() -> DeviceSummary:
    """A modulating hybrid heat pump."""
    return DeviceSummary(
        profile="dacs",
        manufacturer="Sim",
        model="HP",
        nominal_power_w=3000,
        safety_floor_w=500,
        limit_step_w=100,
        supports_gas_only=True,
        native_watchdog=True,
    )


def add_synthetic_homes(
    service: AggregatorService,
    now: datetime,
    asks: Sequence[float],
    power_w: float = 2000.0,
) -> None:
    """Homes in the live fleet only, as if they had just reported (no MQTT needed)."""
    for index, ask in enumerate(asks):
        home_id = f"h-{index}"
        service.fleet.add(home_id, POINT)
        service.fleet.apply_status(
            Status(
                home_id=home_id,
                ts=now,
                online=True,
                device=device(),
                telemetry_interval_s=60,
            )
        )
        service.fleet.apply_preferences(
            Preferences(
                home_id=home_id,
                ts=now,
                min_compensation_eur_per_kwh=ask,
                max_curtailment_minutes=60,
            )
        )
        service.fleet.apply_telemetry(
            Telemetry(
                home_id=home_id,
                seq=1,
                boot_id="b",
                ts=now,
                electric_power_w=power_w,
                boiler_active=False,
                indoor_temp_c=20.0,
                outdoor_temp_c=2.0,
            ),
            now,
        )


@pytest.fixture
async def bare_service(
    database_url: str, tmp_path: Path
) -> AsyncIterator[AggregatorService]:
    """An aggregator with its database and one congestion point, without MQTT."""
    config = AggregatorConfig(database=DatabaseConfig(url=database_url))
    service = AggregatorService(
        config, clock=SystemClock(), provisioner=OpenBrokerProvisioner()
    )
    await migrate(service.engine)
    await service.registry.add_congestion_point(
        point_id=POINT,
        name="Street",
        rated_capacity_kw=100,
        grid_operator="DSO",
        ean=EAN,
    )
    await service.reload()
    yield service
    await service.engine.dispose()


@pytest.fixture
async def world(
    bare_service: AggregatorService, tmp_path: Path, keys: Keys
) -> AsyncIterator[UftpWorld]:
    """Our endpoint and the DSO, with four synthetic homes of rising asks."""
    add_synthetic_homes(
        bare_service, bare_service.clock.now(), [0.10, 0.20, 0.30, 0.40]
    )
    async with uftp_world(bare_service, tmp_path, keys) as w:
        yield w
