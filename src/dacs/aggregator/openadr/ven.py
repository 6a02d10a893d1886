"""The OpenADR 3 VEN of the aggregator: poll the VTN, apply its events, report back.

One poll (every ``poll_interval_s``, default 60 s):

1. make sure the VEN object exists (its name is the service provider's EAN13);
2. read the configured programs and all their events; programs and events
   the profile rejects are refused with a logged, counted, stored reason;
3. register new homes as resources, ask the resource group of their
   congestion point to take them, and store the REGISTRATION_STATUS the grid
   operator returns (only ENROLLED homes are offered);
4. put new event versions in force (``GridPort.put_in_force``) exactly once,
   and cancel those the VTN no longer lists (deleted or replaced);
5. report: ACK for FLEX events, a flex delta for each baseline event,
   DELIVERED_FLEX once a FLEX event's intervals have passed, and changes of
   the resources' operational status.

A failed poll (VTN down, 5xx, bad JSON, no token) changes nothing and is
retried at the next poll: every step is idempotent and keyed in the database.
An optional part the VTN does not offer (404/405/501 from resource groups,
notifiers or report upload) is no failed poll: that capability is turned off
with one warning and a line in ``status``, and the rest goes on, events
first.
When the VTN offers an MQTT notifier (OpenADR 3.1) and ``mqtt_notifier`` is
on, a message on a program's event topic makes the VEN poll at once
(``notifier.py``); the timer keeps polling as the safety net.

``OpenAdrVen`` wires the parts that do this and runs the steps in order:
``polling`` (when to poll), ``programs`` (step 2), ``registration`` (1 and 3),
``event_handling`` (4) and ``report_sender`` (5).
"""

from __future__ import annotations

from datetime import datetime
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dacs.aggregator.domain.delivery import DeliveredFlexSource
from dacs.aggregator.grid_port import GridPort
from dacs.aggregator.supervisor import Supervisor

from .client import RESOURCE_GROUPS, VtnClient
from .config import OpenAdrConfig
from .errors import VtnCapabilityError
from .event_handling import EventHandler
from .ledger import OpenAdrLedger
from .monitoring import OnceWarnings, OpenAdrCounters, VtnStatus
from .plans import ResourceGroupView
from .polling import PollLoop
from .programs import EventRef, ProgramReader, anchor_event
from .registration import Registration
from .report_sender import ReportSender

_LOGGER = logging.getLogger(__name__)


class OpenAdrVen:
    """Polls the grid operator's VTN and turns its events into caps."""

    def __init__(
        self,
        config: OpenAdrConfig,
        port: GridPort,
        *,
        sessions: async_sessionmaker[AsyncSession],
        delivered_flex: DeliveredFlexSource,
        client: VtnClient | None = None,
        supervisor: Supervisor | None = None,
    ) -> None:
        """Check the settings; ``start()`` begins polling (under the service's ``supervisor``)."""
        config.check()
        self.config = config
        self.counters = OpenAdrCounters()
        self.status = VtnStatus()
        self._port = port
        self._ledger = OpenAdrLedger(sessions)
        warnings = OnceWarnings()  # one set for all parts: each warning once
        client = client or VtnClient(
            config,
            client_secret=config.secret(),
            counters=self.counters,
            warnings=warnings,
        )
        self._client = client
        self._programs = ProgramReader(
            config, client, counters=self.counters, warnings=warnings
        )
        self._sender = ReportSender(
            client,
            self._ledger,
            port,
            client_name=config.service_provider_ean,
            delivered_flex=delivered_flex,
            counters=self.counters,
            warnings=warnings,
            status=self.status,
        )
        self._registration = Registration(
            config,
            client,
            self._ledger,
            sender=self._sender,
            counters=self.counters,
            warnings=warnings,
        )
        self._events = EventHandler(
            config, port, self._ledger, counters=self.counters, warnings=warnings
        )
        self._poll_loop = PollLoop(
            config,
            port,
            client,
            poll=self._poll,
            counters=self.counters,
            warnings=warnings,
            status=self.status,
            supervisor=supervisor or Supervisor(),
        )

    @property
    def last_error(self) -> str | None:
        """Why the last poll failed; None once one succeeds."""
        return self._poll_loop.last_error

    @property
    def version(self) -> str | None:
        """The OpenADR version the VTN speaks (3.1.0, 3.0.1); None until it was asked."""
        return self._client.version

    @property
    def last_success(self) -> datetime | None:
        """When a poll last succeeded (the aggregator's clock)."""
        return self._poll_loop.last_success

    async def start(self) -> None:
        """Poll now and then every ``poll_interval_s``; listen to the MQTT notifier."""
        await self._poll_loop.start()

    async def stop(self) -> None:
        """Stop polling; a request in flight is abandoned, not waited for."""
        await self._poll_loop.stop()

    async def poll(self) -> bool:
        """One poll; False (with ``last_error``) when the VTN could not be used.

        Polls never overlap (the timer's and an operator's or a test's), so an
        event is never applied by two of them at once.
        """
        return await self._poll_loop.poll()

    async def _poll(self) -> None:
        now = self._port.now()
        ven_id = await self._registration.ensure_ven()
        fetched = await self._programs.programs()
        groups: dict[str, ResourceGroupView] = {}
        anchor: EventRef | None = None
        if any(program.nlflex for program in fetched):
            anchor = anchor_event(fetched)
            groups = await self._resource_groups()
            if groups:
                await self._registration.sync_resources(ven_id, groups, anchor, now)
        resources = await self._ledger.resources()
        for program in fetched:
            await self._events.apply_program(
                program.program_id,
                nlflex=program.nlflex,
                events=program.events,
                groups=groups,
                resources=resources,
                now=now,
            )
            await self._sender.report_events(program.program_id, resources, now)
        if anchor is not None:
            await self._sender.report_operational_status(anchor, resources, now)

    async def _resource_groups(self) -> dict[str, ResourceGroupView]:
        """The NL-flex resource groups; none (and the capability off) without the extension."""
        if not self.status.offers(RESOURCE_GROUPS):
            return {}
        try:
            return await self._programs.resource_groups()
        except VtnCapabilityError as err:
            self.status.without(_LOGGER, err.capability, str(err))
            return {}
