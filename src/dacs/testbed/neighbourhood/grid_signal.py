"""Where the demo's congestion evening comes from: a built-in profile, OpenADR 3 or UFTP.

Each grid operator stand-in configures the aggregator (the OpenADR VEN or the
UFTP endpoint), starts its peer on 127.0.0.1, and at the right simulated time
sends its signal the way a real grid operator would. The aggregator's own
adapter turns that signal into the cap event the control loop works with;
the demo only waits until that event is in force, and reports it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
import contextlib
from dataclasses import dataclass, replace
from datetime import timedelta
from enum import StrEnum
import logging
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from dacs.aggregator.clock import Clock
from dacs.aggregator.config import AggregatorConfig
from dacs.aggregator.domain.envelope import CapacityEnvelope
from dacs.aggregator.grid_port import GridPort
from dacs.aggregator.openadr.config import OpenAdrConfig
from dacs.aggregator.openadr.identifiers import with_check_digit
from dacs.aggregator.uftp.config import UFTP_PATH, UftpConfig
from dacs.aggregator.uftp.isp import isp_at
from dacs.aggregator.uftp.keys import generate_keypair

if TYPE_CHECKING:
    from shapeshifter_uftp import FlexOffer, FlexOrder

    from dacs.testbed.grid_peers.gopacs_dso import GopacsDso

_LOGGER = logging.getLogger(__name__)

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
SERVICE_PROVIDER_EAN = with_check_digit("871234567890")  # the demo's own EAN13
GRID_CONGESTION_POINT = "CP-DEMO-STREET"  # the grid operator's name for the transformer
UFTP_CONGESTION_POINT = "ean.871687140000000019"
DSO_DOMAIN = "dso.demo.dacs-hw.invalid"
AGR_DOMAIN = "agr.demo.dacs-hw.invalid"


class GridSignal(StrEnum):
    """How the grid operator asks for the evening's flexibility."""

    PROFILE = "profile"  # a day-ahead capacity profile put in by the operator API
    OPENADR = "openadr"  # an IMPORT_CAPACITY_LIMIT event from the DSO's VTN
    UFTP = "uftp"  # a GOPACS FlexRequest, offered and ordered


@dataclass(frozen=True, kw_only=True)
class GridRequest:
    """What the grid operator wants: the day-ahead caps and the load it expects."""

    profile: CapacityEnvelope  # the cap per 15 minutes
    expected_kw: Sequence[float]  # the uncontrolled load per 15 minutes of the profile

    def reduction_kw(self) -> list[float]:
        """Per interval: how far the expected load is over the cap."""
        return [
            max(0.0, expected - interval.cap_w / 1000)
            for expected, interval in zip(
                self.expected_kw, self.profile.intervals, strict=True
            )
        ]


class GridOperator(ABC):
    """A grid operator stand-in for the demo."""

    signal: GridSignal
    description: str

    async def setup(
        self, config: AggregatorConfig, *, point_id: str, workdir: Path, api_port: int
    ) -> AggregatorConfig:
        """Start the operator's peer; return the aggregator's configuration for it."""
        del point_id, workdir, api_port
        return config

    async def stop(self) -> None:  # noqa: B027 - most operators have nothing to stop
        """Stop the operator's peer."""

    @abstractmethod
    async def announce(
        self, service: GridPort, point_id: str, request: GridRequest
    ) -> CapacityEnvelope:
        """Send the signal; return the cap event the aggregator put in force."""

    async def settle(
        self,
        service: GridPort,
        point_id: str,
        delivered_kw: Sequence[float],
    ) -> str | None:
        """After the evening: the operator's own settlement, described in one line."""
        del service, point_id, delivered_kw
        return None


async def wait_for_event(
    service: GridPort,
    point_id: str,
    origin: str,
    clock: Clock,
    *,
    within_s: float,
) -> CapacityEnvelope:
    """The first envelope in force on ``point_id`` whose origin starts with ``origin``."""
    waited = 0.0
    while True:
        for envelope in service.envelopes(point_id):
            if envelope.origin.startswith(origin):
                return envelope
        if waited >= within_s:
            raise TimeoutError(
                f"no envelope from {origin} came into force on {point_id} "
                f"within {within_s:.0f} simulated seconds"
            )
        await clock.sleep(5.0)
        waited += 5.0


