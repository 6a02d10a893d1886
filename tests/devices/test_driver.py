"""The driver against the simulator over real Modbus TCP, for every profile."""

from __future__ import annotations

import asyncio

import pytest

from dacs.devices import (
    HeatPump,
    LimitAction,
    LimitSource,
    OperatingMode,
    ProfileDetectionError,
)
from dacs.devices.modbus_profile import RegisterTable

from .conftest import DeviceFactory, ManualClock

AUTODETECTED = ["dacs", "nibe_s", "daikin_homehub"]


@pytest.mark.parametrize("profile", AUTODETECTED)
async def test_autodetect_and_identity(
    simulated_device: DeviceFactory, profile: str
) -> None:
    server = await simulated_device(profile, serial="HP-42")
    async with HeatPump("127.0.0.1", server.port) as heat_pump:
        assert heat_pump.profile.id == profile
        assert heat_pump.identity.profile_id == profile
        caps = heat_pump.capabilities
        assert caps.supports_power_limit
        assert caps.supports_gas_only
        assert 0 < caps.safety_floor_w < caps.nominal_electric_w
        if profile == "dacs":
            assert heat_pump.identity.serial == "HP-42"
            assert caps.native_watchdog
            assert caps.safety_floor_w == server.firmware.identity.safety_floor_w


@pytest.mark.parametrize("profile", AUTODETECTED)
async def test_measurements_match_the_plant(
    simulated_device: DeviceFactory, profile: str
) -> None:
    server = await simulated_device(profile)
    server.advance(600)
    home = server.plant
    async with HeatPump("127.0.0.1", server.port) as heat_pump:
        measured = await heat_pump.read_measurements()
    assert measured.invalid == {}
    assert measured.electric_power_w == pytest.approx(home.hp_electric_w, abs=10)
    assert measured.outdoor_temp_c == pytest.approx(home.outdoor_temp_c, abs=0.1)
    assert measured.indoor_temp_c == pytest.approx(home.indoor_temp_c, abs=0.1)
    assert measured.flow_temp_c == pytest.approx(home.flow_temp_c, abs=0.1)
    assert measured.return_temp_c == pytest.approx(home.return_temp_c, abs=0.1)
    assert measured.fault_code == 0
    if profile == "dacs":
        assert measured.hp_thermal_w == pytest.approx(home.hp_thermal_w, abs=1)
        assert measured.boiler_thermal_w == pytest.approx(home.boiler_thermal_w, abs=1)
        assert measured.cop == pytest.approx(home.cop, rel=0.01)
        assert measured.electric_energy_kwh is not None
        assert measured.electric_energy_kwh > 0
        assert measured.limit_in_force_w is None
        assert measured.limit_source is LimitSource.NONE
        assert measured.mode is OperatingMode.NORMAL
        assert measured.operating_state is not None


@pytest.mark.parametrize("profile", AUTODETECTED)
async def test_limit_set_followed_and_released(
    simulated_device: DeviceFactory, profile: str
) -> None:
    server = await simulated_device(profile, nominal_electric_w=3000)
    async with HeatPump("127.0.0.1", server.port) as heat_pump:
        floor = heat_pump.capabilities.safety_floor_w
        result = await heat_pump.set_power_limit(floor + 150, validity_s=3600)
        assert result.action is LimitAction.ROUNDED
        assert result.max_power_w == floor + 100
        assert server.firmware.limit_w == pytest.approx(floor + 100)
        server.advance(300)
        assert server.plant.hp_electric_w <= floor + 100 + 1e-6
        measured = await heat_pump.read_measurements()
        assert measured.electric_power_w is not None
        assert measured.electric_power_w <= floor + 100 + 10
        if profile == "dacs":
            assert measured.limit_in_force_w == floor + 100
            assert measured.limit_source is LimitSource.MODBUS
        released = await heat_pump.release_limit()
        assert released.action is LimitAction.RELEASED
        assert server.firmware.limit_w is None
        assert server.firmware.mode is OperatingMode.NORMAL


@pytest.mark.parametrize("profile", AUTODETECTED)
async def test_below_floor_becomes_gas_only(
    simulated_device: DeviceFactory, profile: str
) -> None:
    server = await simulated_device(profile)
    async with HeatPump("127.0.0.1", server.port) as heat_pump:
        result = await heat_pump.set_power_limit(100)
        assert result.action is LimitAction.GAS_ONLY
        assert server.firmware.mode is OperatingMode.GAS_ONLY
        server.advance(600)
        assert server.plant.hp_electric_w == 0
        assert server.plant.boiler_thermal_w > 0
        await heat_pump.release_limit()
        assert server.firmware.mode is OperatingMode.NORMAL


async def test_floor_instead_of_gas_only_when_not_supported(
    simulated_device: DeviceFactory,
) -> None:
    """Without gas-only, a request below the floor writes the floor, never less."""
    server = await simulated_device("nibe_s")
    async with HeatPump(
        "127.0.0.1", server.port, capability_overrides={"supports_gas_only": False}
    ) as heat_pump:
        result = await heat_pump.set_power_limit(300)
    assert result.action is LimitAction.FLOOR_APPLIED
    assert server.firmware.limit_w == 1200


