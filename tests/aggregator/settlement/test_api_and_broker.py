"""Settlement through the REST API and, end to end, through a real broker to the home."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
import aiomqtt
import pytest

from dacs.aggregator.api.app_keys import SERVICE
from dacs.aggregator.app import create_app
from dacs.aggregator.config import (
    AggregatorConfig,
    ApiConfig,
    ControlConfig,
    DatabaseConfig,
    MqttConfig,
)
from dacs.aggregator.domain.envelope import (
    CapacityEnvelope,
    CapacityInterval,
    EnvelopeKind,
)
from dacs.aggregator.openadr.plans import DispatchInterval
from dacs.aggregator.openadr.reports import delivered_flex
from dacs.aggregator.registry.provisioning import OpenBrokerProvisioner
from dacs.aggregator.service import AggregatorService
from dacs.aggregator.settlement.config import SettlementConfig
from dacs.aggregator.settlement.flex_source import TelemetryFlexSource
from dacs.aggregator.settlement.statements import StatementIssuer
from dacs.aggregator.uftp.flex_settlement import delivered_w
from dacs.protocol import Channel, Statement, decode, format_time, topic
from dacs.testbed.servers import MosquittoBroker

from .street import EVENT_END, EVENT_START, FixedClock, seed_street
from .test_storage import AFTER

OPERATOR = {"Authorization": "Bearer op"}
READER = {"Authorization": "Bearer read"}
SETTLEMENT = SettlementConfig(history_days=4, min_history_days=3)


def _config(broker: MosquittoBroker, url: str) -> AggregatorConfig:
    return AggregatorConfig(
        database=DatabaseConfig(url=url, telemetry_flush_s=0.2),
        mqtt=MqttConfig(host="127.0.0.1", port=broker.port, client_id="aggregator"),
        api=ApiConfig(operator_tokens=("op",), reader_tokens=("read",)),
        control=ControlConfig(cycle_s=3600),
        settlement=SETTLEMENT,
    )


@pytest.fixture
async def client(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> AsyncIterator[TestClient[Any, Any]]:
    app: web.Application = create_app(
        _config(mosquitto, f"sqlite:///{tmp_path / 'agg.db'}"),
        clock=FixedClock(AFTER),
        provisioner=OpenBrokerProvisioner(),
    )
    async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
        service = app[SERVICE]
        await seed_street(service.sessions, homes={"h-api-1": 0.3, "h-api-2": None})
        assert await service.link.wait_connected(10)
        yield test_client


async def test_deliveries_endpoint(client: TestClient[Any, Any]) -> None:
    query = {
        "congestion_point": "tr-1",
        "start": EVENT_START.isoformat(),
        "end": EVENT_END.isoformat(),
    }
    response = await client.get(
        "/api/v1/settlement/deliveries", params=query, headers=READER
    )
    assert response.status == 200, await response.text()
    body = await response.json()
    assert len(body["intervals"]) == 8
    assert [h["home_id"] for h in body["homes"]] == ["h-api-1", "h-api-2"]
    assert body["homes"][0]["events"] == ["ev-1"]
    assert sum(i["delivered_kw"] for i in body["intervals"]) > 0
    as_csv = await client.get(
        "/api/v1/settlement/deliveries",
        params=query | {"format": "csv"},
        headers=READER,
    )
    assert as_csv.content_type == "text/csv"
    lines = (await as_csv.text()).splitlines()
    assert lines[0].startswith("home_id,start,end,baseline_kw")
    assert len(lines) == 1 + 16


async def test_compliance_sets_the_homes_delivery_beside_the_transformer(
    client: TestClient[Any, Any],
) -> None:
    """The compliance answer, DELIVERED_FLEX and the UFTP check read one set of figures."""
    service = client.app[SERVICE]
    await service.reload()  # the street was written straight into the database
    window = {"start": EVENT_START.isoformat(), "end": EVENT_END.isoformat()}
    minute = EVENT_START
    while minute < EVENT_END:
        answer = await client.post(
            "/api/v1/congestion-points/tr-1/measurements",
            headers=OPERATOR,
            json={"ts": format_time(minute), "load_kw": 3.0},
        )
        assert answer.status == 202, await answer.text()
        minute += timedelta(minutes=1)
    compliance = await client.get(
        "/api/v1/congestion-points/tr-1/compliance", params=window, headers=READER
    )
    assert compliance.status == 200, await compliance.text()
    isps = (await compliance.json())["isps"]
    assert len(isps) == 8
    assert all(isp["minutes"] == 15 and isp["mean_kw"] == 3.0 for isp in isps)
    settled = await client.get(
        "/api/v1/settlement/deliveries",
        params=window | {"congestion_point": "tr-1"},
        headers=READER,
    )
    intervals = (await settled.json())["intervals"]
    assert [isp["delivered_kw"] for isp in isps] == [
        pytest.approx(i["delivered_kw"], abs=1e-3) for i in intervals
    ]
    assert [isp["homes_reporting"] for isp in isps] == [2] * 8
    assert sum(isp["delivered_kw"] for isp in isps) > 0

    # The grid adapters read the same source: the VEN's DELIVERED_FLEX values
    # and the AGR's measured flex per ISP are these figures again.
    flex = TelemetryFlexSource(service.sessions, clock=service.clock, config=SETTLEMENT)
    deliveries = await flex("tr-1", EVENT_START, EVENT_END)
    report = delivered_flex(
        event_id="ev-1",
        client_name="8712423000000",
        intervals=[
            DispatchInterval(
                interval_id=0,
                start=EVENT_START,
                duration=EVENT_END - EVENT_START,
                flex_kw=1.0,
            )
        ],
        deliveries=deliveries,
    )
    assert report is not None
    reported = report.resources[0].intervals[0].payloads[0].values
    assert list(reported) == [
        pytest.approx(isp["delivered_kw"], abs=0.006) for isp in isps
    ]
    windows = {}
    for number, isp in enumerate(isps):
        start = datetime.fromisoformat(isp["start"])
        windows[number] = (start, start + timedelta(minutes=15))
    measured = delivered_w(deliveries, windows)
    assert [measured[n] for n in range(len(isps))] == [
        pytest.approx(isp["delivered_kw"] * 1000, abs=1.0) for isp in isps
    ]


async def test_statements_endpoints_and_roles(client: TestClient[Any, Any]) -> None:
    denied = await client.post("/api/v1/settlement/statements/2025-01", headers=READER)
    assert denied.status == 403
    assert (
        await client.get("/api/v1/settlement/statements?period=2025-01")
    ).status == 401
    issued = await client.post(
        "/api/v1/settlement/statements/2025-01", headers=OPERATOR
    )
    assert issued.status == 201, await issued.text()
    summary = await issued.json()
    assert summary["statements"] == 2
    assert summary["published"] == 2
    listed = await client.get(
        "/api/v1/settlement/statements?period=2025-01", headers=READER
    )
    rows = await listed.json()
    assert [r["home_id"] for r in rows] == ["h-api-1", "h-api-2"]
    assert rows[0]["price_eur_per_kwh"] == 0.3
    assert rows[1]["price_eur_per_kwh"] == SETTLEMENT.tariff_eur_per_kwh
    assert rows[0]["final"] is False
    exported = await client.get(
        "/api/v1/settlement/statements",
        params={"period": "2025-01", "format": "csv"},
        headers=READER,
    )
    text = await exported.text()
    assert text.splitlines()[0].startswith("period,home_id,congestion_point_id")
    assert "h-api-2" in text


# Refusals write nothing, so they share one app: each setup (a broker, a
# database, the street) costs about 10 s on a loaded machine.
BAD_INPUT = (
    ("get", "/api/v1/settlement/statements?period=2025-13", 400, "YYYY-MM"),
    ("get", "/api/v1/settlement/statements", 400, "YYYY-MM"),
    (
        "get",
        "/api/v1/settlement/statements?period=2025-01&format=xml",
        400,
        "format",
    ),
    ("post", "/api/v1/settlement/statements/2025-1", 400, "YYYY-MM"),
    ("post", "/api/v1/settlement/statements/%7B2025-01%7D", 400, "YYYY-MM"),
    ("post", "/api/v1/settlement/statements/2030-01", 400, "not started"),
    (
        "get",
        "/api/v1/settlement/deliveries?congestion_point=tr-1&start=2025-01-20T18:00:00Z&end=2025-01-20T16:00:00Z",
        400,
        "before end",
    ),
    (
        "get",
        "/api/v1/settlement/deliveries?congestion_point=tr-1&start=2025-01-20T16:00:00&end=2025-01-20T18:00:00Z",
        400,
        "time zone",
    ),
    (
        "get",
        "/api/v1/settlement/deliveries?congestion_point=tr-1&start=yesterday&end=2025-01-20T18:00:00Z",
        400,
        "RFC 3339",
    ),
    (
        "get",
        "/api/v1/settlement/deliveries?start=2025-01-20T16:00:00Z&end=2025-01-20T18:00:00Z",
        400,
        "congestion_point",
    ),
    (
        "get",
        "/api/v1/settlement/deliveries?congestion_point=tr-x&start=2025-01-20T16:00:00Z&end=2025-01-20T18:00:00Z",
        404,
        "tr-x",
    ),
)


async def test_bad_input_is_a_clear_error(client: TestClient[Any, Any]) -> None:
    for method, path, status, words in BAD_INPUT:
        response = await getattr(client, method)(path, headers=OPERATOR)
        assert response.status == status, (path, await response.text())
        body = await response.json()
        assert words in body["message"], (path, body)
        # Nothing was stored by a refused request.
        listed = await client.get(
            "/api/v1/settlement/statements?period=2025-01", headers=READER
        )
        assert await listed.json() == [], path


async def test_statement_reaches_the_home_through_the_broker(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    clock = FixedClock(AFTER)
    service = AggregatorService(
        _config(mosquitto, f"sqlite:///{tmp_path / 'agg.db'}"),
        clock=clock,
        provisioner=OpenBrokerProvisioner(),
    )
    await service.start()
    try:
        assert await service.link.wait_connected(10)
        await service.registry.add_congestion_point(
            point_id="tr-1", name="Street", rated_capacity_kw=100, grid_operator="DSO"
        )
        [code] = await service.registry.create_codes("tr-1", count=1)
        home_id = (await service.registry.enroll(code.code)).home_id
        await service.reload()
        await seed_street(service.sessions, homes={home_id: 0.4}, register=False)
        await service.put_in_force(
            "tr-1",
            CapacityEnvelope(
                envelope_id="ev-e2e",
                kind=EnvelopeKind.MANUAL,
                intervals=(
                    CapacityInterval(start=EVENT_START, end=EVENT_END, cap_w=1000.0),
                ),
                origin="test",
            ),
        )
        issuer = StatementIssuer(
            service.sessions,
            TelemetryFlexSource(service.sessions, clock=clock, config=SETTLEMENT),
            clock=clock,
            publisher=service.link,
        )
        [issued] = await issuer.issue("2025-01")
        assert issued.published
        assert issued.settlement.delivered_kwh > 0
        # A home subscribing afterwards still gets it: the statement is retained.
        async with aiomqtt.Client(
            "127.0.0.1", mosquitto.port, identifier="home-e2e"
        ) as home:
            await home.subscribe(topic(home_id, Channel.STATEMENT), qos=1)
            async with asyncio.timeout(10):
                message = await anext(aiter(home.messages))
        assert message.retain
        assert message.qos == 1
        statement = decode(bytes(message.payload), channel=Channel.STATEMENT)
        assert isinstance(statement, Statement)
        assert statement.home_id == home_id
        assert statement.period == "2025-01"
        assert statement.delivered_kwh == pytest.approx(
            issued.settlement.delivered_kwh, abs=1e-3
        )
        assert statement.earnings_eur == pytest.approx(
            statement.delivered_kwh * 0.4, abs=1e-3
        )
        assert statement.gas_compensation_eur > 0
        assert statement.events == 1
        assert statement.final is False
    finally:
        await service.stop()
