"""Incoming commands and cancels: validation, replay protection, the one in force."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
import json
import logging

from dacs.devices import Capabilities, LimitAction, plan_limit
from dacs.protocol import (
    Ack,
    AckReason,
    AckResult,
    Cancel,
    Command,
    Participation,
    ProtocolError,
)

from .arbitration import Decision, Guard, check_guards, decide
from .resident import ResidentSettings

_LOGGER = logging.getLogger(__name__)

# Enough to recognise any replay within a command's lifetime (48 h at most).
_REMEMBERED_COMMANDS = 2048


@dataclass(frozen=True, kw_only=True)
class Arbitration:
    """One step of the home's rules: the decision and the guard state after it."""

    decision: Decision
    curtailed_since: datetime | None
    tripped: Guard | None  # the guard this step tripped, if any


class CommandBook:
    """Keeps the command in force and decides the ack for everything that arrives."""

    def __init__(self, home_id: str) -> None:
        """Start with no command."""
        self.home_id = home_id
        self.current: Command | None = None
        self.current_ack: Ack | None = None
        self.guard = Guard.NONE
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._newest_issued: datetime | None = None
        # The newest ownership epoch of the congestion point seen: a command
        # or cancel from an older epoch comes from an aggregator instance
        # that lost the point (fencing, docs/architecture.md).
        self.newest_epoch: int | None = None
        self.stale_refused = 0

    def in_force(self, now: datetime) -> Command | None:
        """The command in force at ``now`` (None once it has ended)."""
        if self.current is not None and now >= self.current.ends_at:
            return None
        return self.current

    def arbitrate(
        self,
        now: datetime,
        *,
        previous: Decision,
        curtailed_since: datetime | None,
        indoor_temp_c: float | None,
        settings: ResidentSettings,
    ) -> Arbitration:
        """Expire the command, trip the resident's guards, decide the cap."""
        self.expire(now)
        before = self.guard
        check = check_guards(
            now=now,
            decision=previous,
            guard=before,
            curtailed_since=curtailed_since,
            indoor_temp_c=indoor_temp_c,
            settings=settings,
        )
        self.guard = check.guard
        return Arbitration(
            decision=decide(
                now=now,
                settings=settings,
                command=self.in_force(now),
                guard_tripped=self.guard,
            ),
            curtailed_since=check.curtailed_since,
            tripped=check.guard
            if before is Guard.NONE and check.guard is not before
            else None,
        )

    def expire(self, now: datetime) -> Command | None:
        """Forget the current command once it has ended; return it if it just ended."""
        ended = self.current
        if ended is not None and now >= ended.ends_at:
            self._clear()
            return ended
        return None

    def receive(
        self,
        command: Command,
        *,
        now: datetime,
        settings: ResidentSettings,
        capabilities: Capabilities | None,
    ) -> Ack:
        """Decide about a command; the accepted one replaces the one in force."""
        if command.home_id != self.home_id:
            return self._ack(
                command.command_id,
                now,
                AckReason.WRONG_HOME,
                f"command for {command.home_id!r} reached home {self.home_id!r}",
            )
        if (stale := self._stale(command.epoch, command.command_id, now)) is not None:
            return stale
        if self.current is not None and command.command_id == self.current.command_id:
            if command == self.current and self.current_ack is not None:
                return self.current_ack  # a redelivery: the same answer again
            return self._ack(
                command.command_id,
                now,
                AckReason.REPLAYED,
                "a different command with the id of the command in force",
            )
        # A new owner's clock may run behind the old one's: a newer epoch
        # makes the command newer whatever its time says.
        newer_epoch = command.epoch is not None and (
            self.newest_epoch is None or command.epoch > self.newest_epoch
        )
        if command.command_id in self._seen or (
            not newer_epoch
            and self._newest_issued is not None
            and command.issued_at <= self._newest_issued
        ):
            return self._ack(
                command.command_id,
                now,
                AckReason.REPLAYED,
                "not newer than a command this home already received",
            )
        if command.ends_at <= now:
            self._remember(command)
            return self._ack(
                command.command_id,
                now,
                AckReason.EXPIRED,
                f"the command ended at {command.ends_at.isoformat()}",
            )
        if not settings.participating(now):
            self._remember(command)
            reason = (
                AckReason.PAUSED
                if settings.participation is Participation.PAUSED
                else AckReason.OPTED_OUT
            )
            return self._ack(
                command.command_id,
                now,
                reason,
                "the resident does not take part right now",
            )
        self._remember(command)
        self.current = command
        self.guard = Guard.NONE
        self.current_ack = self._acceptance(command, now, capabilities)
        return self.current_ack

    def cancel(self, cancel: Cancel, *, now: datetime) -> Ack:
        """End the command in force early, if the cancel names it."""
        if cancel.home_id != self.home_id:
            return self._ack(
                cancel.command_id,
                now,
                AckReason.WRONG_HOME,
                f"cancel for {cancel.home_id!r} reached home {self.home_id!r}",
            )
        if (stale := self._stale(cancel.epoch, cancel.command_id, now)) is not None:
            return stale
        if self.current is None or cancel.command_id != self.current.command_id:
            return self._ack(
                cancel.command_id,
                now,
                AckReason.UNKNOWN_COMMAND,
                "no command with this id is in force",
            )
        self._see_epoch(cancel.epoch)
        self._clear()
        return Ack(
            home_id=self.home_id,
            command_id=cancel.command_id,
            ts=now,
            result=AckResult.ACCEPTED,
            reason_code=AckReason.CANCELLED,
        )

    def refusal(self, payload: bytes, error: ProtocolError, now: datetime) -> Ack:
        """The ack for a payload that could not be parsed (best-effort command id)."""
        command_id = "unknown"
        try:
            document = json.loads(payload)
            if isinstance(document, dict):
                # A broker move has a move id where a command has its id.
                named = document.get("command_id", document.get("move_id"))
                if isinstance(named, str):
                    command_id = named[:64]
        except ValueError:
            pass
        try:
            reason = AckReason(error.code)
        except ValueError:
            reason = AckReason.MALFORMED
        return self._ack(command_id, now, reason, str(error))

    def withdraw(self) -> Command | None:
        """Drop the command in force (the resident opted out); return it."""
        withdrawn = self.current
        self._clear()
        return withdrawn

    def _acceptance(
        self, command: Command, now: datetime, capabilities: Capabilities | None
    ) -> Ack:
        result, reason, detail = AckResult.ACCEPTED, AckReason.OK, ""
        if capabilities is not None:
            outcomes = {
                plan_limit(i.max_power_w, capabilities).action for i in command.envelope
            }
            floor = capabilities.safety_floor_w
            if LimitAction.GAS_ONLY in outcomes:
                result, reason = AckResult.ACCEPTED_FLOOR_APPLIED, AckReason.GAS_ONLY
                detail = f"below the {floor} W safety floor the heat pump switches to gas-only"
            elif LimitAction.FLOOR_APPLIED in outcomes:
                result, reason = (
                    AckResult.ACCEPTED_FLOOR_APPLIED,
                    AckReason.FLOOR_APPLIED,
                )
                detail = f"limits below {floor} W are raised to the safety floor"
        return Ack(
            home_id=self.home_id,
            command_id=command.command_id,
            ts=now,
            result=result,
            reason_code=reason,
            detail=detail,
        )

    def _ack(
        self, command_id: str, now: datetime, reason: AckReason, detail: str
    ) -> Ack:
        _LOGGER.info("rejected command %s: %s (%s)", command_id, reason.value, detail)
        return Ack(
            home_id=self.home_id,
            command_id=command_id,
            ts=now,
            result=AckResult.REJECTED,
            reason_code=reason,
            detail=detail,
        )

    def _stale(self, epoch: int | None, command_id: str, now: datetime) -> Ack | None:
        """The refusal of a message from an older epoch than the newest seen (None: not stale)."""
        if epoch is None or self.newest_epoch is None or epoch >= self.newest_epoch:
            return None
        self.stale_refused += 1
        _LOGGER.warning(
            "refused %s of epoch %d: epoch %d already seen (an aggregator that "
            "lost the congestion point)",
            command_id,
            epoch,
            self.newest_epoch,
        )
        return self._ack(
            command_id,
            now,
            AckReason.STALE_EPOCH,
            f"epoch {epoch} is older than epoch {self.newest_epoch}",
        )

    def _see_epoch(self, epoch: int | None) -> None:
        if epoch is not None and (
            self.newest_epoch is None or epoch > self.newest_epoch
        ):
            self.newest_epoch = epoch

    def _remember(self, command: Command) -> None:
        self._see_epoch(command.epoch)
        self._seen[command.command_id] = None
        while len(self._seen) > _REMEMBERED_COMMANDS:
            self._seen.popitem(last=False)
        if self._newest_issued is None or command.issued_at > self._newest_issued:
            self._newest_issued = command.issued_at

    def _clear(self) -> None:
        self.current = None
        self.current_ack = None
        self.guard = Guard.NONE
