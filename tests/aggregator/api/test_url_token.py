"""Tokens never in a URL but the dashboard's page; the page's read-only session cookie."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from http.cookies import SimpleCookie
import logging
import re
from typing import Any

from aiohttp import ClientSession, DummyCookieJar, web
from aiohttp.test_utils import TestClient, TestServer
import pytest
from yarl import URL

from dacs.aggregator.api import session_cookie
from dacs.aggregator.api.access_log import RedactingAccessLogger
from dacs.aggregator.api.auth import AUTH
from dacs.aggregator.app import create_app
from dacs.aggregator.config import (
    AggregatorConfig,
    ApiConfig,
    ControlConfig,
    DatabaseConfig,
    MqttConfig,
)
from dacs.testbed.servers import MosquittoBroker

OPERATOR_TOKEN = "op-token"
READER_TOKEN = "read-token"
SCRAPER_TOKEN = "scrape-token"
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
PAGES = ("/", "/dashboard", "/dashboard/")
POINT = {
    "id": "tr-1",
    "name": "Street",
    "rated_capacity_kw": 250,
    "grid_operator": "Enexis",
}


def _config(tmp_path: Any, broker: MosquittoBroker, **tokens: Any) -> AggregatorConfig:
    api = {
        "operator_tokens": (OPERATOR_TOKEN,),
        "reader_tokens": (READER_TOKEN,),
        "metrics_tokens": (SCRAPER_TOKEN,),
    } | tokens
    return AggregatorConfig(
        database=DatabaseConfig(url=f"sqlite:///{tmp_path / 'agg.db'}"),
        mqtt=MqttConfig(host="127.0.0.1", port=broker.port),
        api=ApiConfig(**api),
        control=ControlConfig(cycle_s=3600),
    )


@pytest.fixture
async def client(
    tmp_path: Any, mosquitto: MosquittoBroker
) -> AsyncIterator[TestClient[Any, Any]]:
    # No cookie jar: each test says which cookie a request carries.
    async with TestClient(
        TestServer(create_app(_config(tmp_path, mosquitto)), host="127.0.0.1"),
        cookie_jar=DummyCookieJar(),
    ) as test_client:
        assert (
            await test_client.post(
                "/api/v1/congestion-points", headers=OPERATOR, json=POINT
            )
        ).status == 201
        yield test_client


def _concrete(path: str) -> str:
    """A registered route's path with each ``{parameter}`` filled in."""
    return re.sub(r"\{[^}]+\}", "x", path)


async def test_every_endpoint_refuses_a_token_in_the_url(
    client: TestClient[Any, Any],
) -> None:
    asked = 0
    for route in client.server.app.router.routes():
        resource = route.resource
        if resource is None or resource.canonical in PAGES or route.method == "HEAD":
            continue
        path = _concrete(resource.canonical)
        if path == "/dashboard":  # the static files' resource
            path = "/dashboard/dashboard.js"
        for token in (OPERATOR_TOKEN, "not-a-token"):
            response = await client.request(
                route.method, path, params={"token": token}, headers=OPERATOR
            )
            assert response.status == 401, (route.method, path)
            body = await response.json()
            assert body["error"] == "unauthorized"
            assert "?token=" in body["message"]
            assert "Authorization: Bearer" in body["message"]
            asked += 1
    assert asked >= 40  # every route of the API, the dashboard's files included
    # The same requests without the query are not refused for it.
    assert (
        await client.get("/api/v1/congestion-points", headers=OPERATOR)
    ).status == 200
    assert (await client.get("/health")).status in {200, 503}
    assert (await client.get("/dashboard/dashboard.js")).status == 200


def _session_cookie(response: Any) -> Any:
    cookies = SimpleCookie()
    for header in response.headers.getall("Set-Cookie", []):
        cookies.load(header)
    return cookies.get(session_cookie.COOKIE)


@pytest.mark.parametrize("page", PAGES)
async def test_the_page_signs_in_once_and_drops_the_token(
    client: TestClient[Any, Any], page: str
) -> None:
    response = await client.get(
        page, params={"token": READER_TOKEN}, allow_redirects=False
    )
    assert response.status == 303
    location = response.headers["Location"]
    assert "token" not in location
    resolved = response.url.join(URL(location))
    assert resolved.path == "/dashboard/"
    assert resolved.query_string == ""
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    cookie = _session_cookie(response)
    assert cookie is not None
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == "/api/v1/"
    assert cookie["max-age"] == "43200"
    assert not cookie["secure"]  # plain HTTP here; behind TLS it is Secure
    assert READER_TOKEN not in cookie.value
    # The page itself, reached without the token, is served as always.
    assert (await client.get(resolved.path)).status == 200


