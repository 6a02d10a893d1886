"""Transformer measurements are kept and judged per ISP, as the grid operator settles them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient
import pytest

from dacs.protocol import format_time

from .test_api import OPERATOR, READER, _point, client

__all__ = ["client"]  # the fixture, shared with the API's own tests


def _quarter_after(moment: datetime) -> datetime:
    start = moment.replace(second=0, microsecond=0)
    return start + timedelta(minutes=15 - start.minute % 15)


async def _measure(client: TestClient[Any, Any], at: datetime, load_kw: float) -> bool:
    answer = await client.post(
        "/api/v1/congestion-points/tr-dalen-01/measurements",
        headers=OPERATOR,
        json={"ts": format_time(at), "load_kw": load_kw},
    )
    assert answer.status == 202, await answer.text()
    stored: bool = (await answer.json())["stored"]
    return stored


async def test_isp_means_of_the_stored_measurements_against_the_caps(
    client: TestClient[Any, Any],
) -> None:
    await _point(client)
    start = _quarter_after(datetime.now(UTC))
    created = await client.post(
        "/api/v1/congestion-points/tr-dalen-01/events",
        headers=OPERATOR,
        json={"kind": "dynamic", "start": format_time(start), "caps_kw": [200, 180]},
    )
    assert created.status == 201, await created.text()
    # ISP 1: 10 minutes at 190 kW, 5 at 220 kW: mean 200 kW, at its cap of 200.
    # ISP 2: 15 minutes at 190 kW over a cap of 180: 10 kW over.
    for minute in range(30):
        load = 190.0 if minute < 10 or minute >= 15 else 220.0
        assert await _measure(client, start + timedelta(minutes=minute), load)
    # The same reading again (a retry) is not stored twice.
    assert not await _measure(client, start, 190.0)
    answer = await client.get(
        "/api/v1/congestion-points/tr-dalen-01/compliance",
        headers=READER,
        params={
            "start": format_time(start),
            "end": format_time(start + timedelta(minutes=30)),
        },
    )
    assert answer.status == 200, await answer.text()
    figures = await answer.json()
    assert [(i["cap_kw"], i["mean_kw"], i["over"]) for i in figures["isps"]] == [
        (200.0, 200.0, False),
        (180.0, 190.0, True),
    ]
    assert figures["isps_over"] == 1
    assert figures["worst_isp_excess_kw"] == pytest.approx(10.0)
    assert figures["minutes"] == 30
    assert figures["minutes_over"] == 5 + 15
    assert figures["worst_minute_excess_kw"] == pytest.approx(20.0)


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({}, 400, "needs 'start'"),
        ({"start": "yesterday", "end": "2025-01-01T00:00:00Z"}, 400, "RFC 3339"),
        ({"start": "2025-01-01T00:00:00", "end": "2025-01-02T00:00:00Z"}, 400, "zone"),
        (
            {"start": "2025-01-02T00:00:00Z", "end": "2025-01-01T00:00:00Z"},
            400,
            "after 'start'",
        ),
        (
            {"start": "2025-01-01T00:00:00Z", "end": "2025-03-01T00:00:00Z"},
            400,
            "31 days",
        ),
    ],
)
async def test_a_bad_window_is_refused_with_a_reason(
    client: TestClient[Any, Any], params: dict[str, str], status: int, message: str
) -> None:
    await _point(client)
    answer = await client.get(
        "/api/v1/congestion-points/tr-dalen-01/compliance",
        headers=READER,
        params=params,
    )
    assert answer.status == status
    assert message in (await answer.json())["message"]


async def test_compliance_of_an_unknown_point_or_without_a_token(
    client: TestClient[Any, Any],
) -> None:
    window = {"start": "2025-01-01T00:00:00Z", "end": "2025-01-01T01:00:00Z"}
    unknown = await client.get(
        "/api/v1/congestion-points/nowhere/compliance", headers=READER, params=window
    )
    assert unknown.status == 404
    anonymous = await client.get(
        "/api/v1/congestion-points/nowhere/compliance", params=window
    )
    assert anonymous.status == 401


async def test_an_event_cancelled_early_caps_only_until_it_was_cancelled(
    client: TestClient[Any, Any],
) -> None:
    await _point(client)
    start = _quarter_after(datetime.now(UTC)) - timedelta(minutes=30)
    created = await client.post(
        "/api/v1/congestion-points/tr-dalen-01/events",
        headers=OPERATOR,
        json={
            "id": "ev-cut",
            "kind": "manual",
            "intervals": [
                {
                    "start": format_time(start),
                    "end": format_time(start + timedelta(hours=2)),
                    "cap_kw": 100,
                }
            ],
        },
    )
    assert created.status == 201, await created.text()
    cancelled = await client.delete(
        "/api/v1/congestion-points/tr-dalen-01/events/ev-cut", headers=OPERATOR
    )
    assert cancelled.status == 200
    for minute in range(60):
        await _measure(client, start + timedelta(minutes=minute), 150.0)
    figures = await (
        await client.get(
            "/api/v1/congestion-points/tr-dalen-01/compliance",
            headers=READER,
            params={
                "start": format_time(start),
                "end": format_time(start + timedelta(minutes=60)),
            },
        )
    ).json()
    caps = [isp["cap_kw"] for isp in figures["isps"]]
    # Before the cancel (about now) the event's 100 kW; after it the rating, 250 kW.
    assert caps[0] == 100.0
    assert caps[-1] == 250.0