async def test_device_refuses_limits_below_its_minimum(
    simulated_device: DeviceFactory,
) -> None:
    """The device's own check backs up the driver's: 1.0 kW on NIBE is refused."""
    server = await simulated_device("nibe_s")
    async with HeatPump("127.0.0.1", server.port) as heat_pump:
        from dacs.devices import HeatPumpDeviceError

        with pytest.raises(HeatPumpDeviceError, match="illegal data value") as caught:
            await heat_pump.transport.write(RegisterTable.HOLDING, 6007, [10])
        assert caught.value.exception_code == 3
    assert server.firmware.limit_w is None


async def test_dacs_watchdog_releases_an_unrefreshed_limit(
    simulated_device: DeviceFactory, clock: ManualClock
) -> None:
    server = await simulated_device("dacs")
    async with HeatPump("127.0.0.1", server.port, watchdog_s=30) as heat_pump:
        await heat_pump.set_power_limit(1000, validity_s=3600)
        clock.advance(25)
        await heat_pump.refresh_limit()  # heartbeat
        clock.advance(25)
        assert (await heat_pump.read_measurements()).limit_in_force_w == 1000
        clock.advance(6)  # 31 s after the last heartbeat
        measured = await heat_pump.read_measurements()
    assert measured.limit_in_force_w is None
    assert measured.limit_source is LimitSource.NONE
    assert server.firmware.limit_w is None


async def test_dacs_watchdog_also_ends_gas_only(
    simulated_device: DeviceFactory, clock: ManualClock
) -> None:
    server = await simulated_device("dacs")
    async with HeatPump("127.0.0.1", server.port) as heat_pump:
        await heat_pump.set_power_limit(0)
        assert server.firmware.mode is OperatingMode.GAS_ONLY
        clock.advance(61)
        assert (await heat_pump.read_measurements()).mode is OperatingMode.NORMAL


async def test_dacs_validity_ends_a_fed_limit(
    simulated_device: DeviceFactory, clock: ManualClock
) -> None:
    """A limit ends at its validity even while the watchdog is fed."""
    server = await simulated_device("dacs")
    async with HeatPump("127.0.0.1", server.port) as heat_pump:
        await heat_pump.set_power_limit(1000, validity_s=90)
        for _ in range(4):
            clock.advance(20)
            await heat_pump.refresh_limit()
        assert server.firmware.limit_w == 1000
        clock.advance(15)  # 95 s after the write
        server.advance(1)
        assert server.firmware.limit_w is None


async def test_driver_ends_the_limit_on_devices_without_watchdog(
    simulated_device: DeviceFactory,
) -> None:
    """NIBE keeps a written limit forever; the driver releases it at its validity."""
    server = await simulated_device("nibe_s")
    async with HeatPump("127.0.0.1", server.port) as heat_pump:
        await heat_pump.set_power_limit(1500, validity_s=0.3)
        assert server.firmware.limit_w == 1500
        await asyncio.sleep(0.8)
        assert server.firmware.limit_w is None
        assert heat_pump.limit.action is LimitAction.RELEASED


async def test_keepalive_feeds_the_watchdog(
    simulated_device: DeviceFactory, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The driver's keep-alive refreshes the watchdog until the client closes."""
    import dacs.devices.client as client_module

    # 10 s watchdog, refreshed 50 times per period: every 0.2 s of real time.
    monkeypatch.setattr(client_module, "_REFRESHES_PER_WATCHDOG", 50)
    server = await simulated_device("dacs")
    async with HeatPump("127.0.0.1", server.port, watchdog_s=10) as heat_pump:
        await heat_pump.set_power_limit(1000, validity_s=3600)
        refreshed: list[float] = []
        for _ in range(3):
            clock.advance(8)  # most of a watchdog period passes between looks
            refresh_before = server.firmware.state.last_refresh
            for _ in range(50):
                await asyncio.sleep(0.05)
                if server.firmware.state.last_refresh > refresh_before:
                    break
            refreshed.append(server.firmware.state.last_refresh)
            server.firmware.tick()
            assert server.firmware.limit_w == 1000
        assert refreshed == sorted(set(refreshed))
    # The client is gone: nobody feeds the watchdog any more.
    clock.advance(11)
    server.firmware.tick()
    assert server.firmware.limit_w is None


async def test_manual_profile_when_detection_fails(
    simulated_device: DeviceFactory,
) -> None:
    server = await simulated_device("sg_ready")
    with pytest.raises(
        ProfileDetectionError, match=r"probed dacs, nibe_s, daikin_homehub.*sg_ready"
    ):
        async with HeatPump("127.0.0.1", server.port):
            pass
    async with HeatPump("127.0.0.1", server.port, profile="sg_ready") as heat_pump:
        result = await heat_pump.set_power_limit(1500)
        assert result.action is LimitAction.GAS_ONLY
        assert server.firmware.state.coils == {0: 1, 1: 0}
        assert server.firmware.mode is OperatingMode.GAS_ONLY
        await heat_pump.release_limit()
        assert server.firmware.state.coils == {0: 0, 1: 0}


async def test_room_setpoint(simulated_device: DeviceFactory) -> None:
    server = await simulated_device("dacs")
    async with HeatPump("127.0.0.1", server.port) as heat_pump:
        await heat_pump.set_room_setpoint(21.5)
        server.advance(1)
        assert server.plant.room_setpoint_c == pytest.approx(21.5)
        with pytest.raises(ValueError, match="outside"):
            await heat_pump.set_room_setpoint(45)
