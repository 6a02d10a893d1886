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
from datetime import datetime, timedelta
import math
import time

import numpy as np
from numpy.typing import NDArray

from dacs.aggregator.domain.compliance import ComplianceReport, IspCompliance
from dacs.aggregator.domain.envelope import ISP, CapacityEnvelope
from dacs.testbed.neighbourhood.counterfactual import run_uncontrolled
from dacs.testbed.neighbourhood.grid_signal import GridSignal
from dacs.testbed.neighbourhood.live import event_profile, run_live
from dacs.testbed.neighbourhood.summary import event_compliance
from dacs.testbed.servers import MosquittoBroker
from dacs.testbed.servers.embedded_broker import EmbeddedBroker
from dacs.testbed.servers.mosquitto import mosquitto_binary

from .spec import ScenarioError, ScenarioSpec, SignalKind
from .suite_run import ScenarioResult

# Two control cycles: a sample this late means a cycle did not run in time.
LAG_LIMIT_S = 60.0

_LIVE_SIGNALS = {
    SignalKind.DAY_AHEAD: GridSignal.PROFILE,
    SignalKind.OPENADR: GridSignal.OPENADR,
    SignalKind.UFTP: GridSignal.UFTP,
}


@dataclass(frozen=True, kw_only=True)
class IspGap:
    """One ISP both paths had under the same cap: how far their means lay apart."""

    start: datetime
    cap_w: float
    fast_w: float
    live_w: float

    @property
    def gap_w(self) -> float:
        """The difference of the two paths' ISP means."""
        return abs(self.fast_w - self.live_w)

    @property
    def share(self) -> float:
        """The gap as a share of the ISP's cap, as a grid operator weighs an excess."""
        return self.gap_w / self.cap_w if self.cap_w > 0 else 0.0


@dataclass(frozen=True, kw_only=True)
class LiveCheck:
    """One scenario on the fast path and on the broker path, side by side."""

    name: str
    fast_isps_over: int
    fast_share_minutes_over: float
    fast_extra_gas_m3: float
    live: ComplianceReport
    live_extra_gas_m3: float
    # Per ISP both paths had under the same cap: |fast - live| ISP mean.
    isp_gaps: tuple[IspGap, ...]
    # Event ISPs in which the broker path's event loop woke more than
    # ``LAG_LIMIT_S`` late: the machine, not the control, set those minutes.
    behind: frozenset[datetime]
    worst_lag_s: float  # in the event, simulated seconds
    commands_sent: int
    runtime_s: float

    @property
    def isps_compared(self) -> int:
        """ISPs both paths had under the same cap."""
        return len(self.isp_gaps)

    @property
    def largest_isp_gap_kw(self) -> float:
        """The largest difference of the two paths' ISP means."""
        return max((g.gap_w for g in self.isp_gaps), default=0.0) / 1000

    @property
    def largest_isp_gap_share(self) -> float:
        """The largest ISP gap as a share of its ISP's cap."""
        return max((g.share for g in self.isp_gaps), default=0.0)

    @property
    def mean_isp_gap_share(self) -> float:
        """The ISP gaps' mean share of their caps, over the ISPs compared."""
        if not self.isp_gaps:
            return 0.0
        return sum(g.share for g in self.isp_gaps) / len(self.isp_gaps)

    @property
    def over_while_on_time(self) -> list[IspCompliance]:
        """Broker-path ISPs over the cap although its event loop kept time in them."""
        return [i for i in self.live.isps if i.over and i.start not in self.behind]

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
    return LiveCheck(
        name=spec.name,
        fast_isps_over=fast.isps_over,
        fast_share_minutes_over=fast.compliance.share_minutes_over,
        fast_extra_gas_m3=fast.extra_gas_m3,
        live=compliance,
        live_extra_gas_m3=live.trace.gas_m3 - uncontrolled.gas_m3,
        isp_gaps=isp_gaps(fast.compliance, compliance),
        behind=_behind(scenario.start, live.lag_s, compliance),
        worst_lag_s=_event_lag_s(result, live.lag_s),
        commands_sent=live.commands_sent,
        runtime_s=time.perf_counter() - began,
    )


def isp_gaps(fast: ComplianceReport, live: ComplianceReport) -> tuple[IspGap, ...]:
    """The ISPs both paths measured under the same cap, side by side.

    An ISP whose caps differ is left out: a gap there says how the caps
    differ, not how faithful the fast path is.
    """
    live_by_start = {isp.start: isp for isp in live.isps if isp.samples}
    return tuple(
        IspGap(
            start=isp.start,
            cap_w=isp.cap_w,
            fast_w=isp.average_w,
            live_w=live_by_start[isp.start].average_w,
        )
        for isp in fast.isps
        if isp.samples
        and isp.start in live_by_start
        and math.isclose(isp.cap_w, live_by_start[isp.start].cap_w, abs_tol=1.0)
    )


def _behind(
    start: datetime, lag_s: NDArray[np.float64], live: ComplianceReport
) -> frozenset[datetime]:
    """The ISPs with a minute sample that woke more than ``LAG_LIMIT_S`` late."""
    late = {
        start + timedelta(minutes=int(minute))
        for minute in np.flatnonzero(lag_s > LAG_LIMIT_S)
    }
    return frozenset(
        isp.start
        for isp in live.isps
        if any(isp.start <= m < isp.start + ISP for m in late)
    )


def _event_lag_s(result: ScenarioResult, lag_s: NDArray[np.float64]) -> float:
    """The broker path's worst lag during the event (simulated seconds)."""
    start, end = (int(m) for m in result.event_minutes)
    return float(lag_s[start:end].max(initial=0.0))


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
            "difference between the two paths' ISP means during the event, over "
            "the ISPs both had under the same cap, in kW and as a share of that "
            "ISP's cap; the mean gap is their average share. On a busy machine "
            "the broker path's event loop can fall behind its accelerated clock; "
            "the ISPs in which a minute's sample woke more than two control "
            "cycles late are counted as behind: the machine set those minutes, "
            "not the control."
        ),
        "",
        (
            "| scenario | ISPs over (fast / broker) | minutes over (fast / broker) "
            "| extra gas m³ (fast / broker) | largest ISP gap | mean ISP gap "
            "| ISPs behind (worst lag) | commands | run time |"
        ),
        "|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {c.name} | {c.fast_isps_over} / {c.live.isps_over} "
        f"| {100 * c.fast_share_minutes_over:.1f} % / "
        f"{100 * c.live_share_minutes_over:.1f} % "
        f"| {c.fast_extra_gas_m3:.1f} / {c.live_extra_gas_m3:.1f} "
        f"| {c.largest_isp_gap_kw:.1f} kW, {100 * c.largest_isp_gap_share:.0f} % "
        f"({c.isps_compared} ISPs) | {100 * c.mean_isp_gap_share:.0f} % "
        f"| {len(c.behind)} ({c.worst_lag_s:.0f} s) "
        f"| {c.commands_sent} | {c.runtime_s:.0f} s |"
        for c in checks
    ]
    lines.append("")
    return lines
