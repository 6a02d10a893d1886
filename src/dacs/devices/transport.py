"""Modbus TCP transport: one request at a time, timeouts, reconnect with backoff."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import logging
import time
from typing import Any

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

from .errors import HeatPumpConnectionError, HeatPumpDeviceError, HeatPumpTimeoutError
from .modbus_profile import RegisterTable

_LOGGER = logging.getLogger(__name__)

_EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "device failure",
    5: "acknowledge",
    6: "device busy",
    10: "gateway path unavailable",
    11: "gateway target did not respond",
}


class ModbusTransport:
    """A Modbus TCP connection to one device (unit id) behind host:port.

    Requests are serialised with a lock: many heat pumps and gateways handle
    only one request at a time. After a failure the connection is closed and
    re-opened on the next request, waiting 0.5 s, 1 s, 2 s ... (at most
    ``max_backoff``) between attempts, so a dead device is not hammered.
    """

    def __init__(
        self,
        host: str,
        port: int = 502,
        device_id: int = 1,
        *,
        timeout: float = 5.0,
        max_backoff: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Prepare the transport; the connection opens on first use."""
        if not 0 <= device_id <= 247:
            raise ValueError(f"Modbus device id must be 0..247, got {device_id}")
        self.host = host
        self.port = port
        self.device_id = device_id
        self.timeout = timeout
        self.max_backoff = max_backoff
        self._clock = clock
        self._client: AsyncModbusTcpClient | None = None
        self._lock = asyncio.Lock()
        self._backoff = 0.0
        self._next_attempt = 0.0

    @property
    def connected(self) -> bool:
        """True while the TCP connection is open."""
        return self._client is not None and self._client.connected

    async def connect(self) -> None:
        """Open the connection now (raises HeatPumpConnectionError on failure)."""
        async with self._lock:
            await self._ensure_connected(ignore_backoff=True)

    async def close(self) -> None:
        """Close the connection."""
        async with self._lock:
            self._drop()

    async def read(self, table: RegisterTable, address: int, count: int) -> list[int]:
        """Read ``count`` registers (or bits, as 0/1) starting at ``address``."""
        readers = {
            RegisterTable.HOLDING: "read_holding_registers",
            RegisterTable.INPUT: "read_input_registers",
            RegisterTable.COIL: "read_coils",
            RegisterTable.DISCRETE: "read_discrete_inputs",
        }
        response = await self._request(
            f"read {table} {address}+{count}",
            readers[table],
            address,
            count=count,
        )
        if table.is_bits:
            return [1 if bit else 0 for bit in response.bits[:count]]
        registers: list[int] = list(response.registers)
        if len(registers) != count:
            raise HeatPumpDeviceError(
                f"read {table} {address}: asked {count} registers, got {len(registers)}",
                exception_code=0,
            )
        return registers

    async def write(
        self, table: RegisterTable, address: int, values: list[int]
    ) -> None:
        """Write registers (holding) or a single coil."""
        if table is RegisterTable.COIL:
            if len(values) != 1:
                raise ValueError("write one coil at a time")
            await self._request(
                f"write coil {address}", "write_coil", address, bool(values[0])
            )
        elif table is RegisterTable.HOLDING:
            if len(values) == 1:
                await self._request(
                    f"write {address}", "write_register", address, values[0]
                )
            else:
                await self._request(
                    f"write {address}+{len(values)}", "write_registers", address, values
                )
        else:
            raise ValueError(f"{table} registers are read-only")

    async def _request(self, what: str, method: str, *args: Any, **kwargs: Any) -> Any:
        async with self._lock:
            client = await self._ensure_connected()
            try:
                async with asyncio.timeout(self.timeout):
                    response = await getattr(client, method)(
                        *args, device_id=self.device_id, **kwargs
                    )
            except (TimeoutError, ModbusIOException) as err:
                self._fail()
                raise HeatPumpTimeoutError(
                    f"{self.host}:{self.port} did not answer ({what}) within "
                    f"{self.timeout:g} s"
                ) from err
            except (ConnectionException, OSError) as err:
                self._fail()
                raise HeatPumpConnectionError(
                    f"connection to {self.host}:{self.port} lost during {what}: {err}"
                ) from err
            except ModbusException as err:
                self._fail()
                raise HeatPumpConnectionError(
                    f"Modbus error from {self.host}:{self.port} during {what}: {err}"
                ) from err
            if response.isError():
                code = int(getattr(response, "exception_code", 0))
                name = _EXCEPTION_NAMES.get(code, "unknown exception")
                raise HeatPumpDeviceError(
                    f"device {self.device_id} at {self.host}:{self.port} refused "
                    f"{what}: Modbus exception {code} ({name})",
                    exception_code=code,
                )
            return response

    async def _ensure_connected(
        self, ignore_backoff: bool = False
    ) -> AsyncModbusTcpClient:
        if self._client is not None and self._client.connected:
            return self._client
        now = self._clock()
        if not ignore_backoff and now < self._next_attempt:
            raise HeatPumpConnectionError(
                f"{self.host}:{self.port} unreachable; next attempt in "
                f"{self._next_attempt - now:.1f} s"
            )
        self._drop()
        # pymodbus's own reconnect loop is disabled: this class owns the backoff.
        client = AsyncModbusTcpClient(
            self.host,
            port=self.port,
            timeout=self.timeout,
            retries=0,
            reconnect_delay=0,
        )
        try:
            async with asyncio.timeout(self.timeout):
                connected = await client.connect()
        except (TimeoutError, OSError, ModbusException) as err:
            client.close()
            self._fail()
            raise HeatPumpConnectionError(
                f"cannot connect to {self.host}:{self.port}: {err or 'timeout'}"
            ) from err
        if not connected:
            client.close()
            self._fail()
            raise HeatPumpConnectionError(f"cannot connect to {self.host}:{self.port}")
        if self._backoff:
            _LOGGER.info("reconnected to %s:%s", self.host, self.port)
        self._client = client
        self._backoff = 0.0
        return client

    def _fail(self) -> None:
        self._drop()
        self._backoff = min(max(self._backoff * 2, 0.5), self.max_backoff)
        self._next_attempt = self._clock() + self._backoff

    def _drop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
