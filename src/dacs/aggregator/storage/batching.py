"""Buffer items and write them in batches, by size or age, without losing any.

The message loop must never wait on a commit: the telemetry and ack writers
queue what arrives and a background task writes it. Both keep a failed or
interrupted batch (the service stopping mid-write) and write it again; their
statements are idempotent, so a batch that did commit before the
interruption is harmless the second time.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
import asyncio
import contextlib
import logging
import time

_LOGGER = logging.getLogger(__name__)


class BatchWriter[Item](ABC):
    """Queue items with ``_queue``; ``run()`` writes them with ``_write``."""

    # What the log calls the items ("telemetry rows", "acks").
    noun = "items"

    def __init__(self, *, batch_size: int, flush_s: float) -> None:
        """Write ``batch_size`` items at once, or what is there ``flush_s`` after the first."""
        if batch_size < 1 or flush_s <= 0:
            raise ValueError("batch_size must be at least 1 and flush_s positive")
        self._batch_size = batch_size
        self._flush_s = flush_s
        self._buffer: list[Item] = []
        self._first_at: float | None = None
        self._wake = asyncio.Event()
        self.written = 0
        self.failures = 0

    @property
    def pending(self) -> int:
        """Items not yet written."""
        return len(self._buffer)

    def _queue(self, item: Item) -> None:
        if not self._buffer:
            self._first_at = time.monotonic()
        self._buffer.append(item)
        if len(self._buffer) >= self._batch_size:
            self._wake.set()

    @abstractmethod
    async def _write(self, batch: list[Item]) -> None:
        """Store one batch in one transaction (idempotently)."""

    async def flush(self) -> int:
        """Write everything buffered now; returns the items handed to the database."""
        if not self._buffer:
            return 0
        batch, self._buffer = self._buffer, []
        self._first_at = None
        try:
            await self._write(batch)
        except BaseException as err:
            # Failed, or cancelled mid-write: keep the items, in order, for the
            # next attempt.
            if isinstance(err, Exception):
                self.failures += 1
            self._buffer = batch + self._buffer
            self._first_at = time.monotonic()
            raise
        self.written += len(batch)
        return len(batch)

    def _due(self) -> bool:
        return bool(self._buffer) and (
            len(self._buffer) >= self._batch_size
            or (
                self._first_at is not None
                and time.monotonic() - self._first_at >= self._flush_s
            )
        )

    async def run(self) -> None:
        """Flush by size or age until cancelled, then write what is left."""
        try:
            while True:
                timeout = self._flush_s
                if self._first_at is not None:
                    timeout = max(
                        0.0, self._first_at + self._flush_s - time.monotonic()
                    )
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await self._wake.wait()
                self._wake.clear()
                if self._due():
                    try:
                        await self.flush()
                    except Exception:
                        _LOGGER.exception("%s not written; retrying", self.noun)
                        await asyncio.sleep(min(self._flush_s, 1.0))
        finally:
            if self._buffer:
                try:
                    await asyncio.shield(self.flush())
                except Exception:
                    _LOGGER.exception(
                        "%d %s not written on stopping", self.pending, self.noun
                    )
