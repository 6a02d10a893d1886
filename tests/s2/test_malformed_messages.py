"""Malformed S2 messages to our CEM: refused with a clear ReceptionStatus, nothing else breaks."""

from __future__ import annotations

from collections.abc import AsyncIterator
import json
import uuid

import pytest
from websockets.asyncio.client import ClientConnection, connect

from dacs.devices.s2 import S2HeatPump

from .conftest import TOKEN, cem, eventually, simulated_device

NIL = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
async def listening() -> AsyncIterator[S2HeatPump]:
    """Our CEM, listening, with no resource manager yet."""
    heat_pump = cem()
    await heat_pump.listen()
    yield heat_pump
    await heat_pump.close()


async def _status_for(ws: ClientConnection, subject: str) -> dict[str, object]:
    """The ReceptionStatus about ``subject``; other messages are skipped."""
    while True:
        message = json.loads(await ws.recv())
        if (
            message.get("message_type") == "ReceptionStatus"
            and message["subject_message_id"] == subject
        ):
            return message  # type: ignore[no-any-return]


def _handshake(message_id: str) -> str:
    return json.dumps(
        {
            "message_type": "Handshake",
            "message_id": message_id,
            "role": "RM",
            "supported_protocol_versions": ["0.0.2-beta"],
        }
    )


def _constraints(message_id: str, commodity: str) -> str:
    return json.dumps(
        {
            "message_type": "PEBC.PowerConstraints",
            "message_id": message_id,
            "id": str(uuid.uuid4()),
            "valid_from": "2026-01-01T00:00:00Z",
            "consequence_type": "VANISH",
            "allowed_limit_ranges": [
                {
                    "commodity_quantity": commodity,
                    "limit_type": kind,
                    "range_boundary": {"start_of_range": 0, "end_of_range": 1000},
                    "abnormal_condition_only": False,
                }
                for kind in ("UPPER_LIMIT", "LOWER_LIMIT")
            ],
        }
    )


async def test_malformed_messages_are_refused_and_the_connection_lives(
    listening: S2HeatPump,
) -> None:
    async with connect(
        listening.url, additional_headers={"Authorization": f"Bearer {TOKEN}"}
    ) as ws:
        await ws.send("this is not json")
        refused = await _status_for(ws, NIL)
        assert refused["status"] == "INVALID_DATA"
        assert refused["diagnostic_label"] == "Not valid json."

        await ws.send("[1, 2, 3]")
        refused = await _status_for(ws, NIL)
        assert refused["status"] == "INVALID_DATA"
        assert "JSON object" in str(refused["diagnostic_label"])

        await ws.send(json.dumps({"message_type": "Handshake", "message_id": "x" * 3}))
        refused = await _status_for(ws, NIL)
        assert refused["status"] == "INVALID_DATA"
        assert "is not a UUID" in str(refused["diagnostic_label"])

        broken = str(uuid.uuid4())
        await ws.send(json.dumps({"message_type": "Handshake", "message_id": broken}))
        refused = await _status_for(ws, broken)
        assert refused["status"] == "INVALID_MESSAGE"  # role is missing
        assert "role" in str(refused["diagnostic_label"])

        unknown = str(uuid.uuid4())
        await ws.send(json.dumps({"message_type": "Nonsense", "message_id": unknown}))
        refused = await _status_for(ws, unknown)
        assert refused["status"] == "INVALID_MESSAGE"
        assert "Type unknown" in str(refused["diagnostic_label"])

        as_cem = str(uuid.uuid4())
        await ws.send(
            json.dumps(
                {
                    "message_type": "SelectControlType",
                    "message_id": as_cem,
                    "control_type": "POWER_ENVELOPE_BASED_CONTROL",
                }
            )
        )
        refused = await _status_for(ws, as_cem)
        assert refused["status"] == "INVALID_CONTENT"
        assert refused["diagnostic_label"] == (
            "SelectControlType is not a message a CEM receives"
        )

        gas_only = str(uuid.uuid4())
        await ws.send(_constraints(gas_only, "NATURAL_GAS.FLOW_RATE"))
        refused = await _status_for(ws, gas_only)
        assert refused["status"] == "INVALID_CONTENT"
        assert "no electric upper and lower limit ranges" in str(
            refused["diagnostic_label"]
        )

        # After all that, the same connection still does a proper handshake.
        hello = str(uuid.uuid4())
        await ws.send(_handshake(hello))
        accepted = await _status_for(ws, hello)
        assert accepted["status"] == "OK"
        reply = json.loads(await ws.recv())
        assert reply["message_type"] == "Handshake"
        assert reply["role"] == "CEM"


async def test_a_peer_that_is_not_a_resource_manager_is_refused(
    listening: S2HeatPump,
) -> None:
    async with connect(
        listening.url, additional_headers={"Authorization": f"Bearer {TOKEN}"}
    ) as ws:
        hello = str(uuid.uuid4())
        await ws.send(
            json.dumps(
                {
                    "message_type": "Handshake",
                    "message_id": hello,
                    "role": "CEM",
                    "supported_protocol_versions": ["0.0.2-beta"],
                }
            )
        )
        refused = await _status_for(ws, hello)
        assert refused["status"] == "INVALID_CONTENT"
        assert "must be a resource manager" in str(refused["diagnostic_label"])


async def test_garbage_to_one_home_leaves_another_home_working() -> None:
    quiet, noisy = cem(), cem()
    device = simulated_device(quiet.url)
    await noisy.listen()
    await device.start()
    try:
        await quiet.connect()
        async with connect(
            noisy.url, additional_headers={"Authorization": f"Bearer {TOKEN}"}
        ) as ws:
            for frame in ("{", "[]", '{"message_id": 5}', "null"):
                await ws.send(frame)
            await quiet.set_power_limit(900, validity_s=60)
            await eventually(lambda: device.limit_w == 900.0)
            # The noisy connection is still there and still answered.
            hello = str(uuid.uuid4())
            await ws.send(_handshake(hello))
            assert (await _status_for(ws, hello))["status"] == "OK"
    finally:
        await quiet.close()
        await noisy.close()
        await device.stop()
