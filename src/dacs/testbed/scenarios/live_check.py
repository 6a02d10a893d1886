"""A scenario again through the real broker path, to check the fast path is faithful.

The fast path runs the control code against in-process homes. Here the same
street and evening run as the demo does: a real MQTT broker, the aggregator
service, a home controller per home over Modbus TCP to its simulated heat
pump, in accelerated time. Both are judged per ISP against the caps the live
run was given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import time

import numpy as np

from dacs.aggregator.domain.compliance import ComplianceReport
from dacs.aggregator.domain.envelope import CapacityEnvelope
from dacs.testbed.neighbourhood.counterfactual import run_uncontrolled
from dacs.testbed.neighbourhood.grid_signal import GridSignal
from dacs.testbed.neighbourhood.live import event_profile, run_live
from dacs.testbed.neighbourhood.summary import event_compliance
from dacs.testbed.servers import MosquittoBroker
from dacs.testbed.servers.embedded_broker import EmbeddedBroker
from dacs.testbed.servers.mosquitto import mosquitto_binary

from .spec import ScenarioError, ScenarioSpec, SignalKind
from .suite_run import ScenarioResult

_LIVE_SIGNALS = {
    SignalKind.DAY_AHEAD: GridSignal.PROFILE,
    SignalKind.OPENADR: GridSignal.OPENADR,
    SignalKind.UFTP: GridSignal.UFTP,
}


@dataclass(frozen=True, kw_only=True)
class LiveCheck:
    """One scenario on the fast path and on the broker path, side by side."""

    name: str
    fast_isps_over: int
    fast_share_minutes_over: float
    fast_extra_gas_m3: float
    live: ComplianceReport
    live_extra_gas_m3: float
    largest_isp_gap_kw: float  # the largest |fast - live| ISP mean of the event
    isps_compared: int  # ISPs both paths had under a cap
    commands_sent: int
    runtime_s: float

    @property
    def live_share_minutes_over(self) -> float:
        """Minutes over the cap as a share of the event's measured minutes."""
        return self.live.minutes_over / self.live.minutes if self.live.minutes else 0.0


def check_live_allowed(spec: ScenarioSpec) -> None:
    """Refuse a scenario the broker path cannot play (it has no residents' actions)."""
    if spec.signal not in _LIVE_SIGNALS:
        raise ScenarioError(
            f"{spec.name}: the broker path plays day-ahead, OpenADR and UFTP "
            f"evenings, not {spec.signal.value}"
        )
    if spec.opt_outs or spec.offline:
        raise ScenarioError(
            f"{spec.name}: the broker path has no opt-outs or lost connections"
        )


async def run_live_check(result: ScenarioResult, *, speed: float) -> LiveCheck:
    """Run ``result``'s scenario through the broker path with the same rating and cap."""
    spec = result.spec
    check_live_allowed(spec)
    began = time.perf_counter()
    scenario = spec.neighbourhood()
    broker: MosquittoBroker | EmbeddedBroker
    # amqtt has no shared subscriptions; one aggregator subscribes plainly.
    broker, group = (
        (MosquittoBroker(), "dacs")
        if mosquitto_binary() is not None
        else (EmbeddedBroker(), "")
    )
    broker.start()
    try:
        live = await run_live(
            scenario,
            broker_host="127.0.0.1",
            broker_port=broker.port,
            shared_group=group,
            speed=speed,
            cap_kw=result.cap_kw,
            rated_kw=result.rated_kw,
            grid_signal=_LIVE_SIGNALS[spec.signal],
            expected_kw=_event_isp_means(result),
            profile=asked_profile(spec, result.requested_kw),
        )
    finally:
        broker.cleanup()
    event = live.event or event_profile(scenario, result.cap_kw, result.rated_kw)
    compliance = event_compliance(scenario, live.trace, event, result.rated_kw)
    uncontrolled = run_uncontrolled(scenario)
    fast = result.ours
    live_by_start = {isp.start: isp for isp in compliance.isps if isp.samples}
    gaps = [
        abs(isp.average_w - live_by_start[isp.start].average_w) / 1000
        for isp in fast.compliance.isps
        if isp.start in live_by_start
    ]
    return LiveCheck(
        name=spec.name,
        fast_isps_over=fast.isps_over,
        fast_share_minutes_over=fast.compliance.share_minutes_over,
        fast_extra_gas_m3=fast.extra_gas_m3,
        live=compliance,
        live_extra_gas_m3=live.trace.gas_m3 - uncontrolled.gas_m3,
        largest_isp_gap_kw=max(gaps, default=0.0),
        isps_compared=len(gaps),
        commands_sent=live.commands_sent,
        runtime_s=time.perf_counter() - began,
    )


def asked_profile(
    spec: ScenarioSpec, requested_kw: Sequence[float]
) -> CapacityEnvelope:
    """What the fast path's grid operator asked per ISP, for the broker path's to send.

    The broker path's operator sends it as its signal (a profile, an OpenADR
    event's caps, a UFTP request for the prognosis less it), so both paths'
    adapters make their caps from the same ask.
    """
    if not requested_kw:
        raise ScenarioError(f"{spec.name}: the grid operator asked no caps")
    begin, _ = spec.neighbourhood().event_window
    return CapacityEnvelope.day_ahead(
        "scenario-ask",
        begin,
        [kw * 1000 for kw in requested_kw],
        origin="scenario",
    )


def _event_isp_means(result: ScenarioResult) -> list[float]:
    """The uncontrolled load per ISP of the event: what the grid operator expects."""
    start, end = (int(m) for m in result.event_minutes)
    load = result.load_kw["none"][start:end]
    quarters = len(load) // 15
    return [float(np.mean(load[15 * q : 15 * (q + 1)])) for q in range(quarters)]


def format_live_checks(checks: list[LiveCheck]) -> list[str]:
    """The report's section: the fast path against the broker path."""
    if not checks:
        return []
    lines = [
        "## Through the real broker path",
        "",
        (
            "The same evenings again as the demo runs them: a real MQTT broker, "
            "the aggregator service and one home controller per home over Modbus "
            "TCP, in accelerated time. The largest ISP gap is the largest "
            "difference between the two paths' ISP means during the event."
        ),
        "",
        (
            "| scenario | ISPs over (fast / broker) | minutes over (fast / broker) "
            "| extra gas m³ (fast / broker) | largest ISP gap | commands | run time |"
        ),
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {c.name} | {c.fast_isps_over} / {c.live.isps_over} "
        f"| {100 * c.fast_share_minutes_over:.1f} % / "
        f"{100 * c.live_share_minutes_over:.1f} % "
        f"| {c.fast_extra_gas_m3:.1f} / {c.live_extra_gas_m3:.1f} "
        f"| {c.largest_isp_gap_kw:.1f} kW ({c.isps_compared} ISPs) "
        f"| {c.commands_sent} | {c.runtime_s:.0f} s |"
        for c in checks
    ]
    lines.append("")
    return lines
