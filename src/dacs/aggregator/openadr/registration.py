"""The VEN on the VTN: its VEN object, and the homes registered as its resources.

The VEN object is named by the service provider's EAN13. Each enrolled home
behind a congestion point the grid operator has a resource group for becomes
a resource (named by the home id, with its EAN18); the VEN asks the group to
take it (RESOURCE_REGISTRATION, citing the reporting anchor event) and stores
the REGISTRATION_STATUS the grid operator gives it. Only ENROLLED homes are
offered; every step is stored, so a poll picks up where the last one stopped.
"""

from __future__ import annotations

from datetime import datetime
import logging

from dacs.aggregator.storage.tables import OpenAdrResourceRow

from . import nlflex_profile, reports
from .client import VtnClient
from .config import OpenAdrConfig
from .errors import VtnError
from .identifiers import is_ean18
from .ledger import OpenAdrLedger
from .monitoring import OnceWarnings, OpenAdrCounters
from .plans import ResourceGroupView
from .programs import EventRef
from .report_sender import ReportSender
from .reports import RegistrationStatus

_LOGGER = logging.getLogger(__name__)


class Registration:
    """Keeps the VEN object and the homes' resources on the VTN in step with ours."""

    def __init__(
        self,
        config: OpenAdrConfig,
        client: VtnClient,
        ledger: OpenAdrLedger,
        *,
        sender: ReportSender,
        counters: OpenAdrCounters,
        warnings: OnceWarnings,
    ) -> None:
        """Registration reports go out through ``sender`` (the profile's gate)."""
        self._config = config
        self._client = client
        self._ledger = ledger
        self._sender = sender
        self._counters = counters
        self._warnings = warnings
        self._map = config.congestion_point_map
        self._ven_id: str | None = None

    async def ensure_ven(self) -> str:
        """The VEN object's id on the VTN, created (named by our EAN13) if need be."""
        if self._ven_id is not None:
            return self._ven_id
        name = self._config.service_provider_ean
        ven = await self._client.ven_named(name)
        if ven is None:
            request = reports.ven_request(name)
            problems = nlflex_profile.violations(request)
            if problems:  # pragma: no cover - config.check() verified the EAN13
                raise VtnError(f"the VEN object is not NL-flex compliant: {problems}")
            ven = await self._client.create_ven(request)
            _LOGGER.info("created OpenADR VEN %s (%s)", ven.id, name)
        self._ven_id = ven.id
        return ven.id

    async def sync_resources(
        self,
        ven_id: str,
        groups: dict[str, ResourceGroupView],
        anchor: EventRef | None,
        now: datetime,
    ) -> None:
        """Register new homes, ask their groups to take them, read their status."""
        group_of_point = {
            self._map[g.grid_congestion_point_id]: g
            for g in groups.values()
            if g.grid_congestion_point_id in self._map
        }
        rows = await self._ledger.resources()
        on_vtn = {r.resource_name: r for r in await self._client.resources(ven_id)}
        for home in await self._ledger.enrolled_homes():
            group = group_of_point.get(home.congestion_point_id)
            if group is None or home.id in rows:
                continue
            if not is_ean18(home.ean):
                self._warnings.warn(
                    _LOGGER,
                    f"ean:{home.id}:{home.ean}",
                    "home %s is not offered over OpenADR: %r is not a valid EAN18",
                    home.id,
                    home.ean,
                )
                continue
            existing = on_vtn.get(home.id)
            if existing is None:
                request = reports.home_resource(
                    ven_id=ven_id,
                    home_id=home.id,
                    ean=str(home.ean),
                    dso_ean=self._config.dso_ean,
                    flex_type=self._config.flex_type,
                )
                problems = nlflex_profile.violations(request)
                if problems:
                    self._warnings.warn(
                        _LOGGER,
                        f"resource:{home.id}",
                        "home %s is not offered over OpenADR: %s",
                        home.id,
                        "; ".join(problems),
                    )
                    continue
                existing = await self._client.create_resource(request)
                self._counters.resources_created += 1
            row = OpenAdrResourceRow(
                home_id=home.id,
                resource_id=existing.id,
                ean=str(home.ean),
                congestion_point_id=home.congestion_point_id,
                group_id=group.object_id,
            )
            await self._ledger.add_resource(row)
            rows[home.id] = row
        await self._request_registration(rows, anchor, now)
        await self._read_registration(ven_id, rows, now)

    async def _request_registration(
        self,
        rows: dict[str, OpenAdrResourceRow],
        anchor: EventRef | None,
        now: datetime,
    ) -> None:
        waiting: dict[str, list[OpenAdrResourceRow]] = {}
        for row in rows.values():
            if row.registration_requested_at is None and row.group_id is not None:
                waiting.setdefault(row.group_id, []).append(row)
        if not waiting:
            return
        if anchor is None:
            self._warnings.warn(
                _LOGGER,
                "anchor",
                "no reporting anchor event in the NL-flex program yet: "
                "%d home(s) wait for registration",
                sum(len(v) for v in waiting.values()),
            )
            return
        for group_id, members in waiting.items():
            report = reports.registration(
                anchor_event_id=anchor.event_id,
                client_name=self._config.service_provider_ean,
                group_object_id=group_id,
                resource_ids=[m.resource_id for m in members],
            )
            if await self._sender.send(report, program_id=anchor.program_id):
                for member in members:
                    await self._ledger.update_resource(
                        member.home_id, registration_requested_at=now
                    )
                    member.registration_requested_at = now

    async def _read_registration(
        self, ven_id: str, rows: dict[str, OpenAdrResourceRow], now: datetime
    ) -> None:
        by_resource = {row.resource_id: row for row in rows.values()}
        for resource in await self._client.resources(ven_id):
            row = by_resource.get(resource.id)
            if row is None:
                continue
            problems = nlflex_profile.violations(resource)
            if problems:
                self._warnings.warn(
                    _LOGGER,
                    f"resource-status:{resource.id}:{resource.modification_date_time}",
                    "ignoring the registration status of %s: %s",
                    row.home_id,
                    "; ".join(problems),
                )
                continue
            status, reason = reports.registration_status(resource)
            value = status.value if status else None
            if value == row.registration_status and reason == row.rejected_reason:
                continue
            await self._ledger.update_resource(
                row.home_id,
                registration_status=value,
                rejected_reason=reason,
                status_at=now,
            )
            row.registration_status, row.rejected_reason = value, reason
            if status is RegistrationStatus.REJECTED:
                _LOGGER.warning(
                    "the grid operator rejected home %s (%s): it is not offered",
                    row.home_id,
                    reason,
                )
            else:
                _LOGGER.info("home %s registration status: %s", row.home_id, value)
