"""A naive baseline: share the measured excess equally over every available home.

What a first attempt at congestion control does, and what ours is measured
against in the same run: no forecast, no ISP budget, no margin, no rebound
planning, no fairness or price. Each cycle it adds the measured excess over
the cap to the reduction it asks for (or takes back what the load is under
it), splits the reduction equally over the homes that may be curtailed, and
sends each home its baseline minus its share. It speaks the same protocol
and the homes keep all their rules (floors, opt-out, comfort, duration).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
import itertools

from dacs.aggregator.control.fleet import Fleet
from dacs.aggregator.control.other_load import OtherLoadAt
from dacs.aggregator.domain.envelope import CapacityEnvelope
from dacs.aggregator.domain.flex_model import Availability
from dacs.protocol import Cancel, Command, CommandReason, PowerInterval

from .grid_signals import POINT_ID, GridAsk, cap_lookup

_ENVELOPE = timedelta(minutes=15)
_MARGIN = timedelta(minutes=5)
_counter = itertools.count()


class EqualShareController:
    """Equal shares of the measured excess, re-sent every cycle."""

    name = "equal_share"

    def __init__(
        self, fleet: Fleet, ask: GridAsk, other_load_at: OtherLoadAt | None = None
    ) -> None:
        """Control ``fleet``'s homes under ``ask``; the naive way needs no forecast."""
        del other_load_at
        self.fleet = fleet
        self._ask = ask
        self._cap_at = cap_lookup(ask)
        self._reduction_w = 0.0
        self._load: float | None = None
        self._limited: dict[str, Command] = {}

    def put_in_force(self, envelope: CapacityEnvelope) -> None:
        """The grid operator's envelope reaches the aggregator."""
        self._cap_at = cap_lookup(replace(self._ask, envelope=envelope))

    def measured(self, at: datetime, load_w: float) -> None:
        """The transformer's load over the last minute."""
        self._load = load_w

    def cycle(self, now: datetime) -> list[Command | Cancel]:
        """One cycle: integrate the excess, split it, send the limits."""
        if self._load is None:
            return []  # each measurement is integrated once
        cap_w = self._cap_at(now)
        self._reduction_w = max(0.0, self._reduction_w + self._load - cap_w)
        self._load = None
        homes = [
            view
            for view in self.fleet.of(POINT_ID)
            if view.availability(now) is Availability.AVAILABLE
        ]
        messages: list[Command | Cancel] = []
        if self._reduction_w <= 0 or not homes:
            for home_id, command in self._limited.items():
                messages.append(
                    Cancel(
                        home_id=home_id, command_id=command.command_id, issued_at=now
                    )
                )
            self._limited.clear()
            return messages
        share = self._reduction_w / len(homes)
        for view in homes:
            limit = max(0.0, (view.baseline_w or 0.0) - share)
            command = Command(
                home_id=view.home_id,
                command_id=f"eq-{view.home_id}-{next(_counter)}"[:64],
                issued_at=now,
                expires_at=now + _ENVELOPE + _MARGIN,
                reason=CommandReason.CONGESTION,
                envelope=(
                    PowerInterval(
                        start=now,
                        duration_s=round(_ENVELOPE.total_seconds()),
                        max_power_w=limit,
                    ),
                ),
            )
            self._limited[view.home_id] = command
            messages.append(command)
        return messages
