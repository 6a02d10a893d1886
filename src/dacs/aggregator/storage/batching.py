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
from collections import deque
import contextlib
import logging
import time

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information
from sqlalchemy import exc

_LOGGER = logging.getLogger(__name__)
_DEAD_LETTERS_KEPT = 1000


def refused(err: Exception) -> bool:
    """True when the database refused the data itself, not when it was away.

    A refusal (a constraint, a value the column cannot hold, a parameter the
    driver cannot send) fails again however often it is retried; a lost
    connection or a timeout is worth retrying.
    """
    if isinstance(err, exc.DataError | exc.IntegrityError):
        return True
    if isinstance(err, exc.StatementError) and not isinstance(err, exc.DBAPIError):
        return True  # the parameters could not even be bound
    return isinstance(
        err,
        asyncpg.exceptions.DataError
        | asyncpg.exceptions.IntegrityConstraintViolationError,
    )


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
        # Items the database refused on their own (bad data, not an outage):
        # kept for an operator, the newest ones, never retried.
        self.dead_letters: deque[Item] = deque(maxlen=_DEAD_LETTERS_KEPT)
        self.dead_lettered = 0

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

    def _committed(self, batch: list[Item]) -> None:  # noqa: B027 - optional hook
        """Called with every part of a batch once its transaction has committed."""

    async def flush(self) -> int:
        """Write everything buffered now; returns the items handed to the database."""
        if not self._buffer:
            return 0
        batch, self._buffer = self._buffer, []
        self._first_at = None
        try:
            await self._write(batch)
        except BaseException as err:
            if isinstance(err, Exception):
                self.failures += 1
                if refused(err):
                    await self._isolate(batch)
                    return len(batch)
            # Failed, or cancelled mid-write: keep the items, in order, for the
            # next attempt.
            self._keep(batch)
            raise
        self.written += len(batch)
        self._committed(batch)
        return len(batch)

    def _keep(self, items: list[Item]) -> None:
        self._buffer = items + self._buffer
        self._first_at = time.monotonic()

    async def _isolate(self, batch: list[Item]) -> None:
        """Write what the database takes of a refused batch, dead-letter the rest.

        Halves are written on their own until the refused items stand alone:
        a few writes more for one bad row, instead of retrying the whole
        batch forever and losing every row after it.
        """
        pending = [batch]
        while pending:
            part = pending.pop()
            try:
                await self._write(part)
            except Exception as err:
                if not refused(err):
                    # Back in arrival order: this part, then the stack from its top.
                    unwritten = [part, *reversed(pending)]
                    self._keep([item for chunk in unwritten for item in chunk])
                    raise
                if len(part) == 1:
                    self._dead_letter(part[0], err)
                    continue
                middle = len(part) // 2
                pending += [part[middle:], part[:middle]]
            else:
                self.written += len(part)
                self._committed(part)

    def _dead_letter(self, item: Item, err: Exception) -> None:
        self.dead_lettered += 1
        self.dead_letters.append(item)
        _LOGGER.error(
            "one of the %s refused by the database, kept aside: %s",
            self.noun,
            str(err).splitlines()[0][:200] if str(err) else type(err).__name__,
        )

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
