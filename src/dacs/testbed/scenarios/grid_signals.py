"""The grid operator's ask for one scenario, through the adapters' own mapping code.

An OpenADR event goes through ``capacity_limit_plan``; a UFTP FlexRequest is
offered as the aggregator offers it (``home_flex``, ``plan_options`` and the
persistence forecast, read from the fleet as it stood when the request came)
and the fullest option ordered (``order_envelope``), as the DSO peer does.
Only the transport (HTTP, signatures, polling) is left out. ``requested_kw``
is what the grid operator sends, so the broker path (``live_check``) sends
the same and its adapters make the same caps.
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
from dacs.aggregator.settlement.config import SettlementConfig
from dacs.aggregator.storage.tables import UftpFlexOfferRow
from dacs.aggregator.uftp import isp as isps
from dacs.aggregator.uftp.config import UftpConfig
from dacs.aggregator.uftp.flex_order import order_envelope
from dacs.aggregator.uftp.forecast import persistence_load_w
from dacs.aggregator.uftp.home_flex import home_flex
from dacs.aggregator.uftp.offers import IspNeed, OptionPlan, plan_options
from dacs.testbed.grid_peers.openadr_vtn import capacity_limit_event
from dacs.testbed.neighbourhood.counterfactual import household_forecast
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
    # What the grid operator asks per ISP of the event (kW): the caps of a
    # profile or an OpenADR event, the prognosis less the reduction a UFTP
    # FlexRequest asks for. Empty for the fixed profile and the emergency stop.
    requested_kw: tuple[float, ...] = ()


def announced_at(spec: ScenarioSpec) -> datetime | None:
    """When ``spec``'s grid operator's signal reaches the aggregator (None: fixed)."""
    scenario = spec.neighbourhood()
    begin, end = scenario.event_window
    return {
        SignalKind.DAY_AHEAD: scenario.start,
        SignalKind.FIXED: None,
        SignalKind.EMERGENCY: begin + (end - begin) / 2,
        SignalKind.OPENADR: begin - timedelta(hours=1),
        # A FlexRequest arrives shortly before the event, not the day before.
        SignalKind.UFTP: begin - timedelta(minutes=30),
    }[spec.signal]


def grid_ask(
    spec: ScenarioSpec,
    *,
    prognosis_kw: Sequence[float],
    rated_kw: float,
    cap_kw: float,
    fleet: Fleet | None = None,
) -> GridAsk:
    """The cap of ``spec``'s signal kind.

    ``prognosis_kw`` is the grid operator's prognosis of the street's load
    per ISP of the event (a UFTP FlexRequest asks ``depth`` of it away);
    ``fleet`` is the aggregator's view of the homes when the signal arrives
    (a UFTP offer is made from it).
    """
    scenario = spec.neighbourhood()
    begin, end = scenario.event_window
    announced = announced_at(spec)
    if spec.signal is SignalKind.DAY_AHEAD:
        profile = event_profile(scenario, cap_kw, rated_kw)
        return GridAsk(
            rated_kw=rated_kw,
            envelope=profile,
            announced=announced,
            requested_kw=tuple(i.cap_w / 1000 for i in profile.intervals),
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
        caps = _openadr_caps_kw(spec, cap_kw, rated_kw)
        return GridAsk(
            rated_kw=rated_kw,
            envelope=_openadr_envelope(spec, caps),
            announced=announced,
            requested_kw=caps,
        )
    if fleet is None or announced is None:
        raise ScenarioError(
            f"{spec.name}: a UFTP offer is made from the aggregator's fleet "
            "when the FlexRequest arrives; none was given"
        )
    asked = tuple(kw * (1 - spec.depth) for kw in prognosis_kw)
    return GridAsk(
        rated_kw=rated_kw,
        envelope=_uftp_envelope(spec, prognosis_kw, fleet, announced),
        announced=announced,
        requested_kw=asked,
    )


def _openadr_caps_kw(
    spec: ScenarioSpec, cap_kw: float, rated_kw: float
) -> tuple[float, ...]:
    """A VTN's IMPORT_CAPACITY_LIMIT caps: deepest in the evening's middle hour."""
    begin, end = spec.neighbourhood().event_window
    quarters = int((end - begin) / ISP)
    caps = []
    for quarter in range(quarters):
        share = 1.0 if quarters // 3 <= quarter < 2 * quarters // 3 else 0.5
        caps.append(round(rated_kw - share * (rated_kw - cap_kw), 1))
    return tuple(caps)


def _openadr_envelope(spec: ScenarioSpec, caps: Sequence[float]) -> CapacityEnvelope:
    """The envelope the VEN's mapping makes of an event with ``caps`` (kW per ISP)."""
    begin, _ = spec.neighbourhood().event_window
    new = capacity_limit_event(_PROGRAM, POINT_ID, start=begin, caps_kw=list(caps))
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
    spec: ScenarioSpec,
    prognosis_kw: Sequence[float],
    fleet: Fleet,
    now: datetime,
) -> CapacityEnvelope:
    """A FlexRequest for ``depth`` of the prognosis, offered from ``fleet`` and ordered.

    The homes offer what they can (baseline less floor, within each
    resident's maximum curtailment); the cap of an ordered ISP is the offer's
    own forecast less the order, so it is the aggregator's forecast, not the
    grid operator's prognosis, that the cap hangs from.
    """
    scenario = spec.neighbourhood()
    begin, end = scenario.event_window
    config = UftpConfig()
    period = begin.astimezone(AMSTERDAM).date()
    _, first_isp = isps.isp_at(begin, config.zone)
    needs = [
        IspNeed(isp=first_isp + q, reduction_w=round(kw * 1000 * spec.depth))
        for q, kw in enumerate(prognosis_kw)
    ]
    views = fleet.of(POINT_ID)
    model = fleet.flex_model(views, now)
    plans = plan_options(
        [n for n in needs if n.reduction_w > 0],
        home_flex(views, model, SettlementConfig()),
        margin_eur_per_kwh=config.margin_eur_per_kwh,
        fractions=config.fractions,
    )
    if not plans:
        raise ScenarioError(f"{spec.name}: the homes had nothing to offer")
    fullest = max(plans, key=_offered_wh)
    other_at = household_forecast(scenario)
    baseline = {
        str(n.isp): round(
            persistence_load_w(
                model, other_at(isps.isp_start(period, n.isp, config.zone))
            )
        )
        for n in needs
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
    ordered = {i.isp: -i.reduction_w for i in fullest.isps}
    return order_envelope(
        str(uuid.uuid4()), offer, ordered, config, dso="dso.example.com"
    )


def _offered_wh(plan: OptionPlan) -> float:
    """The DSO orders the option with the most flexibility (as its peer does)."""
    return sum(i.reduction_w for i in plan.isps)


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
