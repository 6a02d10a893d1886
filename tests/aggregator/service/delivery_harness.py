"""End-to-end telemetry delivery under faults: a real aggregator process, real homes.

The aggregator runs as ``dacs aggregator serve`` in its own process (so it
can be killed as a crash would), on real PostgreSQL, behind a real
Mosquitto with shared subscriptions. The homes are the library's home
controllers on simulated heat pumps, each with its own MQTT link to that
broker. Only the database answers whether anything was lost or stored twice.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
import os
from pathlib import Path
import subprocess

from sqlalchemy import text

from dacs.aggregator.broker_endpoints import SINGLE_BROKER_ID
from dacs.aggregator.registry.provisioning import OpenBrokerProvisioner
from dacs.aggregator.registry.registry import Registry
from dacs.aggregator.storage.database import create_engine, migrate, session_factory
from dacs.home import HomeController
from dacs.testbed.servers.ports import find_free_port
from tests.aggregator.conftest import serve_command

from .conftest import homes_on_broker

SRC = Path(__file__).resolve().parents[3] / "src"
# Homes publish twice a second; a receipt missing after 3 s means a resend.
TELEMETRY_INTERVAL_S = 0.5
RESEND_AFTER_S = 3.0
# As in production, the homes are back first (a home's bridge retries within
# seconds) and the aggregator later, its waits grown during the outage: 10 s
# at most here, 30 s in production, so the test does not wait that long.
HOME_RECONNECT_MAX_S = 1.0
AGGREGATOR_RECONNECT_MAX_S = 10.0

type Stored = Counter[tuple[str, str, int]]  # (home, boot, seq) -> rows


@asynccontextmanager
async def registry_on(
    database_url: str, broker_ids: Sequence[str] = (SINGLE_BROKER_ID,)
) -> AsyncIterator[Registry]:
    """A registry on a migrated database, closed afterwards."""
    engine = create_engine(database_url)
    try:
        await migrate(engine)
        yield Registry(
            session_factory(engine),
            provisioner=OpenBrokerProvisioner(),
            now=lambda: datetime.now(UTC),
            broker_ids=broker_ids,
        )
    finally:
        await engine.dispose()


async def enroll_homes(database_url: str, count: int) -> list[str]:
    """A congestion point and ``count`` enrolled homes in a migrated database."""
    async with registry_on(database_url) as registry:
        await registry.add_congestion_point(
            point_id="tr-1",
            name="Fault street",
            rated_capacity_kw=100,
            grid_operator="DSO",
        )
        codes = await registry.create_codes("tr-1", count=count)
        return [(await registry.enroll(code.code)).home_id for code in codes]


async def stored_telemetry(database_url: str) -> Stored:
    """Every stored row, counted by (home, boot, seq)."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text(
                    "SELECT home_id, boot_id, seq, count(*) FROM telemetry "
                    "GROUP BY home_id, boot_id, seq"
                )
            )
            return Counter({(h, b, s): n for h, b, s, n in rows})
    finally:
        await engine.dispose()


class AggregatorProcess:
    """``dacs aggregator serve`` in a child process, started and killed at will."""

    def __init__(
        self,
        workdir: Path,
        database_url: str,
        broker_port: int,
        *,
        name: str = "aggregator",
        cycle_s: float = 5,
        api: str = "",
        mqtt: str = "",
        extra: str = "",
    ) -> None:
        """Write the configuration (``api``, ``mqtt``: more of theirs; ``extra``: more sections)."""
        self.name = name
        self.api_port = find_free_port()
        self.log_path = workdir / f"{name}.log"
        self.config_path = workdir / f"{name}.toml"
        client_id = "dacs-aggregator-1" if name == "aggregator" else f"dacs-{name}"
        self.config_path.write_text(
            f"""
[api]
host = "127.0.0.1"
port = {self.api_port}
{api}
[database]
url = "{database_url}"
telemetry_flush_s = 1.0
[mqtt]
host = "127.0.0.1"
port = {broker_port}
client_id = "{client_id}"
receipt_interval_s = 1.0
reconnect_max_s = {AGGREGATOR_RECONNECT_MAX_S}
{mqtt}
[control]
cycle_s = {cycle_s}
{extra}""",
            encoding="utf-8",
        )
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the aggregator; its log goes to ``log_path``."""
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                serve_command(self.config_path),
                env=os.environ | {"PYTHONPATH": str(SRC)},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    async def wait_connected(self, times: int, within_s: float = 60) -> None:
        """Until the log says the aggregator has subscribed ``times`` times in all."""
        async with asyncio.timeout(within_s):
            while self.log().count("connected to the central broker") < times:
                assert self._process is not None
                assert self._process.poll() is None, self.log()[-3000:]
                await asyncio.sleep(0.1)

    @property
    def pid(self) -> int | None:
        """The running process's id (None when stopped)."""
        return None if self._process is None else self._process.pid

    def kill(self) -> None:
        """SIGKILL: nothing buffered is written, nothing is said goodbye."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def stop(self) -> None:
        """SIGTERM, as an orderly shutdown."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def log(self) -> str:
        """What the aggregator logged so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


@dataclass
class Street:
    """Running homes and what each has published so far."""

    homes: list[HomeController]

    def published(self) -> dict[tuple[str, str], int]:
        """(home, boot) -> how many telemetry messages the home has made."""
        return {
            (home.home_id or "", home.unreceipted.boot_id): home.snapshot.telemetry_seq
            for home in self.homes
        }

    @property
    def resent(self) -> int:
        """Telemetry messages the homes sent again for want of a receipt."""
        return sum(home.unreceipted.resent for home in self.homes)


@asynccontextmanager
async def street(broker_port: int, home_ids: list[str]) -> AsyncIterator[Street]:
    """Home controllers on simulated heat pumps, each linked to the broker."""
    async with homes_on_broker(
        broker_port,
        home_ids,
        telemetry_interval_s=TELEMETRY_INTERVAL_S,
        control_interval_s=1.0,
        resend_after_s=RESEND_AFTER_S,
        reconnect_max_s=HOME_RECONNECT_MAX_S,
    ) as stack:
        yield Street([home for _, _, home in stack])


@dataclass(frozen=True)
class Delivery:
    """What reached the database of what the homes published up to a moment."""

    published: int
    lost: int
    duplicated: int
    resent: int


async def delivered(
    database_url: str, homes: Street, *, within_s: float = 45
) -> Delivery:
    """Wait until all the homes published so far is stored (or ``within_s`` passed).

    The homes go on publishing meanwhile; only what they had made when this
    was called is counted, and every stored row beyond one per (home, boot,
    seq) is a duplicate.
    """
    made = homes.published()
    wanted = {(h, b, seq) for (h, b), count in made.items() for seq in range(count)}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while True:
        stored = await stored_telemetry(database_url)
        missing = wanted - set(stored)
        if not missing or loop.time() > deadline:
            break
        await asyncio.sleep(0.5)
    unknown = {key for key in stored if (key[0], key[1]) not in made}
    return Delivery(
        published=len(wanted),
        lost=len(missing),
        duplicated=sum(count - 1 for count in stored.values()) + len(unknown),
        resent=homes.resent,
    )