@pytest.mark.parametrize("token", ["not-a-token", SCRAPER_TOKEN, ""])
async def test_a_refused_link_token_still_leaves_the_address_bar(
    client: TestClient[Any, Any], token: str
) -> None:
    response = await client.get("/", params={"token": token}, allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "dashboard/#signin=refused"
    assert _session_cookie(response) is None


async def _signed_in(client: TestClient[Any, Any], token: str) -> dict[str, str]:
    response = await client.get(
        "/dashboard/", params={"token": token}, allow_redirects=False
    )
    cookie = _session_cookie(response)
    assert cookie is not None
    return {"Cookie": f"{session_cookie.COOKIE}={cookie.value}"}


async def test_the_session_reads_and_never_writes(
    client: TestClient[Any, Any],
) -> None:
    # Made with an operator's token, and still only a reader.
    cookie = await _signed_in(client, OPERATOR_TOKEN)
    points = await client.get("/api/v1/congestion-points", headers=cookie)
    assert points.status == 200
    assert [p["id"] for p in await points.json()] == ["tr-1"]
    async with client.get("/api/v1/stream", headers=cookie) as stream:
        assert stream.status == 200
        assert stream.headers["Content-Type"].startswith("text/event-stream")
    history = await client.get("/api/v1/congestion-points/tr-1/history", headers=cookie)
    assert history.status == 200
    for method, path, body in (
        ("POST", "/api/v1/congestion-points", POINT | {"id": "tr-2"}),
        ("POST", "/api/v1/enrollment-codes", {"congestion_point_id": "tr-1"}),
        ("DELETE", "/api/v1/congestion-points/tr-1/events/e-1", None),
    ):
        refused = await client.request(method, path, headers=cookie, json=body)
        assert refused.status == 401, (method, path)
        assert "only reads" in (await refused.json())["message"]
    assert (await client.get("/api/v1/enrollment-codes", headers=cookie)).status == 403
    after = await (
        await client.get("/api/v1/congestion-points", headers=OPERATOR)
    ).json()
    assert [p["id"] for p in after] == ["tr-1"]


async def test_a_forged_expired_or_withdrawn_session_is_refused(
    client: TestClient[Any, Any], tmp_path: Any, mosquitto: MosquittoBroker
) -> None:
    cookie = await _signed_in(client, READER_TOKEN)
    value = cookie["Cookie"].split("=", 1)[1]
    stamp, mac = value.split(".")
    auth = client.server.app[AUTH]
    now = auth.now()
    forged = [
        f"{stamp}.{mac[:-2]}AA",  # another signature
        f"{int(stamp) + 60}.{mac}",  # a later expiry with the old signature
        # Signed with the token, but for longer than a session lasts.
        session_cookie.issue(READER_TOKEN, now + timedelta(days=1))[0],
        f"{stamp}",
        "",
        "x" * 5000,
    ]
    for bad in forged:
        answer = await client.get(
            "/api/v1/congestion-points",
            headers={"Cookie": f"{session_cookie.COOKIE}={bad}"},
        )
        assert answer.status == 401, bad
    assert (await client.get("/api/v1/congestion-points", headers=cookie)).status == 200
    # Twelve hours on, it has ended.
    auth.now = lambda: now + timedelta(hours=12, seconds=1)
    assert (await client.get("/api/v1/congestion-points", headers=cookie)).status == 401
    auth.now = lambda: now
    # A token taken out of the configuration ends the sessions made with it.
    config = _config(tmp_path, mosquitto, reader_tokens=("another-reader",))
    async with TestClient(
        TestServer(create_app(config), host="127.0.0.1"), cookie_jar=DummyCookieJar()
    ) as other:
        withdrawn = await other.get("/api/v1/congestion-points", headers=cookie)
        assert withdrawn.status == 401


async def test_the_form_signs_in_and_out_through_the_session_endpoint(
    client: TestClient[Any, Any],
) -> None:
    status = await client.get("/api/v1/session")
    assert status.status == 200  # not a 401: the page asks before it signs in
    assert await status.json() == {"signed_in": False, "expires": None}
    for token in ("not-a-token", SCRAPER_TOKEN):
        refused = await client.post("/api/v1/session", json={"token": token})
        assert refused.status == 401
        assert "reader or operator token" in (await refused.json())["message"]
        assert _session_cookie(refused) is None
    # A form of another site cannot post JSON without a preflight; plain text is refused.
    text = await client.post(
        "/api/v1/session",
        data=f'{{"token": "{READER_TOKEN}"}}',
        headers={"Content-Type": "text/plain"},
    )
    assert text.status == 415
    assert (await client.post("/api/v1/session", json={})).status == 400
    signed = await client.post("/api/v1/session", json={"token": READER_TOKEN})
    assert signed.status == 200
    cookie = _session_cookie(signed)
    assert cookie is not None
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    header = {"Cookie": f"{session_cookie.COOKIE}={cookie.value}"}
    status = await client.get("/api/v1/session", headers=header)
    body = await status.json()
    assert body["signed_in"] is True
    assert body["expires"] == (await signed.json())["expires"]
    out = await client.delete("/api/v1/session", headers=header)
    assert out.status == 200
    cleared = _session_cookie(out)
    assert cleared is not None
    assert cleared.value == ""
    assert cleared["path"] == "/api/v1/"
    assert cleared["max-age"] == "0"


async def test_the_cookie_follows_tls_and_a_proxys_prefix(
    client: TestClient[Any, Any],
) -> None:
    behind = await client.get(
        "/dashboard/",
        params={"token": READER_TOKEN},
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-Prefix": "/dacs/"},
        allow_redirects=False,
    )
    cookie = _session_cookie(behind)
    assert cookie is not None
    assert cookie["secure"] is True
    assert cookie["path"] == "/dacs/api/v1/"
    odd = await client.get(
        "/dashboard/",
        params={"token": READER_TOKEN},
        headers={"X-Forwarded-Prefix": "/x; Domain=evil.example"},
        allow_redirects=False,
    )
    cookie = _session_cookie(odd)
    assert cookie is not None
    assert cookie["path"] == "/api/v1/"
    assert not cookie["domain"]


async def test_the_access_log_never_shows_a_token_from_the_url(
    tmp_path: Any, mosquitto: MosquittoBroker, caplog: pytest.LogCaptureFixture
) -> None:
    # As `dacs aggregator serve` runs it (web.run_app with this logger class).
    runner = web.AppRunner(
        create_app(_config(tmp_path, mosquitto)),
        access_log_class=RedactingAccessLogger,
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        async with ClientSession(cookie_jar=DummyCookieJar()) as http:
            with caplog.at_level(logging.INFO, logger="aiohttp.access"):
                for path in ("/", "/api/v1/homes"):
                    async with http.get(
                        base + path,
                        params={"token": READER_TOKEN, "point": "tr-1"},
                        allow_redirects=False,
                    ):
                        pass
                async with http.get(
                    base + "/api/v1/congestion-points", headers=OPERATOR
                ):
                    pass
    finally:
        await runner.cleanup()
    lines = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert len(lines) == 3, lines
    assert not any(READER_TOKEN in line for line in lines), lines
    assert '"GET /?token=REDACTED&point=tr-1 HTTP/1.1" 303' in lines[0]
    assert '"GET /api/v1/homes?token=REDACTED&point=tr-1 HTTP/1.1" 401' in lines[1]
    assert '"GET /api/v1/congestion-points HTTP/1.1" 200' in lines[2]


async def _raw_status(client: TestClient[Any, Any], headers: bytes) -> int:
    """The status of a GET sent byte for byte (headers a client library would refuse)."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    try:
        writer.write(
            b"GET /api/v1/congestion-points HTTP/1.1\r\nHost: x\r\n"
            + headers
            + b"Connection: close\r\n\r\n"
        )
        await writer.drain()
        return int((await reader.readline()).split()[1])
    finally:
        writer.close()
        await writer.wait_closed()


async def test_bytes_that_are_not_text_in_a_token_or_cookie_are_a_plain_401(
    client: TestClient[Any, Any],
) -> None:
    assert await _raw_status(client, b"Authorization: Bearer \xff\xfe\r\n") == 401
    for value in (b"1.\xc3\xa9\xff", "\u0661\u0662.abc".encode(), b"9" * 13 + b".a"):
        cookie = b"Cookie: " + session_cookie.COOKIE.encode() + b"=" + value + b"\r\n"
        assert await _raw_status(client, cookie) == 401, value
    reader = f"Authorization: Bearer {READER_TOKEN}\r\n".encode()
    assert await _raw_status(client, reader) == 200
