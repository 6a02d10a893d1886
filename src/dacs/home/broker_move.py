"""A home that connects to the central broker itself follows a broker move.

The move names the new broker (docs/protocol.md, broker move); the account
and the topics stay the same. Behind the DACS Connect add-on the home talks
to its own broker and the add-on moves the bridge instead
(``dacs.connect.broker_follow``); this module is for a home that holds the
connection to the central broker (the testbed's homes, a home without the
add-on).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
import ssl

from dacs.protocol import Ack, AckReason, AckResult, BrokerAddress

from .mqtt_link import BrokerSettings


class BrokerMoveError(ValueError):
    """The move cannot be followed; the message says why."""


def settings_after_move(
    current: BrokerSettings, broker: BrokerAddress
) -> BrokerSettings | None:
    """The link's settings on ``broker``; None when the home is there already."""
    wants_tls = broker.tls
    if (
        current.host == broker.host
        and current.port == broker.port
        and (current.tls is not None) == wants_tls
    ):
        return None
    return replace(current, host=broker.host, port=broker.port, tls=_tls(broker))


def _tls(broker: BrokerAddress) -> ssl.SSLContext | None:
    if not broker.tls:
        return None
    try:
        if broker.ca_certificate:
            return ssl.create_default_context(cadata=broker.ca_certificate)
        return ssl.create_default_context()
    except (ssl.SSLError, ValueError) as err:
        raise BrokerMoveError(
            f"the CA certificate of broker {broker.broker_id} cannot be read: {err}"
        ) from err


def move_answer(
    home_id: str, move_id: str, now: datetime, refused: str | None = None
) -> Ack:
    """The ack of a move (its move id as command id): accepted, or refused with why."""
    return Ack(
        home_id=home_id,
        command_id=move_id,
        ts=now,
        result=AckResult.ACCEPTED if refused is None else AckResult.REJECTED,
        reason_code=AckReason.OK if refused is None else AckReason.MALFORMED,
        detail="" if refused is None else refused,
    )