class BuiltInProfile(GridOperator):
    """The operator's day-ahead profile, entered through the aggregator's API."""

    signal = GridSignal.PROFILE
    description = "day-ahead capacity profile entered by the operator"

    async def announce(
        self, service: GridPort, point_id: str, request: GridRequest
    ) -> CapacityEnvelope:
        """Store the profile as an event."""
        envelope = replace(request.profile, origin="demo")
        await service.put_in_force(point_id, envelope)
        return envelope


class OpenAdrOperator(GridOperator):
    """A DSO that publishes the evening's capacity limit on its OpenADR 3 VTN."""

    signal = GridSignal.OPENADR
    description = "OpenADR 3 IMPORT_CAPACITY_LIMIT event from the DSO's VTN"

    def __init__(
        self, clock: Clock, *, strict: bool = False, version: str = "3.1.0"
    ) -> None:
        """Prepare the VTN (it starts with start()); ``strict``: a specification-literal one.

        ``version`` is the OpenADR version the VTN speaks (3.1.0 or 3.0.1);
        the VEN finds it out itself (``openadr.version = auto``).
        """
        # The peers import their protocol libraries: only in the mode that needs them.
        from dacs.testbed.grid_peers.openadr_vtn import OpenAdrTestVtn  # noqa: PLC0415

        self._clock = clock
        self.vtn = OpenAdrTestVtn(
            strict=strict, version="3.0.1" if version == "3.0.1" else "3.1.0"
        )
        self.program_id = ""

    async def stop(self) -> None:
        """Stop the VTN."""
        await self.vtn.stop()

    async def setup(
        self, config: AggregatorConfig, *, point_id: str, workdir: Path, api_port: int
    ) -> AggregatorConfig:
        """Serve the VTN with one capacity program; point the aggregator's VEN at it."""
        from dacs.testbed.grid_peers.openadr_vtn import capacity_program  # noqa: PLC0415

        del workdir, api_port
        await self.vtn.start()
        self.program_id = self.vtn.add_program(capacity_program("congestion evening"))
        return replace(
            config,
            openadr=OpenAdrConfig(
                enabled=True,
                vtn_url=self.vtn.base_url,
                token_url=self.vtn.token_url,
                client_id=self.vtn.client_id,
                client_secret=self.vtn.client_secret,
                capacity_program_ids=(self.program_id,),
                service_provider_ean=SERVICE_PROVIDER_EAN,
                congestion_points=(f"{GRID_CONGESTION_POINT}={point_id}",),
                # Simulated seconds: every five simulated minutes.
                poll_interval_s=300.0,
                allow_insecure_http=True,
            ),
        )

    async def announce(
        self, service: GridPort, point_id: str, request: GridRequest
    ) -> CapacityEnvelope:
        """Publish the capacity limit; the VEN picks it up at its next poll."""
        from dacs.testbed.grid_peers.openadr_vtn import capacity_limit_event  # noqa: PLC0415

        self.vtn.add_event(
            capacity_limit_event(
                self.program_id,
                GRID_CONGESTION_POINT,
                start=request.profile.start,
                caps_kw=[i.cap_w / 1000 for i in request.profile.intervals],
            )
        )
        return await wait_for_event(
            service, point_id, "openadr:", self._clock, within_s=3600.0
        )

    async def settle(
        self,
        service: GridPort,
        point_id: str,
        delivered_kw: Sequence[float],
    ) -> str | None:
        """What the VTN received back: reports, and whether the profile accepted them."""
        del service, point_id, delivered_kw
        return (
            f"OpenADR {self.vtn.version}: the VEN read the DSO's capacity limit "
            f"from its VTN "
            f"({self.vtn.requests} requests); reports sent back: "
            f"{len(self.vtn.reports)}, refused by the profile: "
            f"{len(self.vtn.refused_reports)}"
        )


