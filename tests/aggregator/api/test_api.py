"""The REST API: roles, every endpoint, and bad input that changes nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
import json
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
import pytest

from dacs.aggregator.api.app_keys import SERVICE
from dacs.aggregator.app import create_app
from dacs.aggregator.config import (
    AggregatorConfig,
    ApiConfig,
    ControlConfig,
    DatabaseConfig,
    EnrollmentConfig,
    MqttConfig,
)
from dacs.protocol import format_time
from dacs.testbed.servers import MosquittoBroker

OPERATOR = {"Authorization": "Bearer op-token"}
READER = {"Authorization": "Bearer read-token"}
SCRAPER = {"Authorization": "Bearer scrape-token"}


@pytest.fixture
async def client(
    mosquitto: MosquittoBroker, database_url: str
) -> AsyncIterator[TestClient[Any, Any]]:
    config = AggregatorConfig(
        database=DatabaseConfig(url=database_url),
        mqtt=MqttConfig(host="127.0.0.1", port=mosquitto.port),
        api=ApiConfig(
            operator_tokens=("op-token",),
            reader_tokens=("read-token",),
            metrics_tokens=("scrape-token",),
            max_body_bytes=4096,
        ),
        enrollment=EnrollmentConfig(broker_host="mqtt.example.nl", broker_tls=True),
        control=ControlConfig(cycle_s=3600),
    )
    async with TestClient(
        TestServer(create_app(config), host="127.0.0.1")
    ) as test_client:
        yield test_client


async def _point(client: TestClient[Any, Any]) -> None:
    response = await client.post(
        "/api/v1/congestion-points",
        headers=OPERATOR,
        json={
            "id": "tr-dalen-01",
            "name": "Dalen Noord",
            "rated_capacity_kw": 250,
            "grid_operator": "Enexis",
        },
    )
    assert response.status == 201, await response.text()


async def test_roles(client: TestClient[Any, Any]) -> None:
    assert (await client.get("/api/v1/congestion-points")).status == 401
    assert (
        await client.get(
            "/api/v1/congestion-points", headers={"Authorization": "Bearer nope"}
        )
    ).status == 401
    assert (await client.get("/api/v1/congestion-points", headers=READER)).status == 200
    denied = await client.post("/api/v1/congestion-points", headers=READER, json={})
    assert denied.status == 403
    assert (await denied.json())["error"] == "forbidden"
    # A token in the URL is refused, even a valid one (tests/aggregator/api/test_url_token.py).
    in_url = await client.get(
        "/api/v1/congestion-points", params={"token": "read-token"}
    )
    assert in_url.status == 401
    # Prometheus' token reads /metrics and nothing else; /metrics needs a token.
    assert (await client.get("/metrics")).status == 401
    assert (await client.get("/metrics", headers=SCRAPER)).status == 200
    assert (await client.get("/metrics", headers=READER)).status == 200
    scraper = await client.get("/api/v1/congestion-points", headers=SCRAPER)
    assert scraper.status == 403


async def test_registry_codes_and_enrollment(client: TestClient[Any, Any]) -> None:
    await _point(client)
    again = await client.post(
        "/api/v1/congestion-points",
        headers=OPERATOR,
        json={
            "id": "tr-dalen-01",
            "name": "x",
            "rated_capacity_kw": 1,
            "grid_operator": "y",
        },
    )
    assert again.status == 409
    codes = await (
        await client.post(
            "/api/v1/enrollment-codes",
            headers=OPERATOR,
            json={"congestion_point_id": "tr-dalen-01", "count": 2, "note": "street A"},
        )
    ).json()
    assert len(codes) == 2
    enrolled = await client.post("/api/v1/enrollments", json={"code": codes[0]["code"]})
    assert enrolled.status == 201
    home_id = (await enrolled.json())["home_id"]
    assert (
        await client.delete(
            f"/api/v1/enrollment-codes/{codes[1]['code']}", headers=OPERATOR
        )
    ).status == 200
    assert (
        await client.delete(
            f"/api/v1/enrollment-codes/{codes[0]['code']}", headers=OPERATOR
        )
    ).status == 409
    listed = await (
        await client.get("/api/v1/enrollment-codes", headers=OPERATOR)
    ).json()
    assert {c["home_id"] for c in listed} == {home_id, None}
    point = await (
        await client.get("/api/v1/congestion-points/tr-dalen-01", headers=READER)
    ).json()
    assert point["homes"] == 1
    homes = await (
        await client.get(
            "/api/v1/homes", headers=READER, params={"congestion_point": "tr-dalen-01"}
        )
    ).json()
    assert homes[0]["id"] == home_id
    assert homes[0]["availability"] == "offline"
    assert (await client.get(f"/api/v1/homes/{home_id}", headers=READER)).status == 200


async def test_events(client: TestClient[Any, Any]) -> None:
    await _point(client)
    service = client.server.app[SERVICE]
    now = service.clock.now()
    manual = await client.post(
        "/api/v1/congestion-points/tr-dalen-01/events",
        headers=OPERATOR,
        json={
            "id": "ev-1",
            "kind": "manual",
            "intervals": [
                {
                    "start": format_time(now),
                    "end": format_time(now + timedelta(hours=1)),
                    "cap_kw": 180,
                }
            ],
        },
    )
    assert manual.status == 201, await manual.text()
    dynamic = await client.post(
        "/api/v1/congestion-points/tr-dalen-01/events",
        headers=OPERATOR,
        json={
            "kind": "dynamic",
            "start": format_time(now),
            "caps_kw": [200, 190, 180, 170],
        },
    )
    assert dynamic.status == 201
    assert (await dynamic.json())["intervals"][3]["cap_kw"] == 170
    stop = await client.post(
        "/api/v1/congestion-points/tr-dalen-01/events",
        headers=OPERATOR,
        json={"kind": "emergency", "start": format_time(now), "duration_minutes": 30},
    )
    assert stop.status == 201
    duplicate = await client.post(
        "/api/v1/congestion-points/tr-dalen-01/events",
        headers=OPERATOR,
        json={
            "id": "ev-1",
            "kind": "emergency",
            "start": format_time(now),
            "duration_minutes": 5,
        },
    )
    assert duplicate.status == 409
    point = await (
        await client.get("/api/v1/congestion-points/tr-dalen-01", headers=READER)
    ).json()
    assert len(point["events"]) == 3
    assert (
        await client.delete(
            "/api/v1/congestion-points/tr-dalen-01/events/ev-1", headers=OPERATOR
        )
    ).status == 200
    assert (
        await client.delete(
            "/api/v1/congestion-points/tr-dalen-01/events/ev-1", headers=OPERATOR
        )
    ).status == 404
    measurement = await client.post(
        "/api/v1/congestion-points/tr-dalen-01/measurements",
        headers=OPERATOR,
        json={"ts": format_time(now), "load_kw": 231.5},
    )
    assert measurement.status == 202
    assert service.controls["tr-dalen-01"].measurement == (
        now.replace(microsecond=now.microsecond // 1000 * 1000),
        231500.0,
    )


def _point_rated(rated_capacity_kw: object) -> dict[str, object]:
    """A congestion point body with this rating."""
    return {
        "id": "tr-2",
        "name": "x",
        "rated_capacity_kw": rated_capacity_kw,
        "grid_operator": "y",
    }


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "error"),
    [
        ("post", "/api/v1/congestion-points", b"{not json", 400, "malformed"),
        ("post", "/api/v1/congestion-points", b"[1]", 400, "malformed"),
        (
            "post",
            "/api/v1/congestion-points",
            {"id": "a/b", "name": "x", "rated_capacity_kw": 1, "grid_operator": "y"},
            400,
            "malformed",
        ),
        ("post", "/api/v1/congestion-points", _point_rated("big"), 400, "malformed"),
        ("post", "/api/v1/congestion-points", _point_rated(-5), 400, "malformed"),
        (
            "post",
            "/api/v1/congestion-points/tr-dalen-01/events",
            {"kind": "party"},
            400,
            "malformed",
        ),
        (
            "post",
            "/api/v1/congestion-points/tr-dalen-01/events",
            {"kind": "dynamic", "start": "yesterday", "caps_kw": [1]},
            400,
            "malformed",
        ),
        (
            "post",
            "/api/v1/congestion-points/tr-dalen-01/events",
            {"kind": "dynamic", "start": "2025-02-03T17:00:00", "caps_kw": [1]},
            400,
            "malformed",
        ),
        (
            "post",
            "/api/v1/congestion-points/tr-dalen-01/events",
            {"kind": "dynamic", "start": "2025-02-03T17:00:00Z", "caps_kw": [-1]},
            400,
            "malformed",
        ),
        (
            "post",
            "/api/v1/congestion-points/tr-dalen-01/events",
            {
                "kind": "manual",
                "intervals": [
                    {
                        "start": "2025-02-03T18:00:00Z",
                        "end": "2025-02-03T17:00:00Z",
                        "cap_kw": 1,
                    }
                ],
            },
            400,
            "malformed",
        ),
        (
            "post",
            "/api/v1/congestion-points/tr-dalen-01/events",
            {
                "kind": "emergency",
                "start": "2025-02-03T17:00:00Z",
                "duration_minutes": 99999,
            },
            400,
            "malformed",
        ),
        (
            "post",
            "/api/v1/congestion-points/nowhere/events",
            {
                "kind": "emergency",
                "start": "2025-02-03T17:00:00Z",
                "duration_minutes": 5,
            },
            404,
            "not_found",
        ),
        (
            "post",
            "/api/v1/congestion-points/tr-dalen-01/measurements",
            {"ts": "2025-02-03T17:00:00Z", "load_kw": None},
            400,
            "malformed",
        ),
        (
            "post",
            "/api/v1/congestion-points/nowhere/measurements",
            {"ts": "2025-02-03T17:00:00Z", "load_kw": 1},
            404,
            "not_found",
        ),
        ("get", "/api/v1/congestion-points/nowhere", None, 404, "not_found"),
        ("get", "/api/v1/homes/h-nobody", None, 404, "not_found"),
        (
            "post",
            "/api/v1/enrollment-codes",
            {"congestion_point_id": "nowhere"},
            404,
            "not_found",
        ),
        (
            "post",
            "/api/v1/enrollment-codes",
            {"congestion_point_id": "tr-dalen-01", "count": 5000},
            400,
            "malformed",
        ),
        (
            "post",
            "/api/v1/enrollment-codes",
            {"congestion_point_id": "tr-dalen-01", "valid_days": 7e16},
            400,
            "malformed",
        ),
        ("post", "/api/v1/congestion-points", _point_rated(1.8e308), 400, "malformed"),
        # A lone surrogate as a JSON escape, as raw bytes; a control character.
        (
            "post",
            "/api/v1/congestion-points",
            _point_rated(100) | {"name": "x\ud800"},
            400,
            "malformed",
        ),
        (
            "post",
            "/api/v1/congestion-points",
            json.dumps(_point_rated(100) | {"name": "NAME"})
            .encode()
            .replace(b"NAME", b"x\xed\xa0\x80"),
            400,
            "malformed",
        ),
        (
            "post",
            "/api/v1/congestion-points",
            _point_rated(100) | {"grid_operator": "y\x1b[2J"},
            400,
            "malformed",
        ),
        (
            "post",
            "/api/v1/congestion-points/tr-dalen-01/events",
            b'{"kind": "dynamic", "start": "2025-02-03T17:00:00Z", "caps_kw": [Infinity]}',
            400,
            "malformed",
        ),
        (
            "post",
            "/api/v1/congestion-points/tr-dalen-01/measurements",
            b'{"ts": "2025-02-03T17:00:00Z", "load_kw": Infinity}',
            400,
            "malformed",
        ),
        (
            "post",
            "/api/v1/congestion-points/tr-dalen-01/measurements",
            b'{"ts": "2025-02-03T17:00:00Z", "load_kw": 1' + b"0" * 400 + b"}",
            400,
            "malformed",
        ),
        (
            "post",
            "/api/v1/congestion-points/tr-dalen-01/measurements",
            {"ts": "2025-02-03T17:00:00Z", "load_kw": 1e300},
            400,
            "malformed",
        ),
        ("delete", "/api/v1/enrollment-codes/ABCD-EFGH-JKMN", None, 404, "not_found"),
        ("delete", "/api/v1/enrollment-codes/nonsense", None, 400, "malformed"),
        ("post", "/api/v1/congestion-points", b"x" * 10_000, 413, "too_large"),
    ],
)
async def test_bad_input_is_refused_and_changes_nothing(  # noqa: PLR0917 - parametrised
    client: TestClient[Any, Any],
    method: str,
    path: str,
    body: Any,
    status: int,
    error: str,
) -> None:
    await _point(client)
    before = await (
        await client.get("/api/v1/congestion-points", headers=READER)
    ).json()
    kwargs: dict[str, Any] = {"headers": OPERATOR}
    if isinstance(body, bytes):
        kwargs["data"] = body
    elif body is not None:
        kwargs["json"] = body
    response = await getattr(client, method)(path, **kwargs)
    assert response.status == status, await response.text()
    assert (await response.json())["error"] == error
    after = await (await client.get("/api/v1/congestion-points", headers=READER)).json()
    assert after == before


async def test_health_metrics_openapi(client: TestClient[Any, Any]) -> None:
    service = client.server.app[SERVICE]
    assert await service.link.wait_connected(10)
    health = await client.get("/health")
    assert health.status == 200
    assert (await client.get("/healthz")).status == 200
    assert (await client.get("/readyz")).status == 200  # not clustered
    metrics = await (await client.get("/metrics", headers=SCRAPER)).text()
    assert "dacs_broker_connected 1" in metrics
    assert "# TYPE dacs_commands_sent_total counter" in metrics
    assert "# TYPE dacs_control_cycle_failures_total counter" in metrics
    # The text format groups a family's samples right after its TYPE line.
    family = None
    for line in metrics.splitlines():
        if line.startswith("# TYPE "):
            family = line.split()[2]
        elif line and not line.startswith("#"):
            assert line.split("{")[0].split()[0] == family, line
    document = await (await client.get("/api/v1/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    routes = {
        r.resource.canonical
        for r in client.server.app.router.routes()
        if r.resource is not None
        # The dashboard's pages are not part of the API.
        and r.resource.canonical not in {"/", "/dashboard", "/dashboard/"}
    }
    documented = set(document["paths"])
    assert routes - {"/api/v1/openapi.json"} == documented


async def test_alerts_endpoint_and_webhook(
    mosquitto: MosquittoBroker, tmp_path: Any
) -> None:
    received: list[Any] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.json_response({})

    receiver = web.Application()
    receiver.router.add_post("/hook", hook)
    async with TestServer(receiver, host="127.0.0.1") as hook_server:
        config = AggregatorConfig(
            database=DatabaseConfig(url=f"sqlite:///{tmp_path / 'a.db'}"),
            mqtt=MqttConfig(host="127.0.0.1", port=mosquitto.port),
            api=ApiConfig(operator_tokens=("op-token",), reader_tokens=("read-token",)),
            control=ControlConfig(
                cycle_s=3600, alert_webhook=str(hook_server.make_url("/hook"))
            ),
        )
        async with TestClient(
            TestServer(create_app(config), host="127.0.0.1")
        ) as client:
            await _point(client)
            service = client.server.app[SERVICE]
            now = service.clock.now()
            await client.post(
                "/api/v1/congestion-points/tr-dalen-01/measurements",
                headers=OPERATOR,
                json={"ts": format_time(now), "load_kw": 300},
            )
            await client.post(
                "/api/v1/congestion-points/tr-dalen-01/events",
                headers=OPERATOR,
                json={
                    "kind": "emergency",
                    "start": format_time(now),
                    "duration_minutes": 30,
                },
            )
            await service.cycle()
            alerts = await (await client.get("/api/v1/alerts", headers=READER)).json()
            assert [a["kind"] for a in alerts] == ["shortfall"]
            for _ in range(50):
                if received:
                    break
                await asyncio.sleep(0.05)
            assert received[0]["alerts"][0]["kind"] == "shortfall"
            # The event is cancelled: the shortfall clears and shows in the history.
            await client.delete(
                "/api/v1/congestion-points/tr-dalen-01/events/"
                + service.controls["tr-dalen-01"].envelopes[0].envelope_id,
                headers=OPERATOR,
            )
            await client.post(
                "/api/v1/congestion-points/tr-dalen-01/measurements",
                headers=OPERATOR,
                json={"ts": format_time(service.clock.now()), "load_kw": 100},
            )
            await service.cycle()
            assert (
                await (await client.get("/api/v1/alerts", headers=READER)).json() == []
            )
            history = await (
                await client.get("/api/v1/alerts", headers=READER, params={"all": "1"})
            ).json()
            assert history[0]["kind"] == "shortfall"
            assert history[0]["cleared_at"] is not None


async def test_an_operator_lifts_a_quarantined_point(
    client: TestClient[Any, Any],
) -> None:
    await _point(client)
    service = client.server.app[SERVICE]
    lift = "/api/v1/congestion-points/tr-dalen-01/quarantine/lift"
    point = "/api/v1/congestion-points/tr-dalen-01"
    assert (await (await client.get(point, headers=READER)).json())[
        "quarantine"
    ] is None
    service.quarantine.enter(
        "tr-dalen-01",
        OverflowError("cannot convert float infinity"),
        service.clock.now(),
    )
    shown = (await (await client.get(point, headers=READER)).json())["quarantine"]
    assert shown["reason"] == "OverflowError: cannot convert float infinity"
    await service.cycle()  # the alert is raised with the next cycle
    alerts = await (await client.get("/api/v1/alerts", headers=READER)).json()
    assert [a["kind"] for a in alerts] == ["point_quarantined"]
    assert (await client.post(lift, headers=READER)).status == 403
    response = await client.post(lift, headers=OPERATOR)
    assert response.status == 200
    assert await response.json() == {"lifted": "tr-dalen-01"}
    again = await client.post(lift, headers=OPERATOR)
    assert (again.status, (await again.json())["error"]) == (409, "conflict")
    unknown = "/api/v1/congestion-points/nowhere/quarantine/lift"
    assert (await client.post(unknown, headers=OPERATOR)).status == 404
    await service.cycle()
    assert await (await client.get("/api/v1/alerts", headers=READER)).json() == []
    metrics = await (await client.get("/metrics", headers=SCRAPER)).text()
    assert "dacs_congestion_point_quarantines_lifted_total 1" in metrics
    assert "dacs_homes_quarantined 0" in metrics
