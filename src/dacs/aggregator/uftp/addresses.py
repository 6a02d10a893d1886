"""UFTP congestion point addresses (``ean.<18 digits>`` or mapped) and our ids for them."""

from __future__ import annotations

import re

from dacs.aggregator.grid_port import GridPort

from .config import UftpConfig
from .errors import UftpError
from .ledger import UftpLedger

_EAN18 = re.compile(r"ean\.(\d{18})$")


class CongestionPointAddresses:
    """Translates between UFTP addresses and the congestion points we serve."""

    def __init__(self, config: UftpConfig, ledger: UftpLedger, port: GridPort) -> None:
        """Use the configured address map first, then the congestion points' EANs."""
        self._map = config.congestion_point_map
        self._ledger = ledger
        self._port = port

    async def point_of(self, address: str) -> str | None:
        """The congestion point an address names, None when we do not serve it."""
        mapped = self._map.get(address)
        if mapped is None:
            match = _EAN18.fullmatch(address)
            if match is not None:
                mapped = await self._ledger.congestion_point_with_ean(match.group(1))
        if mapped is None or mapped not in self._port.congestion_points():
            return None
        return mapped

    async def address_of(self, point_id: str) -> str:
        """The address we give a congestion point in our messages."""
        for address, mapped in self._map.items():
            if mapped == point_id:
                return address
        ean = await self._ledger.ean_of(point_id)
        if not ean:
            raise UftpError(
                f"congestion point {point_id!r} has no EAN and no UFTP address mapping"
            )
        return f"ean.{ean}"
