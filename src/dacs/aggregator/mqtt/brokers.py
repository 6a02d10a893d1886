"""Links to every central broker; each message goes to the broker its home uses.

Homes are spread over several brokers (domain/broker_assignment.py); one
aggregator instance holds a link to each broker its homes use. Ingest needs
no routing: every link subscribes to every home's topics (with a shared
subscription, so instances split the ingest) and a home only speaks on its
own broker. Publishing does: the registry's broker of each home is kept
here, and a message for a home goes out on that broker's link. The links
keep their own publish window, reconnect and outbox signal; one broker down
leaves the others working, its messages come back unconfirmed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
import contextlib
from dataclasses import replace
import logging

from dacs.aggregator.config import MqttConfig
from dacs.protocol import Channel, Message, Receipt

from .link import AggregatorLink, Delivery, IngestCounters, MessageSink, home_quarantine

_LOGGER = logging.getLogger(__name__)


class BrokerLinks:
    """One ``AggregatorLink`` per broker, used as one link."""

    def __init__(
        self,
        config: MqttConfig,
        sink: MessageSink,
        *,
        on_connect: Callable[[], Awaitable[None]] | None = None,
        publish_window: int,
        publish_timeout_s: float,
    ) -> None:
        """A link for every broker in ``config.endpoints``; run() connects them all."""
        self.quarantine = home_quarantine(config)
        endpoints = config.endpoints
        self.links = {
            endpoint.broker_id: AggregatorLink(
                replace(config, host=endpoint.host, port=endpoint.port, brokers=()),
                sink,
                on_connect=on_connect,
                publish_window=publish_window,
                publish_timeout_s=publish_timeout_s,
                quarantine=self.quarantine,
            )
            for endpoint in endpoints
        }
        self.default_broker = endpoints[0].broker_id
        self._broker_of: dict[str, str] = {}
        # The links this instance runs: every broker until need() narrows it.
        self._running: dict[str, asyncio.Task[None]] = {}
        self._needed = set(self.links)
        self._group: asyncio.TaskGroup | None = None

    # -- where homes are ----------------------------------------------------------

    def assign(self, home_id: str, broker_id: str) -> None:
        """From now on publish to ``home_id`` on ``broker_id``.

        A broker no longer configured keeps the home on the first broker
        (logged): it must be moved or enrolled again.
        """
        if broker_id not in self.links:
            _LOGGER.warning(
                "home %s uses broker %s, which is not configured: its messages "
                "go to broker %s",
                home_id,
                broker_id,
                self.default_broker,
            )
            return
        self._broker_of[home_id] = broker_id

    def broker_of(self, home_id: str) -> str:
        """The broker ``home_id`` uses (the first one for a home not assigned)."""
        return self._broker_of.get(home_id, self.default_broker)

    def link_of(self, home_id: str) -> AggregatorLink:
        """The link a message for ``home_id`` goes out on."""
        return self.links[self.broker_of(home_id)]

    # -- the link interface ---------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while at least one broker is connected (the others' messages wait)."""
        return any(link.connected for link in self.links.values())

    @property
    def all_connected(self) -> bool:
        """True while every broker this instance uses is connected."""
        return all(self.links[broker].connected for broker in self.in_use)

    @property
    def in_use(self) -> frozenset[str]:
        """The brokers this instance connects to now."""
        return frozenset(self._needed)

    @property
    def counters(self) -> IngestCounters:
        """What arrived over every broker, and what was refused."""
        total = IngestCounters()
        for link in self.links.values():
            total.received += link.counters.received
            total.refused += link.counters.refused
            total.wrong_home += link.counters.wrong_home
        return total

    async def wait_connected(self, within_s: float) -> bool:
        """Wait until every broker in use is connected; False when ``within_s`` passes first."""
        results = await asyncio.gather(
            *(self.links[broker].wait_connected(within_s) for broker in self.in_use)
        )
        return all(results)

    async def need(self, broker_ids: Iterable[str]) -> None:
        """Connect to exactly these brokers (at least the first one), leave the others.

        For an instance in a cluster: the brokers of the homes of the points
        it owns. One broker always stays, so an instance that owns nothing
        yet still takes its part of the ingest and counts as connected.
        """
        wanted = {broker for broker in broker_ids if broker in self.links}
        wanted = wanted or {self.default_broker}
        if wanted == self._needed:
            return
        gone, self._needed = self._needed - wanted, wanted
        if added := wanted - gone - set(self._running):
            _LOGGER.info("connecting to broker(s) %s", ", ".join(sorted(added)))
        for broker in gone:
            _LOGGER.info("leaving broker %s: no point of ours uses it", broker)
            await self.links[broker].leave()
            if (task := self._running.pop(broker, None)) is not None:
                task.cancel()
        self._start_needed()

    async def publish(self, message: Message, *, retain: bool = False) -> None:
        """Publish on the home's broker and wait for its PUBACK (see AggregatorLink)."""
        await self.link_of(message.home_id).publish(message, retain=retain)

    async def publish_all(
        self, messages: Sequence[Message], *, retain: bool = False
    ) -> Delivery:
        """Publish on each home's broker, all brokers at once; merge the outcomes."""
        groups = self._by_link(messages)
        deliveries = await asyncio.gather(
            *(link.publish_all(group, retain=retain) for link, group in groups)
        )
        return Delivery(
            confirmed=tuple(m for d in deliveries for m in d.confirmed),
            unconfirmed=tuple(m for d in deliveries for m in d.unconfirmed),
            failed=tuple(m for d in deliveries for m in d.failed),
        )

    async def publish_receipts(self, receipts: Sequence[Receipt]) -> int:
        """Receipts at QoS 0 on each home's broker; how many left for a broker."""
        sent = await asyncio.gather(
            *(link.publish_receipts(group) for link, group in self._by_link(receipts))
        )
        return sum(sent)

    async def clear_retained(
        self, home_id: str, channel: Channel, *, broker_id: str | None = None
    ) -> None:
        """Remove a retained message on ``broker_id`` (the home's broker by default)."""
        link = self.links[broker_id] if broker_id else self.link_of(home_id)
        await link.clear_retained(home_id, channel)

    async def run(self) -> None:
        """Run the links in use until cancelled; need() changes which."""
        async with asyncio.TaskGroup() as group:
            self._group = group
            try:
                self._start_needed()
                await asyncio.Event().wait()  # until cancelled
            finally:
                self._group = None
                self._running.clear()

    def _start_needed(self) -> None:
        if self._group is None:
            return  # run() starts them
        for broker in sorted(self._needed - set(self._running)):
            self._running[broker] = self._group.create_task(
                _until_cancelled(self.links[broker].run()), name=f"dacs-broker-{broker}"
            )

    def _by_link[M: Message](
        self, messages: Iterable[M]
    ) -> list[tuple[AggregatorLink, list[M]]]:
        groups: dict[str, list[M]] = {}
        for message in messages:
            groups.setdefault(self.broker_of(message.home_id), []).append(message)
        return [(self.links[broker], group) for broker, group in groups.items()]


async def _until_cancelled(work: Awaitable[None]) -> None:
    """A link stopped by need() ends quietly, without ending the group."""
    with contextlib.suppress(asyncio.CancelledError):
        await work
