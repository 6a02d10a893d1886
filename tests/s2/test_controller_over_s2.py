"""The home controller's rules, unchanged, for a heat pump over S2."""

from __future__ import annotations

from s2python.common import RevokableObjects

from dacs.devices import LimitAction, OperatingMode
from dacs.devices.s2 import S2Control, S2HeatPump
from dacs.home import HomeController
from dacs.testbed.sim.s2_resource_manager import SimulatedS2HeatPump

from .conftest import cem, eventually, simulated_device


async def test_manual_limit_floor_and_opt_out_over_s2(
    paired: tuple[S2HeatPump, SimulatedS2HeatPump],
) -> None:
    heat_pump, device = paired
    controller = HomeController(heat_pump, control_interval_s=0.1, poll_interval_s=0.2)
    await controller.start()
    try:
        await controller.update_settings(manual_limit_w=1000)
        await eventually(lambda: device.limit_w == 1000.0)
        assert controller.snapshot.applied is not None
        assert controller.snapshot.applied.action is LimitAction.APPLIED
        # Below the device's floor (700 W) on a hybrid: gas-only, never 300 W.
        await controller.update_settings(manual_limit_w=300)
        await eventually(
            lambda: device.limit is not None and device.limit.max_power_w is None
        )
        assert controller.snapshot.applied.action is LimitAction.GAS_ONLY  # type: ignore[union-attr]
        await controller.update_settings(manual_limit_w=None)
        await eventually(lambda: device.limit is None)
    finally:
        await controller.stop()


async def test_connection_lost_marks_the_device_unavailable(
    paired: tuple[S2HeatPump, SimulatedS2HeatPump],
) -> None:
    heat_pump, device = paired
    controller = HomeController(heat_pump, control_interval_s=0.1, poll_interval_s=0.1)
    await controller.start()
    try:
        await controller.update_settings(manual_limit_w=1200)
        await eventually(lambda: device.limit_w == 1200.0)
        device.retry_s = 0.5
        await device.disconnect()
        await eventually(lambda: not controller.snapshot.device_available)
        assert device.limit_w is None  # the device's own fallback
        assert "no S2 resource manager connected" in str(
            controller.snapshot.device_error
        )
        # It dials again: available again, and the limit still wanted is back.
        await eventually(lambda: controller.snapshot.device_available, within_s=10)
        await eventually(lambda: device.limit_w == 1200.0, within_s=10)
    finally:
        await controller.stop()
    assert device.limit is None  # stopping released it


async def test_ddbc_operation_modes_heat_pump_or_boiler() -> None:
    """Where the installer prefers DDBC: the heat pump mode at the limit, the boiler below the floor."""
    heat_pump = cem(S2Control.DDBC)
    device = simulated_device(heat_pump.url)
    await device.start()
    try:
        await heat_pump.connect()
        assert heat_pump.control is S2Control.DDBC
        assert heat_pump.capabilities.safety_floor_w == device.floor_w
        await heat_pump.set_power_limit(1000, validity_s=60)
        assert device.limit is not None
        assert device.limit.kind is RevokableObjects.DDBC_Instruction
        assert device.limit_w == 1000.0
        result = await heat_pump.set_power_limit(300, validity_s=60)
        assert result.action is LimitAction.GAS_ONLY
        assert device.mode is OperatingMode.GAS_ONLY
        await heat_pump.release_limit()
        assert device.limit is None
        assert device.mode is OperatingMode.NORMAL
        # DDBC instructions have no duration: the CEM revokes at the limit's end.
        await heat_pump.set_power_limit(1000, validity_s=0.5)
        assert device.limit_w == 1000.0
        await eventually(lambda: device.limit is None)
    finally:
        await heat_pump.close()
        await device.stop()
