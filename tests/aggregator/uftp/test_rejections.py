"""Refused messages: the protocol's answer, no crash, and nothing changed in the database."""

from __future__ import annotations

from datetime import timedelta

import aiohttp
import pytest
from shapeshifter_uftp import (
    AcceptedRejected,
    FlexOffer,
    FlexOrderISP,
    FlexOrderResponse,
    FlexRequestResponse,
    SignedMessage,
    transport,
)
from shapeshifter_uftp.exceptions import ClientTransportException
from xsdata.models.datatype import XmlDuration

from dacs.aggregator.uftp import generate_keypair
from dacs.testbed.grid_peers.gopacs_dso import RequestedIsp

from .conftest import ADDRESS, DSO_DOMAIN, UftpWorld, table_counts
from .test_flow import _offer, current_isps


def _request(world: UftpWorld, *, address: str = ADDRESS, hours: float = 1.0):
    now = world.service.clock.now()
    period, numbers = current_isps(now)
    return world.dso.flex_request(
        congestion_point=address,
        period=period,  # type: ignore[arg-type]
        isps=[RequestedIsp(isp=n, reduction_w=2000) for n in numbers],
        expires_at=now + timedelta(hours=hours),
        now=now,
    )


async def _post(world: UftpWorld, body: bytes) -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.post(world.endpoint, data=body) as response,
    ):
        return response.status


def _signed(world: UftpWorld, inner: bytes, domain: str = DSO_DOMAIN) -> bytes:
    envelope = SignedMessage(sender_domain=domain, sender_role="DSO", body=inner)
    return transport.to_xml(envelope).encode()


def _stamped(world: UftpWorld, message):
    message.sender_domain = DSO_DOMAIN
    message.recipient_domain = "agr.example.com"
    message.time_stamp = world.service.clock.now().isoformat(timespec="seconds")
    return message


async def _rejected(world: UftpWorld, kind, message_id: str, field: str):
    response = await world.dso.wait_for(kind, lambda r: getattr(r, field) == message_id)
    assert response.result == AcceptedRejected.REJECTED
    return response.rejection_reason


async def test_wrong_key_is_refused_with_401(world: UftpWorld) -> None:
    before = await table_counts(world.service)
    impostor = world.peer(secret=generate_keypair()[0])
    with pytest.raises(ClientTransportException) as caught:
        await impostor.send(_request(world))
    assert caught.value.response.status_code == 401
    assert await table_counts(world.service) == before


async def test_unsigned_message_is_refused_with_401(world: UftpWorld) -> None:
    before = await table_counts(world.service)
    plain = transport.to_xml(_stamped(world, _request(world))).encode()
    assert await _post(world, _signed(world, plain)) == 401
    assert await table_counts(world.service) == before


async def test_tampered_message_is_refused_with_401(world: UftpWorld) -> None:
    before = await table_counts(world.service)
    sealed = transport.seal_message(
        _stamped(world, _request(world)), world.keys.dso_secret
    )
    tampered = sealed.replace(b'Revision="1"', b'Revision="7"')
    assert tampered != sealed
    assert await _post(world, _signed(world, tampered)) == 401
    assert await _post(world, _signed(world, sealed)) == 200  # the untouched one passes
    await world.dso.wait_for(FlexRequestResponse)
    assert (await table_counts(world.service))["uftp_flex_requests"] == before[
        "uftp_flex_requests"
    ] + 1


async def test_unknown_sender_is_refused_with_419(world: UftpWorld) -> None:
    before = await table_counts(world.service)
    stranger = world.peer(domain="stranger.example.org")
    with pytest.raises(ClientTransportException) as caught:
        await stranger.send(_request(world))
    assert caught.value.response.status_code == 419
    assert await table_counts(world.service) == before


@pytest.mark.parametrize(
    "body",
    [b"<not xml", b"", b'<?xml version="1.0"?><Nothing/>', "\u00e9t\u00e9".encode()],
)
async def test_malformed_xml_is_refused_with_400(world: UftpWorld, body: bytes) -> None:
    before = await table_counts(world.service)
    assert await _post(world, body) == 400
    assert await table_counts(world.service) == before


async def test_signed_garbage_is_refused_with_400(world: UftpWorld) -> None:
    import base64

    from nacl.bindings import crypto_sign

    garbage = crypto_sign(
        b"<FlexRequest broken", base64.b64decode(world.keys.dso_secret)
    )
    before = await table_counts(world.service)
    assert await _post(world, _signed(world, garbage)) == 400
    assert await table_counts(world.service) == before


async def test_expired_request_is_rejected(world: UftpWorld) -> None:
    before = await table_counts(world.service)
    request = _request(world, hours=-1)
    await world.dso.send(request)
    reason = await _rejected(
        world, FlexRequestResponse, request.message_id, "flex_request_message_id"
    )
    assert reason is not None
    assert reason.startswith(
        "Expiration DateTime Out Of Bounds: the request expired at"
    )
    assert await table_counts(world.service) == before


