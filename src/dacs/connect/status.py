"""What the status page shows: a board the service and the monitor write to.

The board holds one immutable snapshot and replaces it on every change, so
a reader always sees a consistent picture. It lives on the event loop;
threads (the MQTT monitor) hand their updates over with
``loop.call_soon_threadsafe``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from dacs import __version__
from dacs.protocol import format_time


class EnrollmentPhase(StrEnum):
    """Where the home stands with enrollment."""

    STARTING = "starting"
    NOT_ENROLLED = "not_enrolled"  # waiting for an enrollment code
    ENROLLING = "enrolling"
    RETRY_WAIT = "retry_wait"  # a temporary failure; trying again later
    FAILED = "failed"  # a permanent failure; waiting for a new code
    ENROLLED = "enrolled"


class UplinkState(StrEnum):
    """The bridge to the central broker, as the home broker reports it."""

    NOT_CONFIGURED = "not_configured"  # no enrollment, so no bridge
    UNKNOWN = "unknown"  # bridge configured, state not (yet) reported
    UP = "up"
    DOWN = "down"


@dataclass(frozen=True, kw_only=True)
class CommandSeen:
    """The last message on the home's command topic."""

    received_at: datetime
    kind: str  # "command", "cancel", "broker_move" or "invalid"
    command_id: str | None = None
    reason: str | None = None
    issued_at: datetime | None = None
    expires_at: datetime | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "received_at": format_time(self.received_at),
            "kind": self.kind,
            "command_id": self.command_id,
            "reason": self.reason,
            "issued_at": _time(self.issued_at),
            "expires_at": _time(self.expires_at),
            "error": self.error,
        }


@dataclass(frozen=True, kw_only=True)
class EnrollmentProblem:
    """The last enrollment failure."""

    at: datetime
    kind: str
    message: str
    temporary: bool
    next_attempt_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "at": format_time(self.at),
            "kind": self.kind,
            "message": self.message,
            "temporary": self.temporary,
            "next_attempt_at": _time(self.next_attempt_at),
        }


@dataclass(frozen=True, kw_only=True)
class StatusSnapshot:
    """Everything the status page shows, at one moment."""

    phase: EnrollmentPhase = EnrollmentPhase.STARTING
    home_id: str | None = None
    enrolled_at: datetime | None = None
    uplink: UplinkState = UplinkState.NOT_CONFIGURED
    uplink_since: datetime | None = None
    local_broker_connected: bool = False
    stored_messages: int | None = None
    retained_messages: int | None = None
    last_command: CommandSeen | None = None
    enrollment_problem: EnrollmentProblem | None = None
    discovery: str = "pending"

    @property
    def enrolled(self) -> bool:
        """True once the home has an identity."""
        return self.home_id is not None

    @property
    def queued_messages(self) -> int | None:
        """Messages held for offline sessions (mostly the bridge's queue).

        Mosquitto reports all stored messages, retained ones included; the
        difference is what waits for delivery.
        """
        if self.stored_messages is None or self.retained_messages is None:
            return None
        return max(0, self.stored_messages - self.retained_messages)

    @property
    def healthy(self) -> bool:
        """True while the service can reach its own broker."""
        return self.local_broker_connected

    def to_dict(self) -> dict[str, Any]:
        """The JSON form served at ``/api/status``."""
        return {
            "version": __version__,
            "healthy": self.healthy,
            "enrolled": self.enrolled,
            "phase": self.phase.value,
            "home_id": self.home_id,
            "enrolled_at": _time(self.enrolled_at),
            "uplink": {"state": self.uplink.value, "since": _time(self.uplink_since)},
            "local_broker_connected": self.local_broker_connected,
            "messages": {
                "stored": self.stored_messages,
                "retained": self.retained_messages,
                "queued": self.queued_messages,
            },
            "last_command": self.last_command.to_dict() if self.last_command else None,
            "last_enrollment_error": (
                self.enrollment_problem.to_dict() if self.enrollment_problem else None
            ),
            "discovery": self.discovery,
        }


class StatusBoard:
    """The current status snapshot and the ways to change it."""

    def __init__(self) -> None:
        """Start with nothing known."""
        self._snapshot = StatusSnapshot()

    @property
    def snapshot(self) -> StatusSnapshot:
        """The current snapshot."""
        return self._snapshot

    def set_phase(self, phase: EnrollmentPhase) -> None:
        """Record the enrollment phase."""
        self._snapshot = replace(self._snapshot, phase=phase)

    def set_enrolled(self, home_id: str, enrolled_at: datetime) -> None:
        """Record the home's identity; the bridge state is not known yet."""
        self._snapshot = replace(
            self._snapshot,
            phase=EnrollmentPhase.ENROLLED,
            home_id=home_id,
            enrolled_at=enrolled_at,
        )
        if self._snapshot.uplink is UplinkState.NOT_CONFIGURED:
            self.set_uplink(UplinkState.UNKNOWN)

    def set_uplink(self, state: UplinkState) -> None:
        """Record the bridge state (and since when it holds)."""
        if state is not self._snapshot.uplink:
            self._snapshot = replace(
                self._snapshot, uplink=state, uplink_since=datetime.now(UTC)
            )

    def set_local_broker(self, *, connected: bool) -> None:
        """Record whether the monitor is connected to the home broker."""
        self._snapshot = replace(self._snapshot, local_broker_connected=connected)
        if not connected and self._snapshot.uplink in (
            UplinkState.UP,
            UplinkState.DOWN,
        ):
            # Without the home broker nothing reports the bridge.
            self.set_uplink(UplinkState.UNKNOWN)

    def set_stored_messages(self, count: int) -> None:
        """Record the home broker's message store count."""
        self._snapshot = replace(self._snapshot, stored_messages=count)

    def set_retained_messages(self, count: int) -> None:
        """Record the home broker's retained message count."""
        self._snapshot = replace(self._snapshot, retained_messages=count)

    def set_last_command(self, command: CommandSeen) -> None:
        """Record the last message on the command topic."""
        self._snapshot = replace(self._snapshot, last_command=command)

    def set_enrollment_problem(self, problem: EnrollmentProblem | None) -> None:
        """Record (or clear) the last enrollment failure."""
        self._snapshot = replace(self._snapshot, enrollment_problem=problem)

    def set_discovery(self, state: str) -> None:
        """Record the outcome of the discovery announcement."""
        self._snapshot = replace(self._snapshot, discovery=state)


def _time(moment: datetime | None) -> str | None:
    return format_time(moment) if moment is not None else None
