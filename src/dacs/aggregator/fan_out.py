"""Commands out: store a cycle's commands, then publish them through the broker window.

Stored first: a restart between the two finds the command in force and sends
it again instead of forgetting it, and never makes up a second one. What the
broker has not confirmed stays in the outbox and goes again after the
reconnect; the home answers a redelivery of its command in force with the
same ack.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
import logging

from dacs.protocol import Cancel, Command

from .background import BackgroundTasks
from .control.dispatch import DispatchPlan
from .control.loop import CongestionPointControl
from .mqtt.brokers import BrokerLinks
from .mqtt.outbox import Outbox
from .storage.commands import CommandLedger
from .storage.leases import Fence, FencedOutError

_LOGGER = logging.getLogger(__name__)


class CommandFanOut:
    """Stores and publishes commands and cancels; sends again what was not confirmed."""

    def __init__(
        self,
        link: BrokerLinks,
        ledger: CommandLedger,
        *,
        may_send: Callable[[Command | Cancel], bool] = lambda _message: True,
    ) -> None:
        """Publish on ``link``, store in ``ledger``; publish only what ``may_send`` allows."""
        self._link = link
        self._ledger = ledger
        # False for a home whose congestion point this instance no longer
        # owns (or whose lease is near its end): its commands stay unsent.
        self._may_send = may_send
        self.withheld = 0
        # Stored but not confirmed by the broker: sent again after a reconnect.
        self.outbox = Outbox()
        # One fan-out at a time, so a redelivery never overtakes a newer command.
        self._sending = asyncio.Lock()
        self._redeliveries = BackgroundTasks()
        self.commands_sent = 0
        self.cancels_sent = 0
        self.redelivered = 0

    def resume(self, unanswered: Sequence[Command]) -> None:
        """Commands stored but never answered before a restart: send them again."""
        self.outbox.put(list(unanswered))

    async def dispatch(
        self,
        control: CongestionPointControl,
        plan: DispatchPlan,
        *,
        fence: Fence | None = None,
    ) -> None:
        """Store a cycle's commands and cancels in one transaction, then publish them all."""
        messages: list[Command | Cancel] = [*plan.commands, *plan.cancels]
        if not messages and not self.outbox:
            return
        async with self._sending:
            if not self._link.connected:
                # Nothing new is stored or sent: the next cycle plans again,
                # homes release by expiry meanwhile.
                return
            if messages:
                try:
                    await self._ledger.store(plan.commands, plan.cancels, fence=fence)
                except FencedOutError as err:
                    _LOGGER.warning("commands not stored, none sent: %s", err)
                except Exception:
                    _LOGGER.exception("commands not stored; none sent this cycle")
                else:
                    for message in messages:
                        control.sent(message)
                    self.commands_sent += len(plan.commands)
                    self.cancels_sent += len(plan.cancels)
                    self.outbox.put(messages)
            waiting = self.outbox.waiting()
            fresh = {id(m) for m in messages}
            self.redelivered += sum(id(m) not in fresh for m in waiting)
            await self._publish(waiting)

    async def redeliver_after_connect(self) -> None:
        """After a (re)connect, send what the broker never confirmed, off the message loop."""
        if self.outbox:
            self._redeliveries.spawn(self._redeliver(), name="dacs-redeliver")

    async def close(self) -> None:
        """Cancel a redelivery still on its way (the outbox keeps its commands)."""
        await self._redeliveries.close()

    async def _redeliver(self) -> None:
        async with self._sending:
            if not self._link.connected:
                return  # the next connect tries again
            waiting = self.outbox.waiting()
            self.redelivered += len(waiting)
            await self._publish(waiting)

    async def _publish(self, messages: list[Command | Cancel]) -> None:
        """Publish retained through the window; the outbox keeps what is unconfirmed."""
        allowed = [m for m in messages if self._may_send(m)]
        if withheld := [m for m in messages if not self._may_send(m)]:
            # Another instance owns these homes now (or soon): it has the
            # commands in force from the database and sends what is needed.
            self.outbox.delivered(withheld)
            self.withheld += len(withheld)
            _LOGGER.info("%d commands not sent: their point is not ours", len(withheld))
        if not allowed:
            return
        delivery = await self._link.publish_all(allowed, retain=True)
        self.outbox.delivered(delivery.confirmed)
        # Logged by the link; sending them again would fail the same way.
        self.outbox.delivered(delivery.failed)
        if delivery.unconfirmed:
            _LOGGER.warning(
                "%d of %d commands not confirmed by the broker; sending them "
                "again after the reconnect",
                len(delivery.unconfirmed),
                len(allowed),
            )
