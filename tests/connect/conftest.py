"""Fixtures for the add-on service: a fake aggregator and a fake Supervisor.

Both are real HTTP servers on 127.0.0.1; the aggregator speaks HTTPS with a
certificate from a throwaway CA, as a self-hosted one would.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
import json
from pathlib import Path
import ssl
from typing import Any

from aiohttp import web
import pytest

from tests.broker.support import Pki, make_pki

HOME_ID = "h-0001"
HOME_PASSWORD = "home-one-secret-0123456789"
CODE = "ABCD-EFGH-2345"
SUPERVISOR_TOKEN = "supervisor-token-for-tests"


@dataclass
class Answer:
    """One planned answer of a fake server."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


def enrollment_body(
    *,
    home_id: str = HOME_ID,
    host: str = "127.0.0.1",
    port: int = 8883,
    password: str = HOME_PASSWORD,
    ca_certificate: str | None = None,
) -> dict[str, Any]:
    """A valid enrollment answer."""
    return {
        "home_id": home_id,
        "topic_prefix": f"dacs/v1/{home_id}",
        "mqtt": {
            "host": host,
            "port": port,
            "username": home_id,
            "password": password,
            "tls": True,
            "ca_certificate": ca_certificate,
        },
    }


def error_body(error: str, message: str) -> dict[str, str]:
    """An error.json body."""
    return {"error": error, "message": message}


@dataclass
class FakeServer:
    """A planned sequence of answers; afterwards ``default`` forever."""

    url: str
    default: Answer
    answers: deque[Answer] = field(default_factory=deque)
    requests: list[tuple[dict[str, str], Any]] = field(default_factory=list)
    bearer_token: str | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        try:
            document: Any = json.loads(body)
        except ValueError:
            document = body
        self.requests.append((dict(request.headers), document))
        if (
            self.bearer_token is not None
            and request.headers.get("Authorization") != f"Bearer {self.bearer_token}"
        ):
            return web.json_response(
                {"result": "error", "message": "Invalid token"}, status=401
            )
        answer = self.answers.popleft() if self.answers else self.default
        if answer.delay_s:
            await asyncio.sleep(answer.delay_s)
        payload = (
            answer.body
            if isinstance(answer.body, bytes)
            else json.dumps(answer.body).encode()
        )
        return web.Response(
            status=answer.status,
            body=payload,
            headers=answer.headers,
            content_type="application/json",
        )


async def _serve(
    path: str, default: Answer, ssl_context: ssl.SSLContext | None
) -> tuple[web.AppRunner, FakeServer]:
    app = web.Application()
    runner = web.AppRunner(app, access_log=None)
    server = FakeServer(url="", default=default)
    app.router.add_post(path, server.handle)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port = runner.addresses[0][1]
    server.url = f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}"
    return runner, server


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A throwaway CA with a server certificate for 127.0.0.1."""
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
async def fake_aggregator(pki: Pki) -> AsyncIterator[FakeServer]:
    """The enrollment API over HTTPS; answers 201 unless told otherwise."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.cert_file, pki.key_file)
    runner, server = await _serve(
        "/api/v1/enrollments", Answer(201, enrollment_body()), context
    )
    try:
        yield server
    finally:
        await runner.cleanup()


@pytest.fixture
async def fake_supervisor() -> AsyncIterator[FakeServer]:
    """The Supervisor's discovery endpoint, checking the bearer token."""
    runner, server = await _serve(
        "/discovery",
        Answer(
            200, {"result": "ok", "data": {"uuid": "0123456789abcdef0123456789abcdef"}}
        ),
        None,
    )
    server.bearer_token = SUPERVISOR_TOKEN
    try:
        yield server
    finally:
        await runner.cleanup()


@pytest.fixture
def ca_file(pki: Pki) -> Path:
    """The CA that signed the fake aggregator's certificate."""
    return pki.ca_file
