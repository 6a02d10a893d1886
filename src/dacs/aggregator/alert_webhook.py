"""Tell an operator's system (chat, paging) about new alerts, without ever blocking control."""

from __future__ import annotations

from collections.abc import Sequence
import logging

import aiohttp

from dacs.protocol import format_time

from .background import BackgroundTasks
from .control.alerts import Alert

_LOGGER = logging.getLogger(__name__)
_TIMEOUT = aiohttp.ClientTimeout(total=10)


class AlertWebhook:
    """Posts each batch of new alerts as JSON, in the background."""

    def __init__(self, url: str | None) -> None:
        """Post to ``url``; None or empty posts nothing."""
        self._url = url
        self._posts = BackgroundTasks()

    def notify(self, alerts: Sequence[Alert]) -> None:
        """Post ``alerts`` in the background (control does not wait for it)."""
        if not self._url or not alerts:
            return
        self._posts.spawn(self._post(self._url, alerts), name="dacs-alert-webhook")

    async def close(self) -> None:
        """Cancel the posts still on their way."""
        await self._posts.close()

    @staticmethod
    async def _post(url: str, alerts: Sequence[Alert]) -> None:
        body = [
            {
                "kind": a.kind.value,
                "congestion_point_id": a.congestion_point_id,
                "home_id": a.home_id,
                "message": a.message,
                "raised_at": format_time(a.raised_at),
            }
            for a in alerts
        ]
        try:
            async with (
                aiohttp.ClientSession(timeout=_TIMEOUT) as http,
                http.post(url, json={"alerts": body}) as response,
            ):
                if response.status >= 300:
                    _LOGGER.warning("alert webhook answered %s", response.status)
        except (aiohttp.ClientError, TimeoutError) as err:
            _LOGGER.warning("alert webhook unreachable: %s", err)
