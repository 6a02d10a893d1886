"""A TCP proxy on a free loopback port that a test can cut, as a network partition would.

Put in front of PostgreSQL it cuts one aggregator instance off from the
database while the process runs on: ``cut()`` closes the connections through
it and holds every new one open without forwarding a byte, so the client
neither gets an answer nor a quick refusal (the way a partition looks from
the inside, until a timeout). ``mend()`` lets new connections through again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from .ports import find_free_port

_LOGGER = logging.getLogger(__name__)
_CHUNK = 65536


class TcpProxy:
    """Forwards ``127.0.0.1:port`` to ``target_host:target_port`` until cut."""

    def __init__(self, target_port: int, *, target_host: str = "127.0.0.1") -> None:
        """Prepare; start() listens."""
        self.target_host = target_host
        self.target_port = target_port
        self.port = find_free_port()
        self.cut_off = False
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._held: set[asyncio.StreamWriter] = set()
        self._mended = asyncio.Event()
        self._mended.set()

    async def start(self) -> None:
        """Listen on the free port."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def stop(self) -> None:
        """Stop listening and close every connection."""
        self._drop_all()
        self._mended.set()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def cut(self) -> None:
        """Close what passes now; hold what comes next, silent, until mend()."""
        self.cut_off = True
        self._mended.clear()
        self._drop_all()
        _LOGGER.info("proxy to port %d cut", self.target_port)

    def mend(self) -> None:
        """Let new connections through again (the held ones are closed)."""
        self.cut_off = False
        for writer in list(self._held):
            writer.close()
        self._held.clear()
        self._mended.set()

    def _drop_all(self) -> None:
        for writer in list(self._writers):
            with contextlib.suppress(Exception):
                writer.transport.abort()
        self._writers.clear()

    async def _accept(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if self.cut_off:
            self._held.add(writer)
            await self._mended.wait()
            self._held.discard(writer)
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(
                self.target_host, self.target_port
            )
        except OSError as err:
            _LOGGER.warning("proxy could not reach its target: %s", err)
            writer.close()
            return
        self._writers |= {writer, up_writer}
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            for end in (writer, up_writer):
                self._writers.discard(end)
                end.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until either side ends; then end the other."""
    try:
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.transport.abort()
