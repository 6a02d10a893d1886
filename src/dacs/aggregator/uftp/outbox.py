"""Outbound UFTP messages: kept in the database until delivered, retried with back-off.

Responses to accepted messages, offers and prognoses go through the stored
outbox, so a restart does not lose them. Rejections are sent without storing
them (a rejected message changes nothing); a crash may lose one, and the
sender's own retry asks again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
import logging
from typing import Any

import aiohttp
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dacs.aggregator.storage.tables import UftpOutboxRow

from .config import UftpConfig
from .envelope import seal
from .errors import DeliveryError, UnknownParticipantError
from .participants import Participants

_LOGGER = logging.getLogger(__name__)
_AGR = "AGR"


@dataclass(frozen=True, kw_only=True)
class Outgoing:
    """A message ready to sign and send."""

    message_id: str
    message_type: str
    recipient_domain: str
    recipient_role: str
    payload: str  # inner XML


def is_temporary(status: int) -> bool:
    """UFTP: 5xx and 404 are worth another try; other refusals are final."""
    return status >= 500 or status in (404, 408, 419, 429)


class Outbox:
    """Signs and delivers messages; stored ones are marked sent or given up."""

    def __init__(
        self,
        config: UftpConfig,
        *,
        secret: str,
        participants: Participants,
        sessions: async_sessionmaker[AsyncSession],
        now: Callable[[], datetime],
    ) -> None:
        """Prepare; start() opens the HTTP session."""
        self._config = config
        self._secret = secret
        self._participants = participants
        self._sessions = sessions
        self._now = now
        self._http: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Open the HTTP session and resend what a previous run left unsent."""
        self._http = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self._config.request_timeout_s)
        )
        async with self._sessions() as session:
            rows = (
                (
                    await session.execute(
                        select(UftpOutboxRow)
                        .where(
                            UftpOutboxRow.sent_at.is_(None),
                            UftpOutboxRow.given_up_at.is_(None),
                        )
                        .order_by(UftpOutboxRow.created_at)
                    )
                )
                .scalars()
                .all()
            )
        if rows:
            _LOGGER.info("UFTP: resending %d undelivered message(s)", len(rows))
            self.deliver_stored([r.message_id for r in rows])

    async def stop(self) -> None:
        """Stop retrying (stored messages are resent on the next start) and close."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def idle(self) -> None:
        """Wait until every delivery under way has finished (tests, shutdown)."""
        # Only unfinished ones: a finished task leaves the set in a callback,
        # and on Python 3.14 gathering finished tasks alone completes at once,
        # without yielding, so the callback would never run.
        while pending := [task for task in self._tasks if not task.done()]:
            await asyncio.gather(*pending, return_exceptions=True)

    @staticmethod
    def store(
        session: AsyncSession,
        outgoing: Outgoing,
        *,
        reference: str | None,
        now: datetime,
    ) -> None:
        """Add a message to the outbox in the caller's transaction."""
        session.add(
            UftpOutboxRow(
                message_id=outgoing.message_id,
                message_type=outgoing.message_type,
                recipient_domain=outgoing.recipient_domain,
                reference=reference,
                payload=outgoing.payload,
                created_at=now,
                attempts=0,
            )
        )

    def deliver_stored(self, message_ids: list[str]) -> None:
        """Send stored messages in this order, one after the other, in the background."""
        self._spawn(self._deliver_stored_in_order(message_ids))

    async def resend(self, message_id: str) -> None:
        """Send a stored message again (the answer to a repeated request); not re-marked."""
        async with self._sessions() as session:
            row = await session.get(UftpOutboxRow, message_id)
        if row is None:
            _LOGGER.warning("UFTP: nothing stored under %s to resend", message_id)
            return
        self.deliver_transient(
            Outgoing(
                message_id=row.message_id,
                message_type=row.message_type,
                recipient_domain=row.recipient_domain,
                recipient_role="DSO",
                payload=row.payload,
            )
        )

    def deliver_transient(self, outgoing: Outgoing) -> None:
        """Send a message that is not stored (a rejection), in the background."""
        self._spawn(self._deliver_transient(outgoing))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work, name="dacs-uftp-deliver")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver_stored_in_order(self, message_ids: list[str]) -> None:
        for message_id in message_ids:
            async with self._sessions() as session:
                row = await session.get(UftpOutboxRow, message_id)
            if row is None or row.sent_at is not None or row.given_up_at is not None:
                continue
            outgoing = Outgoing(
                message_id=row.message_id,
                message_type=row.message_type,
                recipient_domain=row.recipient_domain,
                recipient_role="DSO",
                payload=row.payload,
            )
            try:
                attempts = await self._send_with_retries(outgoing)
            except DeliveryError as err:
                _LOGGER.error(  # noqa: TRY400 - the reason says it all
                    "UFTP: giving up on %s %s: %s", row.message_type, message_id, err
                )
                await self._mark(message_id, given_up=True, error=str(err))
                continue
            await self._mark(message_id, given_up=False, error=None, attempts=attempts)

    async def _deliver_transient(self, outgoing: Outgoing) -> None:
        try:
            await self._send_with_retries(outgoing)
        except DeliveryError as err:
            _LOGGER.error(  # noqa: TRY400 - the reason says it all
                "UFTP: could not deliver %s to %s: %s",
                outgoing.message_type,
                outgoing.recipient_domain,
                err,
            )

    async def _mark(
        self, message_id: str, *, given_up: bool, error: str | None, attempts: int = 0
    ) -> None:
        now = self._now()
        values: dict[str, object] = (
            {"given_up_at": now, "last_error": (error or "")[:500]}
            if given_up
            else {"sent_at": now, "attempts": attempts}
        )
        async with self._sessions() as session:
            await session.execute(
                update(UftpOutboxRow)
                .where(UftpOutboxRow.message_id == message_id)
                .values(**values)
            )
            await session.commit()

    async def _send_with_retries(self, outgoing: Outgoing) -> int:
        """POST until accepted; returns the number of attempts. DeliveryError when final."""
        try:
            endpoint = self._participants.find(
                outgoing.recipient_domain, outgoing.recipient_role
            ).endpoint
        except UnknownParticipantError as err:
            raise DeliveryError(str(err)) from err
        body = seal(
            outgoing.payload,
            sender_domain=self._config.domain,
            sender_role=_AGR,
            secret=self._secret,
        )
        delay = self._config.retry_base_s
        for attempt in range(1, self._config.retry_attempts + 1):
            try:
                status, text = await self._post(endpoint, body)
            except (aiohttp.ClientError, TimeoutError) as err:
                problem = f"{type(err).__name__}: {err}"
            else:
                if status == 200:
                    return attempt
                problem = f"HTTP {status}: {text[:200]}"
                if not is_temporary(status):
                    raise DeliveryError(f"{endpoint} refused it: {problem}")
            if attempt == self._config.retry_attempts:
                break
            _LOGGER.warning(
                "UFTP: %s to %s failed (%s); attempt %d of %d in %.0f s",
                outgoing.message_type,
                outgoing.recipient_domain,
                problem,
                attempt + 1,
                self._config.retry_attempts,
                delay,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._config.retry_max_s)
        raise DeliveryError(
            f"no success after {self._config.retry_attempts} attempts: {problem}"
        )

    async def _post(self, endpoint: str, body: bytes) -> tuple[int, str]:
        if self._http is None:
            raise DeliveryError("the outbox is not started")
        async with self._http.post(
            endpoint,
            data=body,
            headers={"Content-Type": "text/xml; charset=utf-8"},
        ) as response:
            return response.status, await response.text()
