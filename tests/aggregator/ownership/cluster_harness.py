"""A cluster of real aggregator processes and homes that log every command with its epoch.

The failover test's parts: congestion points and homes enrolled in a real
PostgreSQL, aggregator instances as ``dacs aggregator serve`` processes
with ``[cluster]`` on, a TCP proxy (in its own thread, so the homes' busy
event loop does not slow the database for the instance behind it), and
home controllers that record each command and cancel as it arrives.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
import re
import threading
import time

from sqlalchemy import text

from dacs.aggregator.storage.database import create_engine
from dacs.home import HomeController
from dacs.protocol import Cancel, Command, ProtocolError, decode, parse_topic
from dacs.testbed.servers import TcpProxy
from tests.aggregator.service.delivery_harness import AggregatorProcess, registry_on

OPERATOR_TOKEN = "failover-operator"
_TOOK_OVER = re.compile(r"took over (.*)")
_POINT_EPOCH = re.compile(r"(\S+) \(epoch (\d+)\)")


@dataclass(frozen=True, kw_only=True)
class Received:
    """One command or cancel as a home received it."""

    at: float  # wall clock (time.time()), comparable with PostgreSQL's
    home_id: str
    kind: str  # "command" or "cancel"
    command_id: str
    epoch: int | None


class LoggingHome(HomeController):
    """A home controller that logs every command and cancel it receives, with its epoch."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        """As HomeController; ``received`` fills as messages arrive."""
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]  # passed through unchanged
        self.received: list[Received] = []

    async def handle_message(self, name: str, payload: bytes) -> None:
        """Log a command or cancel, then handle it as every home does."""
        try:
            home_id, channel = parse_topic(name)
            message = decode(payload, channel=channel)
        except (ValueError, ProtocolError):
            message = None
        if isinstance(message, Command | Cancel):
            self.received.append(
                Received(
                    at=time.time(),
                    home_id=home_id,
                    kind="command" if isinstance(message, Command) else "cancel",
                    command_id=message.command_id,
                    epoch=message.epoch,
                )
            )
        await super().handle_message(name, payload)


@dataclass(frozen=True, kw_only=True)
class Enrolled:
    """Who is behind which point, on which broker."""

    homes: dict[str, list[str]]  # point -> home ids
    broker_of: dict[str, str]  # home -> broker id


async def enroll_cluster(
    database_url: str, points: list[str], homes_per_point: int, broker_ids: list[str]
) -> Enrolled:
    """Congestion points and their enrolled homes, each given one of the brokers."""
    async with registry_on(database_url, broker_ids) as registry:
        homes: dict[str, list[str]] = {}
        broker_of: dict[str, str] = {}
        for point in points:
            await registry.add_congestion_point(
                point_id=point,
                name=point,
                rated_capacity_kw=500,
                grid_operator="DSO",
            )
            homes[point] = []
            for code in await registry.create_codes(point, count=homes_per_point):
                enrolled = await registry.enroll(code.code)
                homes[point].append(enrolled.home_id)
                broker_of[enrolled.home_id] = enrolled.broker_id
        return Enrolled(homes=homes, broker_of=broker_of)


@dataclass(frozen=True, kw_only=True)
class Lease:
    """A point's lease row as the database has it."""

    owner: str | None
    epoch: int
    expires_at: datetime
    acquired_at: datetime | None
    live: bool


async def leases(database_url: str) -> dict[str, Lease]:
    """Every point's lease, read directly (not through any proxy)."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text(
                    "SELECT congestion_point_id, owner, epoch, expires_at, acquired_at,"
                    " expires_at > clock_timestamp() FROM point_leases"
                )
            )
            return {
                point: Lease(
                    owner=owner,
                    epoch=epoch,
                    expires_at=expires,
                    acquired_at=acquired,
                    live=bool(live) and owner is not None,
                )
                for point, owner, epoch, expires, acquired, live in rows
            }
    finally:
        await engine.dispose()


def broker_entries(ports: dict[str, int]) -> str:
    """The TOML list of ``id=host:port`` entries, for [mqtt] and [enrollment]."""
    return ", ".join(f'"{name}=127.0.0.1:{port}"' for name, port in ports.items())


def cluster_section(
    name: str, *, lease_s: float, margin_s: float, brokers: dict[str, int]
) -> str:
    """The TOML an instance of the cluster adds to its configuration."""
    return f"""
[enrollment]
brokers = [{broker_entries(brokers)}]
broker_tls = false
[cluster]
enabled = true
instance_id = "{name}"
lease_s = {lease_s}
margin_s = {margin_s}
"""


def epochs_taken(instance: AggregatorProcess) -> dict[tuple[str, int], str]:
    """(point, epoch) -> instance, from the instance's own log of its take-overs."""
    taken: dict[tuple[str, int], str] = {}
    for line in instance.log().splitlines():
        if (found := _TOOK_OVER.search(line)) is not None:
            for point, epoch in _POINT_EPOCH.findall(found.group(1)):
                taken[point, int(epoch)] = instance.name
    return taken


class ThreadedProxy:
    """A TcpProxy on its own event loop in a thread."""

    def __init__(self, target_port: int) -> None:
        """Start the thread and the proxy."""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.proxy = TcpProxy(target_port)
        asyncio.run_coroutine_threadsafe(self.proxy.start(), self._loop).result(10)

    @property
    def port(self) -> int:
        """Where the instance connects."""
        return self.proxy.port

    def cut(self) -> None:
        """Cut the instance off from the database."""
        self._loop.call_soon_threadsafe(self.proxy.cut)

    def close(self) -> None:
        """Stop the proxy and its thread."""
        asyncio.run_coroutine_threadsafe(self.proxy.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


@contextmanager
def threaded_proxy(target_port: int) -> Iterator[ThreadedProxy]:
    """A proxy to ``target_port`` for the duration of the block."""
    proxy = ThreadedProxy(target_port)
    try:
        yield proxy
    finally:
        proxy.close()


def through(proxy_port: int, dsn: str) -> str:
    """The DSN with its port replaced by the proxy's."""
    head, _, tail = dsn.rpartition(":")
    _, slash, database = tail.partition("/")
    return f"{head}:{proxy_port}{slash}{database}"


def dsn_port(dsn: str) -> int:
    """The port of a ``...@127.0.0.1:PORT/db`` DSN."""
    return int(dsn.rpartition(":")[2].partition("/")[0])
