"""The grid operator's ask for one scenario, through the adapters' own mapping code.

An OpenADR event goes through ``capacity_limit_plan`` and a UFTP FlexOrder
through ``order_envelope``, as they do in the aggregator; only the transport
(HTTP, signatures, polling) is left out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
import uuid

from openadr3_client.oadr310.models.event.event import ExistingEvent

from dacs.aggregator.control.fleet import Fleet
from dacs.aggregator.control.loop import CongestionPointControl
from dacs.aggregator.domain.envelope import ISP, CapacityEnvelope, FixedCapacity
from dacs.aggregator.openadr.capacity_signals import capacity_limit_plan
from dacs.aggregator.openadr.plans import ProgramContext, Refusal
from dacs.aggregator.storage.tables import UftpFlexOfferRow
from dacs.aggregator.uftp import isp as isps
from dacs.aggregator.uftp.config import UftpConfig
from dacs.aggregator.uftp.flex_order import order_envelope
from dacs.testbed.grid_peers.openadr_vtn import capacity_limit_event
from dacs.testbed.neighbourhood.live import event_profile

from .spec import AMSTERDAM, ScenarioError, ScenarioSpec, SignalKind

POINT_ID = "tr-scenario"
_PROGRAM = "dso-capacity"
# The emergency stop lasts half an hour, from the middle of the event.
_EMERGENCY = timedelta(minutes=30)


@dataclass(frozen=True, kw_only=True)
class GridAsk:
    """What the grid operator puts on the congestion point, and when it is known."""

    rated_kw: float
    envelope: CapacityEnvelope | None = None
    fixed: FixedCapacity | None = None
    announced: datetime | None = None  # when the envelope reaches the aggregator


def grid_ask(
    spec: ScenarioSpec,
    *,
    prognosis_kw: Sequence[float],
    rated_kw: float,
    cap_kw: float,
) -> GridAsk:
    """The cap of ``spec``'s signal kind.

    ``prognosis_kw`` is the aggregator's prognosis of the street's load per
    ISP of the event (what a UFTP FlexOrder is measured against).
    """
    scenario = spec.neighbourhood()
    begin, end = scenario.event_window
    if spec.signal is SignalKind.DAY_AHEAD:
        return GridAsk(
            rated_kw=rated_kw,
            envelope=event_profile(scenario, cap_kw, rated_kw),
            announced=scenario.start,
        )
    if spec.signal is SignalKind.FIXED:
        local_begin = begin.astimezone(AMSTERDAM).time()
        local_end = end.astimezone(AMSTERDAM).time()
        blocks = ((local_begin, cap_kw * 1000), (local_end, rated_kw * 1000))
        return GridAsk(
            rated_kw=rated_kw,
            fixed=FixedCapacity(blocks=(*((time(0), rated_kw * 1000),), *blocks)),
        )
    if spec.signal is SignalKind.EMERGENCY:
        middle = begin + (end - begin) / 2
        return GridAsk(
            rated_kw=rated_kw,
            envelope=CapacityEnvelope.emergency_stop(
                "emergency-scenario", middle, _EMERGENCY, origin="scenario"
            ),
            announced=middle,
        )
    if spec.signal is SignalKind.OPENADR:
        return GridAsk(
            rated_kw=rated_kw,
            envelope=_openadr_envelope(spec, cap_kw, rated_kw),
            announced=begin - timedelta(hours=1),
        )
    return GridAsk(
        rated_kw=rated_kw,
        envelope=_uftp_envelope(spec, prognosis_kw),
        # A FlexRequest arrives shortly before the event, not the day before.
        announced=begin - timedelta(minutes=30),
    )


def _openadr_envelope(
    spec: ScenarioSpec, cap_kw: float, rated_kw: float
) -> CapacityEnvelope:
    """A VTN's IMPORT_CAPACITY_LIMIT event: deepest in the evening's middle hour."""
    scenario = spec.neighbourhood()
    begin, end = scenario.event_window
    quarters = int((end - begin) / ISP)
    caps = []
    for quarter in range(quarters):
        share = 1.0 if quarters // 3 <= quarter < 2 * quarters // 3 else 0.5
        caps.append(round(rated_kw - share * (rated_kw - cap_kw), 1))
    new = capacity_limit_event(_PROGRAM, POINT_ID, start=begin, caps_kw=caps)
    stamp = begin - timedelta(hours=2)
    existing = ExistingEvent.model_validate(
        new.model_dump(mode="json", by_alias=True)
        | {
            "id": "event-1",
            "createdDateTime": stamp.isoformat(),
            "modificationDateTime": stamp.isoformat(),
            "objectType": "EVENT",
        }
    )
    plan = capacity_limit_plan(
        existing,
        ProgramContext(
            program_id=_PROGRAM,
            nlflex=False,
            congestion_points={POINT_ID: POINT_ID},
            now=stamp,
            emergency_max_duration=timedelta(hours=2),
        ),
    )
    if isinstance(plan, Refusal):
        raise ScenarioError(f"the scenario's OpenADR event was refused: {plan.reason}")
    return plan.caps[0][1]


def _uftp_envelope(
    spec: ScenarioSpec, prognosis_kw: Sequence[float]
) -> CapacityEnvelope:
    """A FlexOrder for ``depth`` of our prognosis in every ISP of the event."""
    begin, end = spec.neighbourhood().event_window
    config = UftpConfig()
    period = begin.astimezone(AMSTERDAM).date()
    _, first_isp = isps.isp_at(begin, config.zone)
    baseline = {
        str(first_isp + q): round(kw * 1000) for q, kw in enumerate(prognosis_kw)
    }
    ordered = {
        first_isp + q: -round(kw * 1000 * spec.depth)
        for q, kw in enumerate(prognosis_kw)
    }
    offer = UftpFlexOfferRow(
        message_id=str(uuid.uuid4()),
        conversation_id=str(uuid.uuid4()),
        recipient_domain="dso.example.com",
        congestion_point=f"ean.{POINT_ID}",
        congestion_point_id=POINT_ID,
        period=period.isoformat(),
        expires_at=end,
        options=[],
        baseline_w=baseline,
        created_at=datetime.now(UTC),
    )
    return order_envelope(
        str(uuid.uuid4()), offer, ordered, config, dso="dso.example.com"
    )


def cap_lookup(ask: GridAsk) -> Callable[[datetime], float]:
    """The cap in force at a moment under ``ask`` (W), by the control loop's own rules."""
    caps = CongestionPointControl(
        point_id=POINT_ID,
        rated_capacity_kw=ask.rated_kw,
        fleet=Fleet(),
        fixed=ask.fixed,
    )
    if ask.envelope is not None:
        caps.put_in_force(ask.envelope)
    return caps.cap_w_at
