"""The add-on follows a broker move: the stored enrollment names the new broker.

The aggregator moves a home with a ``broker_move`` on its command topic
(docs/protocol.md, broker move). The bridge brings it to the home broker,
where the add-on's monitor sees it; the add-on then stores the enrollment
with the new broker's address, writes the bridge anew and restarts the home
broker. The account, the topics and the bridge's connection name stay the
same, so the home broker's queue for the bridge (telemetry not yet passed
on) survives the restart and goes to the new broker.
"""

from __future__ import annotations

from dataclasses import replace

from dacs.protocol import BrokerMove

from .enrollment_store import StoredEnrollment


class BrokerMoveRefusedError(ValueError):
    """A move this home cannot follow; the message says why."""


def moved_enrollment(
    stored: StoredEnrollment, move: BrokerMove
) -> StoredEnrollment | None:
    """The enrollment on the move's broker; None when the home is there already."""
    response = stored.response
    if move.home_id != response.home_id:
        raise BrokerMoveRefusedError(
            f"broker move {move.move_id} is for home {move.home_id}, "
            f"this is {response.home_id}"
        )
    broker = move.broker
    moved = replace(
        response.mqtt,
        host=broker.host,
        port=broker.port,
        tls=broker.tls,
        # None: the broker's certificate is from a public CA (bridge.py).
        ca_certificate=broker.ca_certificate,
        broker_id=broker.broker_id,
    )
    if moved == response.mqtt:
        return None
    return replace(stored, response=replace(response, mqtt=moved))