async def test_unknown_congestion_point_is_rejected(world: UftpWorld) -> None:
    before = await table_counts(world.service)
    request = _request(world, address="ean.871234567890999995")
    await world.dso.send(request)
    reason = await _rejected(
        world, FlexRequestResponse, request.message_id, "flex_request_message_id"
    )
    assert reason == "Invalid Congestion Point"
    assert await table_counts(world.service) == before


async def test_wrong_isp_duration_is_rejected(world: UftpWorld) -> None:
    before = await table_counts(world.service)
    request = _request(world)
    request.isp_duration = XmlDuration("PT30M")
    await world.dso.send(request)
    reason = await _rejected(
        world, FlexRequestResponse, request.message_id, "flex_request_message_id"
    )
    assert reason == "ISP Duration Rejected"
    assert await table_counts(world.service) == before


async def test_wrong_recipient_is_rejected(world: UftpWorld) -> None:
    before = await table_counts(world.service)
    misdirected = world.peer()
    misdirected.client.recipient_domain = "someone-else.example.com"
    request = _request(world)
    await misdirected.send(request)
    reason = await _rejected(
        world, FlexRequestResponse, request.message_id, "flex_request_message_id"
    )
    assert reason == "Unknown Recipient"
    assert await table_counts(world.service) == before


async def test_reused_message_id_with_other_content_is_rejected(
    world: UftpWorld,
) -> None:
    request, _, _ = await _offer(world)
    await world.agent.outbox.idle()
    before = await table_counts(world.service)
    reuse = _request(world)
    reuse.message_id = request.message_id
    reuse.revision = 2
    await world.dso.send(reuse)
    response = await world.dso.wait_for(
        FlexRequestResponse, lambda r: r.result == AcceptedRejected.REJECTED
    )
    assert response.rejection_reason == "Duplicate Identifier"
    assert await table_counts(world.service) == before


async def test_order_with_other_isps_is_rejected(world: UftpWorld) -> None:
    _, offer, _ = await _offer(world)
    await world.agent.outbox.idle()
    before = await table_counts(world.service)
    events_before = list(world.service.controls["tr-1"].envelopes)
    order = world.dso.order_for(offer, "P100")
    order.isps = [
        *order.isps[:-1],
        FlexOrderISP(start=order.isps[-1].start, power=order.isps[-1].power + 1),
    ]
    await world.dso.send(order)
    reason = await _rejected(
        world, FlexOrderResponse, order.message_id, "flex_order_message_id"
    )
    assert reason == "ISPs do not match the FlexOffer option"
    extra = world.dso.order_for(offer, "P100")
    extra.isps = [*extra.isps, FlexOrderISP(start=1, power=-1)]
    await world.dso.send(extra)
    reason = await _rejected(
        world, FlexOrderResponse, extra.message_id, "flex_order_message_id"
    )
    assert reason in ("ISPs do not match the FlexOffer option", "ISP Conflict")
    assert await table_counts(world.service) == before
    assert world.service.controls["tr-1"].envelopes == events_before
    # The offer is still open: the right order goes through.
    good = world.dso.order_for(offer, "P100")
    await world.dso.send(good)
    response = await world.dso.wait_for(
        FlexOrderResponse, lambda r: r.flex_order_message_id == good.message_id
    )
    assert response.result == AcceptedRejected.ACCEPTED


async def test_order_of_unknown_offer_or_twice_is_rejected(world: UftpWorld) -> None:
    _, offer, _ = await _offer(world)
    first = world.dso.order_for(offer, "P50")
    await world.dso.send(first)
    await world.dso.wait_for(
        FlexOrderResponse, lambda r: r.flex_order_message_id == first.message_id
    )
    await world.agent.outbox.idle()
    before = await table_counts(world.service)
    second = world.dso.order_for(offer, "P100")
    await world.dso.send(second)
    reason = await _rejected(
        world, FlexOrderResponse, second.message_id, "flex_order_message_id"
    )
    assert reason is not None
    assert reason.startswith("Unknown Reference")
    ghost_offer = FlexOffer(
        **{**offer.__dict__, "message_id": "00000000-0000-4000-8000-000000000000"}
    )
    ghost = world.dso.order_for(ghost_offer, "P100")
    await world.dso.send(ghost)
    reason = await _rejected(
        world, FlexOrderResponse, ghost.message_id, "flex_order_message_id"
    )
    assert reason == "Unknown Reference"
    assert await table_counts(world.service) == before


async def test_congestion_point_with_a_wrong_ean_check_digit_is_rejected(
    world: UftpWorld,
) -> None:
    before = await table_counts(world.service)
    request = _request(world, address="ean.871234567890123456")  # check digit is 1
    await world.dso.send(request)
    reason = await _rejected(
        world, FlexRequestResponse, request.message_id, "flex_request_message_id"
    )
    assert reason == (
        "Invalid Congestion Point: ean.871234567890123456 is not an EAN18 "
        "with a valid check digit"
    )
    assert await table_counts(world.service) == before
