"""Registry and enrollment on both databases, with the real password tool."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from dacs.aggregator.api.enrollment import (
    BROKER_ADDRESSES,
    ENROLLMENT_LIMITER,
    REGISTRY,
    enroll,
)
from dacs.aggregator.api.ratelimit import RateLimiter
from dacs.aggregator.registry.codes import new_code, normalise_code
from dacs.aggregator.registry.errors import (
    CodeExpiredError,
    CodeUsedError,
    ConflictError,
    NotFoundError,
    ProvisioningError,
    UnknownCodeError,
)
from dacs.aggregator.registry.provisioning import PasswordFileProvisioner
from dacs.aggregator.registry.registry import Registry
from dacs.aggregator.storage.database import session_factory
from dacs.broker.passwords import list_users
from dacs.protocol import BrokerAddress, decode_enrollment_response


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 2, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def registry(engine: AsyncEngine, tmp_path: Path, clock: Clock) -> Registry:
    registry = Registry(
        session_factory(engine),
        provisioner=PasswordFileProvisioner(tmp_path / "passwords"),
        now=clock,
    )
    await registry.add_congestion_point(
        point_id="tr-dalen-01",
        name="Dalen Noord",
        rated_capacity_kw=250,
        grid_operator="Enexis",
    )
    return registry


async def test_codes_and_enrollment(
    registry: Registry, tmp_path: Path, clock: Clock
) -> None:
    codes = await registry.create_codes("tr-dalen-01", count=3, note="street A")
    assert len({c.code for c in codes}) == 3
    enrollment = await registry.enroll(codes[0].code.lower().replace("-", " "))
    assert enrollment.home_id.startswith("h-")
    assert len(enrollment.password) >= 24
    assert enrollment.home_id in list_users(tmp_path / "passwords")
    home = await registry.home(enrollment.home_id)
    assert home.congestion_point_id == "tr-dalen-01"
    with pytest.raises(CodeUsedError):
        await registry.enroll(codes[0].code)
    await registry.revoke_code(codes[1].code)
    with pytest.raises(UnknownCodeError):
        await registry.enroll(codes[1].code)
    clock.now += timedelta(days=15)
    with pytest.raises(CodeExpiredError):
        await registry.enroll(codes[2].code)
    with pytest.raises(UnknownCodeError):
        await registry.enroll(new_code())
    listed = await registry.codes("tr-dalen-01")
    assert {c.code for c in listed} == {c.code for c in codes}
    assert [h.id for h in await registry.homes("tr-dalen-01")] == [enrollment.home_id]


async def test_one_code_one_home_under_concurrency(registry: Registry) -> None:
    (code,) = await registry.create_codes("tr-dalen-01")
    results = await asyncio.gather(
        *(registry.enroll(code.code) for _ in range(5)), return_exceptions=True
    )
    assert sum(1 for r in results if not isinstance(r, Exception)) == 1
    assert all(
        isinstance(r, CodeUsedError) for r in results if isinstance(r, Exception)
    )
    assert len(await registry.homes()) == 1


async def test_failed_provisioning_leaves_nothing(
    engine: AsyncEngine, clock: Clock
) -> None:
    class Broken:
        def add_home(self, home_id: str) -> str:
            raise OSError("password file is read-only")

        def remove_home(self, home_id: str) -> None:
            raise AssertionError("nothing to remove")

    registry = Registry(session_factory(engine), provisioner=Broken(), now=clock)
    await registry.add_congestion_point(
        point_id="tr-1", name="x", rated_capacity_kw=100, grid_operator="y"
    )
    (code,) = await registry.create_codes("tr-1")
    with pytest.raises(ProvisioningError, match="read-only"):
        await registry.enroll(code.code)
    assert await registry.homes() == []
    # The code is still usable once the broker is fixed.
    (stored,) = await registry.codes()
    assert stored.used_at is None


async def test_registry_errors(registry: Registry) -> None:
    with pytest.raises(ConflictError):
        await registry.add_congestion_point(
            point_id="tr-dalen-01", name="again", rated_capacity_kw=1, grid_operator="x"
        )
    with pytest.raises(NotFoundError):
        await registry.create_codes("nowhere")
    with pytest.raises(NotFoundError):
        await registry.home("h-unknown")
    with pytest.raises(ValueError, match="between 1 and 1000"):
        await registry.create_codes("tr-dalen-01", count=0)
    with pytest.raises(ValueError, match="positive"):
        await registry.add_congestion_point(
            point_id="tr-2", name="x", rated_capacity_kw=0, grid_operator="y"
        )
    with pytest.raises(ValueError, match="12 letters"):
        normalise_code("ABC")


@pytest.fixture
async def enrollment_client(
    registry: Registry,
) -> AsyncIterator[Callable[[], TestClient[web.Request, web.Application]]]:
    app = web.Application()
    app[REGISTRY] = registry
    app[BROKER_ADDRESSES] = {
        "central": BrokerAddress(
            broker_id="central",
            host="mqtt.example.nl",
            port=8883,
            tls=True,
            ca_certificate="PEM",
        )
    }
    app[ENROLLMENT_LIMITER] = RateLimiter(per_minute=1, burst=7)
    app.router.add_post("/api/v1/enrollments", enroll)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    yield lambda: client
    await client.close()


async def test_enrollment_api(
    registry: Registry,
    enrollment_client: Callable[[], TestClient[web.Request, web.Application]],
) -> None:
    client = enrollment_client()
    (code,) = await registry.create_codes("tr-dalen-01")
    response = await client.post(
        "/api/v1/enrollments", json={"code": code.code, "client": "test"}
    )
    assert response.status == 201
    answer = decode_enrollment_response(await response.read())
    assert answer.mqtt.username == answer.home_id
    assert answer.topic_prefix == f"dacs/v1/{answer.home_id}"
    assert (answer.mqtt.host, answer.mqtt.port, answer.mqtt.tls) == (
        "mqtt.example.nl",
        8883,
        True,
    )
    again = await client.post("/api/v1/enrollments", json={"code": code.code})
    assert (again.status, (await again.json())["error"]) == (409, "code_used")
    unknown = await client.post("/api/v1/enrollments", json={"code": new_code()})
    assert (unknown.status, (await unknown.json())["error"]) == (404, "unknown_code")
    for body in (b"not json", b'{"code": 12}', b'{"code": "abc"}', b"[]"):
        bad = await client.post("/api/v1/enrollments", data=body)
        assert (bad.status, (await bad.json())["error"]) == (400, "malformed")
    limited = await client.post("/api/v1/enrollments", json={"code": new_code()})
    assert limited.status == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert len(await registry.homes()) == 1
