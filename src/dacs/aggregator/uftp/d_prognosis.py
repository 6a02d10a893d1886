"""The D-Prognosis: a congestion point's forecast load per ISP, minus the flex ordered."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime

from shapeshifter_uftp import DPrognosis, DPrognosisISP
from xsdata.models.datatype import XmlDate, XmlDuration

from . import isp as isps
from .config import UftpConfig
from .forecast import CongestionPointLoadForecast
from .header import outgoing, stamp
from .outbox import Outgoing

# Builds the D-Prognosis from the flex ordered per ISP and the revision it gets.
type PrognosisBuilder = Callable[[Mapping[int, int], int], Outgoing]


def d_prognosis(
    *,
    point_id: str,
    address: str,
    period: date,
    ordered: Mapping[int, int],
    revision: int,
    recipient: str,
    forecast: CongestionPointLoadForecast,
    config: UftpConfig,
    now: datetime,
) -> Outgoing:
    """Forecast load per ISP of ``period`` plus ``ordered`` (negative: a reduction)."""
    zone = config.zone
    points = [
        DPrognosisISP(
            start=number,
            duration=1,
            power=max(
                0,
                round(forecast(point_id, isps.isp_start(period, number, zone), now))
                + ordered.get(number, 0),
            ),
        )
        for number in range(1, isps.isp_count(period, zone) + 1)
    ]
    prognosis = stamp(
        DPrognosis(
            isp_duration=XmlDuration(config.isp_duration),
            time_zone=config.time_zone,
            period=XmlDate.from_date(period),
            congestion_point=address,
            revision=revision,
            isps=points,
        ),
        config,
        now=now,
        recipient=recipient,
        conversation_id=None,
    )
    return outgoing(prognosis, recipient)


def prognosis_builder(
    *,
    point_id: str,
    address: str,
    period: date,
    recipient: str,
    forecast: CongestionPointLoadForecast,
    config: UftpConfig,
    now: datetime,
) -> PrognosisBuilder:
    """The D-Prognosis to send, once the ledger knows what is ordered and the revision."""

    def build(ordered: Mapping[int, int], revision: int) -> Outgoing:
        return d_prognosis(
            point_id=point_id,
            address=address,
            period=period,
            ordered=ordered,
            revision=revision,
            recipient=recipient,
            forecast=forecast,
            config=config,
            now=now,
        )

    return build
