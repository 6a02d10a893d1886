"""The typed application state the API's handlers read (``web.AppKey``), and lookups in it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from dacs.aggregator.control.loop import CongestionPointControl
from dacs.aggregator.registry.errors import NotFoundError
from dacs.aggregator.service import AggregatorService

if TYPE_CHECKING:
    from dacs.aggregator.openadr.ven import OpenAdrVen

SERVICE: web.AppKey[AggregatorService] = web.AppKey("service", AggregatorService)
# Set when the OpenADR VEN runs (app.py); its counters go to /metrics.
OPENADR_VEN: web.AppKey[OpenAdrVen] = web.AppKey("openadr_ven")


def point_control(request: web.Request) -> CongestionPointControl:
    """The control loop of the congestion point in the URL (``{point_id}``)."""
    point_id = request.match_info["point_id"]
    control = request.app[SERVICE].controls.get(point_id)
    if control is None:
        raise NotFoundError(f"unknown congestion point {point_id!r}")
    return control
