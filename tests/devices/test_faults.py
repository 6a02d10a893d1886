"""Broken devices and links: clear errors, no crash, recovery when they come back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import logging

from pymodbus.constants import ExcCodes
import pytest

from dacs.devices import (
    HeatPump,
    HeatPumpConnectionError,
    HeatPumpDeviceError,
    HeatPumpTimeoutError,
    ModbusTransport,
)
from dacs.devices.modbus_profile import RegisterTable
from dacs.testbed.servers import find_free_port

from .conftest import DeviceFactory


async def test_modbus_exception_is_a_device_error(
    simulated_device: DeviceFactory,
) -> None:
    server = await simulated_device("dacs")
    async with HeatPump("127.0.0.1", server.port) as heat_pump:
        server.firmware.faults.exception = ExcCodes.DEVICE_FAILURE
        with pytest.raises(
            HeatPumpDeviceError, match="exception 4 \\(device failure\\)"
        ) as caught:
            await heat_pump.read_measurements()
        assert caught.value.exception_code == 4
        server.firmware.faults.exception = ExcCodes.DEVICE_BUSY
        with pytest.raises(HeatPumpDeviceError, match="device busy"):
            await heat_pump.set_power_limit(1000)
        # The device recovers; the same connection works again.
        server.firmware.faults.exception = None
        assert (await heat_pump.read_measurements()).invalid == {}


@pytest.mark.parametrize("profile", ["dacs", "nibe_s", "daikin_homehub"])
async def test_garbage_is_reported_not_passed_on(
    simulated_device: DeviceFactory, profile: str, caplog: pytest.LogCaptureFixture
) -> None:
    server = await simulated_device(profile)
    async with HeatPump("127.0.0.1", server.port) as heat_pump:
        server.firmware.faults.garbage = True
        with caplog.at_level(logging.WARNING):
            measured = await heat_pump.read_measurements()
    assert "outdoor_temp_c" in measured.invalid
    assert "outside the possible range" in measured.invalid["outdoor_temp_c"]
    assert measured.outdoor_temp_c is None
    assert measured.flow_temp_c is None
    assert "returned invalid data" in caplog.text


async def test_unreachable_device() -> None:
    port = find_free_port()
    with pytest.raises(
        HeatPumpConnectionError, match=f"cannot connect to 127.0.0.1:{port}"
    ):
        async with HeatPump("127.0.0.1", port, timeout=1):
            pass


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """A TCP server that accepts connections and never answers."""
    clients: list[asyncio.StreamWriter] = []

    async def swallow(
        _reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        clients.append(writer)

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for writer in clients:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_silent_device_times_out(silent_server: int) -> None:
    transport = ModbusTransport("127.0.0.1", silent_server, timeout=0.3)
    with pytest.raises(HeatPumpTimeoutError, match="did not answer"):
        await transport.read(RegisterTable.INPUT, 16384, 2)
    # Backoff: the next request does not hammer the device.
    with pytest.raises(HeatPumpConnectionError, match="next attempt in"):
        await transport.read(RegisterTable.INPUT, 16384, 2)
    await transport.close()


async def test_wrong_device_id(simulated_device: DeviceFactory) -> None:
    server = await simulated_device("dacs", device_id=3)
    with pytest.raises(HeatPumpDeviceError):
        async with HeatPump(
            "127.0.0.1", server.port, device_id=4, profile="dacs", timeout=1
        ):
            pass
    async with HeatPump("127.0.0.1", server.port, device_id=3) as heat_pump:
        assert heat_pump.profile.id == "dacs"


async def test_reconnects_after_the_device_comes_back(
    simulated_device: DeviceFactory,
) -> None:
    server = await simulated_device("dacs")
    heat_pump = HeatPump("127.0.0.1", server.port, timeout=1)
    await heat_pump.connect()
    try:
        await server.stop()
        with pytest.raises(HeatPumpConnectionError):
            await heat_pump.read_measurements()
        await server.start()
        for _ in range(40):  # backoff 0.5 s, then 1 s ...
            try:
                measured = await heat_pump.read_measurements()
                break
            except HeatPumpConnectionError:
                await asyncio.sleep(0.1)
        else:
            pytest.fail("no reconnect")
        assert measured.invalid == {}
    finally:
        await heat_pump.close()


def test_bad_device_id_argument() -> None:
    with pytest.raises(ValueError, match=r"0\.\.247"):
        ModbusTransport("127.0.0.1", 502, device_id=300)


async def test_read_only_tables_cannot_be_written() -> None:
    transport = ModbusTransport("127.0.0.1", find_free_port())
    with pytest.raises(ValueError, match="read-only"):
        await transport.write(RegisterTable.INPUT, 1, [1])
