"""Restart the home broker so it reads its new configuration.

Mosquitto does not reload bridges on SIGHUP, so a new bridge needs a restart.
In the add-on, s6 supervises Mosquitto and ``s6-svc -r`` restarts it; run
elsewhere, any command that restarts the broker will do.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
import logging
from typing import Protocol

from .errors import BrokerControlError

_LOGGER = logging.getLogger(__name__)

S6_RESTART_COMMAND = ("s6-svc", "-r", "/run/service/mosquitto")
_TIMEOUT_S = 30.0


class BrokerController(Protocol):
    """Something that can restart the home broker."""

    async def restart(self) -> None:
        """Restart the broker; BrokerControlError when that fails."""


class CommandBrokerController:
    """Restarts the broker by running a command (e.g. ``s6-svc -r ...``)."""

    def __init__(
        self, command: Sequence[str], *, timeout_s: float = _TIMEOUT_S
    ) -> None:
        """Remember the command; it runs without a shell."""
        if not command:
            raise ValueError("the restart command must not be empty")
        self._command = tuple(command)
        self._timeout_s = timeout_s

    async def restart(self) -> None:
        """Run the command and wait for it."""
        _LOGGER.info("restarting the home broker: %s", " ".join(self._command))
        try:
            process = await asyncio.create_subprocess_exec(
                *self._command,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
        except OSError as err:
            raise BrokerControlError(
                f"cannot run {self._command[0]!r} to restart the broker: {err}"
            ) from err
        try:
            async with asyncio.timeout(self._timeout_s):
                output, _ = await process.communicate()
        except TimeoutError:
            process.kill()
            await process.wait()
            raise BrokerControlError(
                f"{self._command[0]!r} did not finish within {self._timeout_s:g} s"
            ) from None
        if process.returncode != 0:
            raise BrokerControlError(
                f"{' '.join(self._command)} failed with exit code "
                f"{process.returncode}: {output.decode(errors='replace').strip()}"
            )


class ManualBrokerController:
    """For a broker this service does not manage: asks the operator to restart it."""

    async def restart(self) -> None:
        """Log that the broker needs a restart."""
        _LOGGER.warning(
            "the home broker's configuration changed: restart Mosquitto to apply it"
        )
