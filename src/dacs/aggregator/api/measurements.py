"""``/api/v1/congestion-points/{point_id}/measurements`` and ``.../compliance``.

A transformer's real-time load goes to the control loop at once and into the
database, so that the evening can be judged afterwards the way the grid
operator settles it: each ISP's mean against its cap.
"""

from __future__ import annotations

from datetime import datetime, timedelta
import logging
from typing import TypedDict

from aiohttp import web

from dacs.aggregator.control.loop import CongestionPointControl
from dacs.aggregator.domain.compliance import (
    ComplianceReport,
    assess_compliance,
    held_per_minute,
    isp_caps,
)
from dacs.aggregator.domain.delivery import IntervalDelivery, deliveries_per_isp
from dacs.aggregator.domain.envelope import CapacityEnvelope
from dacs.aggregator.settlement.errors import SettlementError
from dacs.aggregator.storage.envelopes import EnvelopeLedger
from dacs.aggregator.storage.measurements import MeasurementLedger
from dacs.protocol import format_time

from .app_keys import SERVICE, point_control
from .auth import Role, requires
from .errors import BadRequestError
from .requests import Measurement, parse, query_time, read_object
from .responses import Accepted, Compliance, IspFigures
from .settlement_routes import SETTLEMENT

_LOGGER = logging.getLogger(__name__)

routes = web.RouteTableDef()

# A window of at most this long: a month of minutes is 44,640 rows.
MAX_WINDOW = timedelta(days=31)


@routes.post("/api/v1/congestion-points/{point_id}/measurements")
@requires(Role.OPERATOR)
async def post_measurement(request: web.Request) -> web.Response:
    """A real-time transformer load measurement: ``{"ts": t, "load_kw": x}``."""
    control = point_control(request)
    body = parse(Measurement, await read_object(request))
    control.record_measurement(body.ts, body.load_kw * 1000)
    ledger = MeasurementLedger(request.app[SERVICE].sessions)
    stored = await ledger.record(control.point_id, body.ts, body.load_kw * 1000)
    return web.json_response(Accepted(accepted=True, stored=stored), status=202)


@routes.get("/api/v1/congestion-points/{point_id}/compliance")
@requires(Role.READER)
async def get_compliance(request: web.Request) -> web.Response:
    """Per-ISP means of the stored measurements against the caps, and the minutes."""
    control = point_control(request)
    start, end = query_time(request, "start"), query_time(request, "end")
    if end <= start:
        raise BadRequestError("'end' must come after 'start'")
    if end - start > MAX_WINDOW:
        raise BadRequestError(f"a window may span at most {MAX_WINDOW.days} days")
    sessions = request.app[SERVICE].sessions
    samples = await MeasurementLedger(sessions).between(control.point_id, start, end)
    envelopes = await EnvelopeLedger(sessions).overlapping(control.point_id, start, end)
    report = point_compliance(control, envelopes, samples, start, end)
    delivered = await _deliveries(request, control.point_id, start, end)
    return web.json_response(
        _compliance_json(control.point_id, start, end, report, delivered)
    )


async def _deliveries(
    request: web.Request, point_id: str, start: datetime, end: datetime
) -> dict[datetime, IntervalDelivery]:
    """The homes' delivery per ISP, from the source the grid adapters report from."""
    settlement = request.app.get(SETTLEMENT)
    if settlement is None:
        return {}
    try:
        intervals = await settlement.flex(point_id, start, end)
    except SettlementError as err:
        # Compliance stands on the transformer's figures alone; say why the
        # delivery is missing rather than failing the whole answer.
        _LOGGER.info("compliance of %s without deliveries: %s", point_id, err)
        return {}
    return deliveries_per_isp(intervals)


def point_compliance(
    control: CongestionPointControl,
    envelopes: list[CapacityEnvelope],
    samples: list[tuple[datetime, float]],
    start: datetime,
    end: datetime,
) -> ComplianceReport:
    """The grid operator's view of a window: caps from the envelopes, never above rated."""

    def cap_w_at(moment: datetime) -> float:
        return control.cap_w_under(envelopes, moment)

    times, loads = held_per_minute(samples, start, end)
    return assess_compliance(times, loads, isp_caps(start, end, cap_w_at))


def _compliance_json(
    point_id: str,
    start: datetime,
    end: datetime,
    report: ComplianceReport,
    delivered: dict[datetime, IntervalDelivery],
) -> Compliance:
    return Compliance(
        congestion_point_id=point_id,
        start=format_time(start),
        end=format_time(end),
        isps=[
            IspFigures(
                start=format_time(isp.start),
                cap_kw=round(isp.cap_w / 1000, 3),
                mean_kw=round(isp.average_w / 1000, 3),
                excess_kw=round(isp.excess_w / 1000, 3),
                over=isp.over,
                minutes=isp.samples,
                **_delivery_figures(delivered.get(isp.start)),
            )
            for isp in report.isps
            if isp.samples
        ],
        isps_over=report.isps_over,
        worst_isp_excess_kw=round(report.worst_isp_excess_w / 1000, 3),
        minutes=report.minutes,
        minutes_over=report.minutes_over,
        worst_minute_excess_kw=round(report.worst_minute_excess_w / 1000, 3),
        energy_over_kwh=round(report.energy_over_kwh, 3),
    )


class _DeliveryFigures(TypedDict):
    baseline_kw: float | None
    delivered_kw: float | None
    homes_reporting: int


def _delivery_figures(interval: IntervalDelivery | None) -> _DeliveryFigures:
    if interval is None:
        return _DeliveryFigures(baseline_kw=None, delivered_kw=None, homes_reporting=0)
    return _DeliveryFigures(
        baseline_kw=round(interval.baseline_kw, 3),
        delivered_kw=round(interval.delivered_kw, 3),
        homes_reporting=interval.homes_reporting,
    )