class UftpOperator(GridOperator):
    """A GOPACS-style DSO that requests flexibility over UFTP and orders the offer."""

    signal = GridSignal.UFTP
    description = "GOPACS FlexRequest over UFTP, offered and ordered"

    def __init__(
        self, clock: Clock, *, lead: timedelta = timedelta(minutes=30)
    ) -> None:
        """Prepare keys; the DSO peer starts in setup(), once our endpoint is known."""
        self._clock = clock
        self._lead = lead
        self._dso_secret, self._dso_public = generate_keypair()
        self._agr_secret, self._agr_public = generate_keypair()
        self._dso_port = 0
        self._agr_endpoint = ""
        self._baseline_w: dict[int, int] = {}
        self._first_isp = 0  # the ISP of the profile's first interval
        self.dso: GopacsDso | None = None
        self.orders: list[FlexOrder] = []
        self.ordered_price_eur = 0.0

    async def setup(
        self, config: AggregatorConfig, *, point_id: str, workdir: Path, api_port: int
    ) -> AggregatorConfig:
        """Start the DSO; write our key and the participants file; enable our endpoint."""
        from dacs.testbed.grid_peers.gopacs_dso import GopacsDso  # noqa: PLC0415
        from dacs.testbed.servers import find_free_port  # noqa: PLC0415

        self._dso_port = find_free_port()
        self._agr_endpoint = f"http://127.0.0.1:{api_port}{UFTP_PATH}"
        key_file = workdir / "uftp-agr.key"
        key_file.write_text(self._agr_secret, encoding="utf-8")
        key_file.chmod(0o600)
        participants = workdir / "uftp-participants.toml"
        participants.write_text(
            "[[participant]]\n"
            f'domain = "{DSO_DOMAIN}"\nrole = "DSO"\n'
            f'public_key = "{self._dso_public}"\n'
            f'endpoint = "http://127.0.0.1:{self._dso_port}{UFTP_PATH}"\n',
            encoding="utf-8",
        )
        self.dso = GopacsDso(
            domain=DSO_DOMAIN,
            signing_secret=self._dso_secret,
            agr_domain=AGR_DOMAIN,
            agr_public_key=self._agr_public,
            agr_endpoint=self._agr_endpoint,
            port=self._dso_port,
        )
        await self.dso.start()
        return replace(
            config,
            uftp=UftpConfig(
                enabled=True,
                domain=AGR_DOMAIN,
                signing_key_file=str(key_file),
                participants_file=str(participants),
                congestion_points=(f"{UFTP_CONGESTION_POINT}={point_id}",),
                retry_base_s=0.5,
            ),
        )

    async def stop(self) -> None:
        """Stop the DSO's service."""
        if self.dso is not None:
            await self.dso.stop()

    async def announce(
        self, service: GridPort, point_id: str, request: GridRequest
    ) -> CapacityEnvelope:
        """Shortly before the evening: request the reduction per ISP, order the full offer."""
        from shapeshifter_uftp import FlexOffer  # noqa: PLC0415

        from dacs.testbed.grid_peers.gopacs_dso import RequestedIsp  # noqa: PLC0415

        dso = self.dso
        if dso is None:
            raise RuntimeError("the DSO peer is not running: call start() first")
        send_at = request.profile.start - self._lead
        delay = (send_at - self._clock.now()).total_seconds()
        if delay > 0:
            await self._clock.sleep(delay)
        period, first_isp = isp_at(request.profile.start, AMSTERDAM)
        self._first_isp = first_isp
        isps = [
            RequestedIsp(isp=first_isp + index, reduction_w=round(kw * 1000))
            for index, kw in enumerate(request.reduction_kw())
            if kw > 0
        ]
        # What the DSO expects without the order: its settlement's baseline.
        self._baseline_w = {
            first_isp + index: round(kw * 1000)
            for index, kw in enumerate(request.expected_kw)
        }
        await dso.request_flexibility(
            congestion_point=UFTP_CONGESTION_POINT,
            period=period,
            isps=isps,
            now=self._clock.now(),
        )
        offer = await dso.wait_for(FlexOffer, timeout_s=60)
        order = await dso.order_offer(offer, _fullest_option(offer))
        self.orders.append(order)
        self.ordered_price_eur = float(order.price)
        return await wait_for_event(
            service, point_id, "uftp:", self._clock, within_s=3600.0
        )

    async def settle(
        self,
        service: GridPort,
        point_id: str,
        delivered_kw: Sequence[float],
    ) -> str | None:
        """Send the DSO's FlexSettlement (what its meter saw) and report our answer."""
        from shapeshifter_uftp import FlexSettlementResponse  # noqa: PLC0415

        from dacs.testbed.grid_peers.gopacs_dso import GopacsDso  # noqa: PLC0415

        del service, point_id
        dso = self.dso
        if dso is None or not self.orders:
            return None
        order = self.orders[0]
        # ``delivered_kw`` follows the profile, whose first interval may have
        # asked for nothing (not in the order): number from the profile's ISP.
        delivered = {
            self._first_isp + index: max(0, round(kw * 1000))
            for index, kw in enumerate(delivered_kw)
        }
        period = order.period.to_date()
        await dso.send(
            GopacsDso.settlement_for(
                [(order, delivered)],
                period_start=period,
                period_end=period,
                baseline_w=self._baseline_w,
            )
        )
        ordered = f"the DSO ordered {len(self.orders)} offer(s) for EUR {self.ordered_price_eur:.2f}"
        against = _delivered_against_ordered(order, delivered)
        with contextlib.suppress(TimeoutError):
            answer = await dso.wait_for(FlexSettlementResponse, timeout_s=30)
            dispositions = ", ".join(
                _text(status.disposition)
                + (f" ({status.dispute_reason})" if status.dispute_reason else "")
                for status in answer.flex_order_settlement_statuses
            )
            return (
                f"UFTP: {ordered}, {against}; our FlexSettlementResponse: "
                f"{_text(answer.result)}, order {dispositions or 'none'}"
            )
        return f"UFTP: {ordered}, {against}; no settlement answer"


