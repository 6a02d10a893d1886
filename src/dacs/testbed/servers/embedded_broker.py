"""An in-process MQTT broker for machines without Mosquitto (``make demo`` only).

amqtt speaks MQTT 3.1.1, which is what our clients use, but it has no shared
subscriptions: the aggregator must subscribe without a ``$share`` group
(``MqttConfig.shared_group = ""``), so only one aggregator instance can run
against it. It runs on its own thread and event loop, so its work is not
interleaved with the demo's homes and aggregator on theirs, and it offers the
same start/stop/cleanup surface as :class:`MosquittoBroker`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from typing import Any

from .errors import ServiceStartError
from .lifecycle import ThrowawayService
from .ports import LOOPBACK, find_free_port, wait_for_port

_LOGGER = logging.getLogger(__name__)

# The plugins amqtt loads by default log every packet and publish $SYS topics;
# the demo needs neither, and anonymous access on loopback only.
_PLUGINS: dict[str, dict[str, Any]] = {
    "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True},
}


class EmbeddedBroker(ThrowawayService):
    """Run an amqtt broker on 127.0.0.1 in a background thread."""

    def __init__(self, *, port: int | None = None) -> None:
        """Prepare a broker; nothing runs until start()."""
        self.port = port or find_free_port()
        self.host = LOOPBACK
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped: asyncio.Event | None = None
        self._failure: BaseException | None = None

    @property
    def running(self) -> bool:
        """True while the broker's thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = 10.0) -> None:
        """Start the broker and wait until it accepts connections."""
        if self.running:
            return
        started = threading.Event()
        self._failure = None
        self._thread = threading.Thread(
            target=self._serve,
            args=(started,),
            name="dacs-embedded-broker",
            daemon=True,
        )
        self._thread.start()
        if not started.wait(timeout) or self._failure is not None:
            self.stop()
            raise ServiceStartError(
                f"the embedded MQTT broker did not start on port {self.port}: "
                f"{self._failure or 'timed out'}"
            )
        if not wait_for_port(self.port, timeout):
            self.stop()
            raise ServiceStartError(
                f"the embedded MQTT broker does not accept connections on port {self.port}"
            )

    def _serve(self, started: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._run(started))
        except Exception as err:  # reported to start() and logged
            self._failure = err
            _LOGGER.exception("embedded MQTT broker failed")
            started.set()
        finally:
            loop.close()

    async def _run(self, started: threading.Event) -> None:
        # Imported here: amqtt is only needed where Mosquitto is missing.
        from amqtt.broker import Broker  # type: ignore[import-untyped]  # noqa: PLC0415 - amqtt ships no type hints; only needed without Mosquitto

        self._stopped = asyncio.Event()
        broker = Broker(
            {
                "listeners": {
                    "default": {"type": "tcp", "bind": f"{LOOPBACK}:{self.port}"}
                },
                "plugins": _PLUGINS,
            }
        )
        await broker.start()
        started.set()
        try:
            await self._stopped.wait()
        finally:
            await broker.shutdown()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the broker and wait for its thread to end."""
        loop, stopped, thread = self._loop, self._stopped, self._thread
        if loop is not None and stopped is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(stopped.set)
        if thread is not None:
            thread.join(timeout)
        self._thread = None

    def cleanup(self) -> None:
        """Stop; the embedded broker keeps no files."""
        self.stop()
