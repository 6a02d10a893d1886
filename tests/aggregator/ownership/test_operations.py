"""Operating a cluster: /healthz, /readyz, the ownership metrics, and who owns a point (API, dashboard).

Two real services share one real PostgreSQL; instance A reaches it through a
TCP proxy the test cuts, as a network partition would. The tests drive the
control cycles themselves (the loop's own cycle is an hour away).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from aiohttp.test_utils import TestClient, TestServer
import pytest

from dacs.aggregator.api.app_keys import SERVICE
from dacs.aggregator.app import create_app
from dacs.aggregator.config import (
    AggregatorConfig,
    ApiConfig,
    ClusterConfig,
    ControlConfig,
    DatabaseConfig,
    MqttConfig,
)
from dacs.aggregator.service import AggregatorService
from dacs.testbed.browser import CHROMIUM, headless_chromium
from dacs.testbed.servers import MosquittoBroker, TcpProxy

READER = {"Authorization": "Bearer read-token"}
SCRAPER = {"Authorization": "Bearer scrape-token"}
OPERATOR = {"Authorization": "Bearer op-token"}
POINTS = ("cp-a", "cp-b", "cp-c", "cp-d")
LEASE_S = 4.0
MARGIN_S = 1.0

type Client = TestClient[Any, Any]


def _config(
    database_url: str, broker: MosquittoBroker, instance: str | None
) -> AggregatorConfig:
    return AggregatorConfig(
        database=DatabaseConfig(url=database_url),
        mqtt=MqttConfig(
            host="127.0.0.1", port=broker.port, client_id=f"agg-{instance}"
        ),
        api=ApiConfig(
            operator_tokens=("op-token",),
            reader_tokens=("read-token",),
            metrics_tokens=("scrape-token",),
        ),
        control=ControlConfig(cycle_s=3600),
        cluster=ClusterConfig(
            enabled=instance is not None,
            instance_id=instance or "",
            lease_s=LEASE_S,
            margin_s=MARGIN_S,
        ),
    )


def _through(proxy: TcpProxy, dsn: str) -> str:
    """The same database, reached through the proxy's port."""
    parts = urlsplit(dsn)
    netloc = parts.netloc.rsplit(":", 1)[0] + f":{proxy.port}"
    return urlunsplit(parts._replace(netloc=netloc))


async def _ready(client: Client) -> tuple[int, dict[str, Any]]:
    response = await client.get("/readyz")
    return response.status, await response.json()


async def _metric(client: Client, name: str) -> str:
    text = await (await client.get("/metrics", headers=SCRAPER)).text()
    values = [line.split()[-1] for line in text.splitlines() if line.startswith(name)]
    assert len(values) == 1, (name, text)
    return values[0]


async def _owners(client: Client) -> dict[str, dict[str, Any]]:
    answer = await (
        await client.get("/api/v1/congestion-points", headers=READER)
    ).json()
    return {point["id"]: point["owner"] for point in answer}


async def test_alone_alive_ready_and_no_owner(
    tmp_path: Path, mosquitto: MosquittoBroker
) -> None:
    config = _config(f"sqlite:///{tmp_path / 'a.db'}", mosquitto, None)
    async with TestClient(TestServer(create_app(config), host="127.0.0.1")) as client:
        service = client.server.app[SERVICE]
        assert await service.link.wait_connected(10)
        alive = await client.get("/healthz")
        assert (alive.status, await alive.json()) == (
            200,
            {"status": "alive", "instance": None},
        )
        status, body = await _ready(client)
        assert (status, body["status"], body["leases_renewed"]) == (200, "ready", None)
        assert body["database"]
        assert body["broker_connected"]
        await client.post(
            "/api/v1/congestion-points",
            headers=OPERATOR,
            json={
                "id": "cp-a",
                "name": "A",
                "rated_capacity_kw": 100,
                "grid_operator": "DSO",
            },
        )
        assert await _owners(client) == {"cp-a": None}
        metrics = await (await client.get("/metrics", headers=SCRAPER)).text()
        assert "dacs_cluster_" not in metrics
        # The broker goes: not ready, still alive.
        await asyncio.to_thread(mosquitto.stop)
        async with asyncio.timeout(10):
            while service.link.connected:  # noqa: ASYNC110 - the link has no event for it
                await asyncio.sleep(0.05)
        status, body = await _ready(client)
        assert (status, body["broker_connected"]) == (503, False)
        assert (await client.get("/healthz")).status == 200


@pytest.fixture
async def cluster(
    postgres_dsn: str, mosquitto: MosquittoBroker
) -> AsyncIterator[tuple[Client, Client, TcpProxy]]:
    """Instances A (through the proxy) and B (directly) on one database, four points."""
    host, port = urlsplit(postgres_dsn).hostname, urlsplit(postgres_dsn).port
    assert host == "127.0.0.1"
    assert port is not None
    proxy = TcpProxy(port)
    await proxy.start()
    async with AsyncExitStack() as stack:
        stack.push_async_callback(proxy.stop)
        a = await stack.enter_async_context(
            TestClient(
                TestServer(
                    create_app(_config(_through(proxy, postgres_dsn), mosquitto, "a")),
                    host="127.0.0.1",
                )
            )
        )
        b = await stack.enter_async_context(
            TestClient(
                TestServer(
                    create_app(_config(postgres_dsn, mosquitto, "b")),
                    host="127.0.0.1",
                )
            )
        )
        for point in POINTS:
            response = await a.post(
                "/api/v1/congestion-points",
                headers=OPERATOR,
                json={
                    "id": point,
                    "name": point.upper(),
                    "rated_capacity_kw": 100,
                    "grid_operator": "DSO",
                },
            )
            assert response.status == 201
        await _service(b).reload()  # what its next cycle would find
        yield a, b, proxy