def _delivered_against_ordered(order: FlexOrder, delivered_w: Mapping[int, int]) -> str:
    """The FlexSettlement's delivered flexibility against the order, in a few words.

    UFTP pays the ordered flexibility: PowerDeficiency counts what fell
    short, and what went beyond the order (the control loop keeps a margin
    under the cap and releases homes gradually as the order steps down) is
    reported as delivered but not paid.
    """
    ordered = {
        number: -isp.power
        for isp in order.isps
        for number in range(isp.start, isp.start + isp.duration)
    }
    got = {number: delivered_w.get(number, 0) for number in ordered}
    beyond = [got[n] - w for n, w in ordered.items() if got[n] > w]
    short = sum(1 for n, w in ordered.items() if got[n] < w)
    text = (
        f"{sum(ordered.values()) / 4000:.1f} kWh in {len(ordered)} ISPs; "
        f"delivered {sum(got.values()) / 4000:.1f} kWh"
    )
    if beyond:
        text += (
            f", beyond the order in {len(beyond)} ISPs (at most {max(beyond)} W "
            "more, not paid)"
        )
    if short:
        text += f", short in {short} ISPs (PowerDeficiency)"
    return text


def _text(value: object) -> str:
    """An xsdata enum or the plain string it sometimes is."""
    return str(getattr(value, "value", value))


def _fullest_option(offer: FlexOffer) -> str:
    """The option offering the most flexibility (the DSO wants all it asked for)."""
    best = max(
        offer.offer_options,
        key=lambda o: sum(abs(i.power) * i.duration for i in o.isps),
    )
    return str(best.option_reference)


def make_operator(
    signal: GridSignal,
    clock: Clock,
    *,
    vtn_strict: bool = False,
    vtn_version: str = "3.1.0",
) -> GridOperator:
    """The stand-in for ``signal`` (``vtn_strict``: the VTN in its strict mode)."""
    if signal is GridSignal.OPENADR:
        return OpenAdrOperator(clock, strict=vtn_strict, version=vtn_version)
    if signal is GridSignal.UFTP:
        return UftpOperator(clock)
    return BuiltInProfile()
