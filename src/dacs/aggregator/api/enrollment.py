"""POST /api/v1/enrollments: a home trades a one-time code for its identity."""

from __future__ import annotations

import logging
import math

from aiohttp import web

from dacs.aggregator.registry.errors import (
    CodeExpiredError,
    CodeUsedError,
    ProvisioningError,
    UnknownCodeError,
)
from dacs.aggregator.registry.registry import Registry
from dacs.protocol import (
    BrokerAddress,
    EnrollmentResponse,
    MqttCredentials,
    ProtocolError,
    home_root,
)
from dacs.protocol.codec import load_document
from dacs.protocol.schema import validate

from .errors import error_response
from .ratelimit import RateLimiter

_LOGGER = logging.getLogger(__name__)


REGISTRY: web.AppKey[Registry] = web.AppKey("registry", Registry)
# Every central broker by id, as homes reach it.
BROKER_ADDRESSES: web.AppKey[dict[str, BrokerAddress]] = web.AppKey(
    "broker_addresses", dict
)
ENROLLMENT_LIMITER: web.AppKey[RateLimiter] = web.AppKey(
    "enrollment_limiter", RateLimiter
)


async def enroll(request: web.Request) -> web.Response:
    """Validate the code, create the home and its broker account, answer with both."""
    limiter = request.app[ENROLLMENT_LIMITER]
    wait = limiter.allow(request.remote or "unknown")
    if wait:
        return error_response(
            429,
            "rate_limited",
            "too many attempts; try again later",
            **{"Retry-After": str(math.ceil(wait))},
        )
    try:
        document = load_document(await request.read())
        validate(document, "enrollment-request")
    except ProtocolError as err:
        return error_response(400, "malformed", str(err))
    registry = request.app[REGISTRY]
    try:
        enrollment = await registry.enroll(document["code"], ean=document.get("ean"))
    except UnknownCodeError as err:
        return error_response(404, "unknown_code", str(err))
    except CodeUsedError as err:
        return error_response(409, "code_used", str(err))
    except CodeExpiredError as err:
        return error_response(410, "code_expired", str(err))
    except ProvisioningError:
        _LOGGER.exception("enrollment failed while creating the broker account")
        return error_response(
            500, "internal", "the home could not be enrolled; try again later"
        )
    broker = request.app[BROKER_ADDRESSES].get(enrollment.broker_id)
    if broker is None:
        _LOGGER.error(
            "home %s was assigned broker %s, which has no address for homes",
            enrollment.home_id,
            enrollment.broker_id,
        )
        return error_response(
            500, "internal", "the home could not be enrolled; try again later"
        )
    answer = EnrollmentResponse(
        home_id=enrollment.home_id,
        topic_prefix=home_root(enrollment.home_id),
        mqtt=MqttCredentials(
            host=broker.host,
            port=broker.port,
            username=enrollment.home_id,
            password=enrollment.password,
            tls=broker.tls,
            ca_certificate=broker.ca_certificate,
            broker_id=broker.broker_id,
        ),
    )
    return web.json_response(answer.to_dict(), status=201)
