"""Announcing the home broker to Home Assistant through a fake Supervisor."""

from __future__ import annotations

import pytest

from dacs.connect import (
    DiscoveryConnectionError,
    DiscoveryError,
    DiscoveryInfo,
    DiscoveryRejectedError,
    SupervisorDiscovery,
    addon_hostname,
)
from dacs.testbed.servers import find_free_port

from .conftest import SUPERVISOR_TOKEN, Answer, FakeServer

INFO = DiscoveryInfo(
    host="a0d7b954-dacs-connect",
    port=1883,
    username="homeassistant",
    password="local-secret-0123456789abcdef",
    home_id="h-0001",
    topic_prefix="dacs/v1/h-0001",
)


async def test_announce_sends_the_broker_and_returns_the_uuid(
    fake_supervisor: FakeServer,
) -> None:
    async with SupervisorDiscovery(
        SUPERVISOR_TOKEN, supervisor_url=fake_supervisor.url
    ) as client:
        uuid = await client.announce(INFO)
    assert uuid == "0123456789abcdef0123456789abcdef"
    headers, body = fake_supervisor.requests[0]
    assert headers["Authorization"] == f"Bearer {SUPERVISOR_TOKEN}"
    assert body == {
        "service": "dacs_hw",
        "config": {
            "host": "a0d7b954-dacs-connect",
            "port": 1883,
            "username": "homeassistant",
            "password": "local-secret-0123456789abcdef",
            "home_id": "h-0001",
            "topic_prefix": "dacs/v1/h-0001",
        },
    }
    assert "local-secret" not in repr(INFO)


async def test_refusals_and_failures_are_typed(fake_supervisor: FakeServer) -> None:
    async with SupervisorDiscovery(
        "wrong-token", supervisor_url=fake_supervisor.url
    ) as client:
        with pytest.raises(DiscoveryRejectedError, match="Invalid token") as caught:
            await client.announce(INFO)
    assert caught.value.status == 401
    fake_supervisor.answers.extend(
        [
            Answer(400, {"result": "error", "message": "Apps must list services"}),
            Answer(200, {"result": "ok", "data": {}}),
            Answer(200, {}, delay_s=1),
        ]
    )
    async with SupervisorDiscovery(
        SUPERVISOR_TOKEN, supervisor_url=fake_supervisor.url, timeout_s=0.3
    ) as client:
        with pytest.raises(DiscoveryRejectedError, match="Apps must list services"):
            await client.announce(INFO)
        with pytest.raises(DiscoveryError, match="unexpected answer"):
            await client.announce(INFO)
        with pytest.raises(DiscoveryConnectionError, match="did not answer"):
            await client.announce(INFO)
    nobody = f"http://127.0.0.1:{find_free_port()}"
    async with SupervisorDiscovery(SUPERVISOR_TOKEN, supervisor_url=nobody) as client:
        with pytest.raises(DiscoveryConnectionError, match="cannot reach"):
            await client.announce(INFO)


def test_addon_hostname() -> None:
    assert (
        addon_hostname({"DACS_ADDON_HOSTNAME": "local-dacs-connect"})
        == "local-dacs-connect"
    )
    assert addon_hostname({})  # the container's own host name
