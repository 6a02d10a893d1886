"""The status page and /api/status, fed by a real home broker."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
import time
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from dacs.connect import StatusBoard, UplinkMonitor, create_app
from dacs.connect.status import EnrollmentPhase, EnrollmentProblem
from dacs.connect.status_page import render_page
from tests.broker.support import Pki

from .conftest import HOME_ID
from .homes import central_broker, enrollment_for, start_home_broker


async def _status_until(
    client: TestClient[Any, Any], condition: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while True:
        answer = await client.get("/api/status")
        assert answer.status == 200
        status: dict[str, Any] = await answer.json()
        if condition(status):
            return status
        assert time.monotonic() < deadline, f"status never matched: {status}"
        await asyncio.sleep(0.1)


async def test_status_follows_the_real_uplink(tmp_path: Path, pki: Pki) -> None:
    central = await asyncio.to_thread(central_broker, tmp_path / "central", pki)
    home = await asyncio.to_thread(
        start_home_broker, tmp_path / "home", enrollment_for(central, pki)
    )
    board = StatusBoard()
    login = home.prepared.credentials.service
    monitor = UplinkMonitor(
        board,
        host="127.0.0.1",
        port=home.settings.listen_port,
        username=login.username,
        password=login.password,
    )
    try:
        async with TestClient(TestServer(create_app(board))) as client:
            status = await _status_until(client, lambda _s: True)
            assert status["enrolled"] is False
            assert status["uplink"]["state"] == "not_configured"
            assert status["healthy"] is False  # no broker connection yet
            assert (await client.get("/api/health")).status == 503
            monitor.start()
            board.set_enrolled(HOME_ID, datetime.now(UTC))
            monitor.watch_home(HOME_ID)
            status = await _status_until(
                client,
                lambda s: (
                    s["uplink"]["state"] == "up" and s["messages"]["queued"] is not None
                ),
            )
            assert status["enrolled"] is True
            assert status["home_id"] == HOME_ID
            assert status["healthy"] is True
            assert (await client.get("/api/health")).status == 200
            await asyncio.to_thread(central.broker.stop)
            status = await _status_until(
                client, lambda s: s["uplink"]["state"] == "down"
            )
            assert status["uplink"]["since"] is not None
            page = await (await client.get("/")).text()
            assert "disconnected; messages are queued" in page
            assert f"enrolled as <strong>{HOME_ID}</strong>" in page
            # Only relative links: ingress serves the page under its own prefix.
            assert 'href="api/status"' in page
            assert 'src="' not in page
            assert 'href="/' not in page
            await asyncio.to_thread(central.broker.start)
            await _status_until(client, lambda s: s["uplink"]["state"] == "up")
            await asyncio.to_thread(home.broker.stop)
            status = await _status_until(client, lambda s: not s["healthy"])
            assert status["uplink"]["state"] == "unknown"
    finally:
        monitor.stop()
        await asyncio.to_thread(home.broker.cleanup)
        await asyncio.to_thread(central.broker.cleanup)


def test_page_escapes_what_it_shows() -> None:
    board = StatusBoard()
    board.set_phase(EnrollmentPhase.FAILED)
    board.set_enrollment_problem(
        EnrollmentProblem(
            at=datetime.now(UTC),
            kind="unknown_code",
            message="<script>alert(1)</script>",
            temporary=False,
        )
    )
    page = render_page(board.snapshot)
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert "enter a new enrollment code" in page


async def test_only_ingress_and_loopback_are_answered() -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from dacs.connect.status import StatusBoard
    from dacs.connect.status_page import create_app

    board = StatusBoard()
    async with TestClient(
        TestServer(create_app(board, frozenset({"172.30.32.2"})))
    ) as client:
        response = await client.get("/api/status")
        assert response.status == 403
    async with TestClient(TestServer(create_app(board))) as client:
        response = await client.get("/api/status")
        assert response.status == 200