def _service(client: Client) -> AggregatorService:
    return client.server.app[SERVICE]


def _owned(client: Client) -> set[str]:
    keeper = _service(client).ownership.keeper
    assert keeper is not None
    return keeper.owned


async def _share(a: Client, b: Client) -> None:
    """A takes all, B joins, A lets go of its surplus, B takes it."""
    for client in (a, b, a, b):
        await _service(client).cycle()


async def test_ready_once_renewed_and_the_points_shared(
    cluster: tuple[Client, Client, TcpProxy],
) -> None:
    a, b, _ = cluster
    assert await _service(a).link.wait_connected(10)
    # Before the first renewal the instance cannot command: not ready.
    status, body = await _ready(a)
    assert (status, body["instance"], body["leases_renewed"]) == (503, "a", False)
    assert (await (await a.get("/healthz")).json())["instance"] == "a"

    await _share(a, b)
    status, body = await _ready(a)
    assert (status, body) == (
        200,
        {
            "status": "ready",
            "instance": "a",
            "database": True,
            "broker_connected": True,
            "leases_renewed": True,
        },
    )
    await _service(a).cycle()  # reads the holders after B's take-over
    owners = await _owners(a)
    held_by = {point: owner["instance"] for point, owner in owners.items()}
    assert sorted(held_by.values()) == ["a", "a", "b", "b"]
    for point, owner in owners.items():
        assert owner["live"] is True
        assert owner["this_instance"] is (held_by[point] == "a")
        assert owner["epoch"] == (1 if held_by[point] == "a" else 2)
    one = await (
        await a.get(f"/api/v1/congestion-points/{POINTS[0]}", headers=READER)
    ).json()
    assert one["owner"] == owners[POINTS[0]]

    assert await _metric(a, "dacs_cluster_points_owned") == "2"
    assert await _metric(a, "dacs_cluster_takeovers_total") == "4"
    assert await _metric(a, "dacs_cluster_leases_released_total") == "2"
    assert await _metric(b, "dacs_cluster_takeovers_total") == "2"
    assert float(await _metric(a, "dacs_cluster_lease_age_seconds")) < LEASE_S
    text = await (await a.get("/metrics", headers=SCRAPER)).text()
    owned = {p for p, who in held_by.items() if who == "a"}
    for point in POINTS:
        line = f'dacs_congestion_point_owned{{congestion_point="{point}"}} 1'
        assert (line in text) is (point in owned)


async def test_cut_off_from_the_database_it_is_not_ready_and_stops_commanding(
    cluster: tuple[Client, Client, TcpProxy],
) -> None:
    a, b, proxy = cluster
    await _share(a, b)
    ownership = _service(a).ownership
    owned = _owned(a)
    assert len(owned) == 2
    proxy.cut()
    status, body = await _ready(a)
    assert (status, body["database"], body["broker_connected"]) == (503, False, True)
    # Its renewal fails; it commands on until its own deadline minus the margin.
    await _service(a).cycle()
    assert await _metric(a, "dacs_cluster_lease_renewal_failures_total") == "1"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + LEASE_S
    while any(ownership.controls(point) for point in owned):
        assert loop.time() < deadline, "still commanding at the end of its lease"
        await asyncio.sleep(0.1)
    status, body = await _ready(a)
    assert (status, body["leases_renewed"]) == (503, False)
    # B takes the points over once the database lets the leases expire.
    async with asyncio.timeout(LEASE_S * 3):
        while len(_owned(b)) < len(POINTS):
            await asyncio.sleep(0.3)
            await _service(b).cycle()
    proxy.mend()
    # Back: A renews nothing (its leases are B's), counts them lost, is ready.
    await _service(a).cycle()
    status, _ = await _ready(a)
    assert status == 200
    assert await _metric(a, "dacs_cluster_points_owned") == "0"


async def test_the_dashboard_shows_which_instance_owns_the_point(
    tmp_path: Path, cluster: tuple[Client, Client, TcpProxy]
) -> None:
    # No silent skip: `make setup` installs Chromium; without it this must fail.
    assert os.access(CHROMIUM, os.X_OK), "chromium is missing: run make setup"
    a, b, _ = cluster
    await _share(a, b)
    await _service(a).cycle()
    owners = await _owners(a)
    mine = next(p for p, o in owners.items() if o["instance"] == "a")
    theirs = next(p for p, o in owners.items() if o["instance"] == "b")
    # The test server listens on a real loopback port: the browser uses it.
    async with headless_chromium(tmp_path / "chromium") as page:
        origin = str(a.make_url("")).rstrip("/")
        await page.send("Page.navigate", url=f"{origin}/?token=read-token")
        await page.wait_for("document.getElementById('owner')?.hidden === false")
        for point, text in (
            (mine, f"a (epoch {owners[mine]['epoch']}) · this instance"),
            (theirs, f"b (epoch {owners[theirs]['epoch']})"),
        ):
            # As an operator picks it from the list of points.
            await page.evaluate(
                f"(() => {{ const select = document.getElementById('point');"
                f" select.value = {point!r};"
                " select.dispatchEvent(new Event('change')); })()"
            )
            await page.wait_for(
                f"document.getElementById('owner-instance')?.textContent === {text!r}"
            )
            instance = await page.evaluate(
                "document.getElementById('owner').dataset.instance"
            )
            assert instance == owners[point]["instance"]
        assert page.errors == []
