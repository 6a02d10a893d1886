"""The asynchronous heat pump client: one class for every profile."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
import contextlib
from dataclasses import replace
import logging
import time
from types import TracebackType
from typing import Any, Self

from .codec import EngineeringValue, decode, encode, encode_raw
from .detect import detect_profile
from .errors import HeatPumpInvalidDataError, HeatPumpUnsupportedError, ProfileError
from .limits import plan_limit
from .modbus_profile import DeviceProfile, RegisterPoint, RegisterWrite, get_profile
from .models import (
    Capabilities,
    DeviceIdentity,
    LimitAction,
    LimitResult,
    LimitSource,
    Measurements,
    OperatingMode,
    OperatingState,
)
from .transport import ModbusTransport

_LOGGER = logging.getLogger(__name__)

# A limit is re-sent this many times per watchdog period, so one lost
# request never lets the watchdog expire while the limit is wanted.
_REFRESHES_PER_WATCHDOG = 3


class HeatPump:
    """A heat pump reached over Modbus TCP, spoken to through a device profile.

    Use it as ``async with HeatPump(host, port) as heat_pump:``: entering
    connects, detects the profile (unless one is given) and reads identity
    and capabilities. While a limit is in force on a device with a native
    watchdog, a background task keeps the watchdog fed until the limit's
    validity ends; then the limit is released.
    """

    def __init__(
        self,
        host: str,
        port: int = 502,
        device_id: int = 1,
        *,
        profile: DeviceProfile | str | None = None,
        capability_overrides: Mapping[str, Any] | None = None,
        timeout: float = 5.0,
        watchdog_s: int | None = None,
        transport: ModbusTransport | None = None,
    ) -> None:
        """Prepare the client; nothing is sent until connect().

        ``watchdog_s`` asks devices whose watchdog period is settable (DACS
        profile) for that period; others keep their own.
        """
        self._transport = transport or ModbusTransport(
            host, port, device_id, timeout=timeout
        )
        self._own_transport = transport is None
        self._profile = get_profile(profile) if isinstance(profile, str) else profile
        self._overrides = dict(capability_overrides or {})
        self._watchdog_request = watchdog_s
        self._identity: DeviceIdentity | None = None
        self._capabilities: Capabilities | None = None
        self._limit = LimitResult(
            requested_max_power_w=None,
            max_power_w=None,
            action=LimitAction.RELEASED,
            mode=OperatingMode.NORMAL,
        )
        self._limit_until: float | None = None
        self._keepalive: asyncio.Task[None] | None = None

    # -- lifecycle ---------------------------------------------------------

    async def connect(self) -> None:
        """Connect, detect the profile if needed, read identity and capabilities."""
        await self._transport.connect()
        if self._profile is None:
            self._profile = await detect_profile(self._transport)
        self._identity = await self._read_identity()
        self._capabilities = await self._read_capabilities()
        await self._request_watchdog_period()

    async def close(self) -> None:
        """Stop the keep-alive task and close the connection if this client opened it."""
        await self._stop_keepalive()
        if self._own_transport:
            await self._transport.close()

    async def __aenter__(self) -> Self:
        """Connect and identify."""
        try:
            await self.connect()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close."""
        await self.close()

    # -- what the device is -----------------------------------------------

    @property
    def transport(self) -> ModbusTransport:
        """The Modbus connection."""
        return self._transport

    @property
    def profile(self) -> DeviceProfile:
        """The device profile in use."""
        if self._profile is None:
            raise ProfileError("not connected: the profile is not known yet")
        return self._profile

    @property
    def identity(self) -> DeviceIdentity:
        """Identification read at connect()."""
        if self._identity is None:
            raise ProfileError("not connected: call connect() first")
        return self._identity

    @property
    def capabilities(self) -> Capabilities:
        """Capabilities read at connect() (with the installer's overrides)."""
        if self._capabilities is None:
            raise ProfileError("not connected: call connect() first")
        return self._capabilities

    @property
    def measured(self) -> frozenset[str]:
        """Names of the measurements the profile maps."""
        return frozenset(self.profile.measurements)

    @property
    def limit(self) -> LimitResult:
        """The limit this client put in force (RELEASED when none)."""
        return self._limit

    @property
    def limit_remaining_s(self) -> float | None:
        """Seconds until the limit this client set ends; None when unlimited."""
        if self._limit_until is None or not self._limit.limited:
            return None
        return max(0.0, self._limit_until - time.monotonic())

    # -- reading -----------------------------------------------------------

    async def read_point(self, point: RegisterPoint) -> EngineeringValue:
        """Read and decode one register point."""
        raw = await self._transport.read(point.table, point.address, point.count)
        return decode(point, raw)

    async def read_measurements(self) -> Measurements:
        """Read every measurement the profile maps, in as few requests as possible.

        A value outside its physically possible range is not passed on: the
        field is None and ``Measurements.invalid`` says why.
        """
        points = self.profile.measurements
        raw_by_name = await self._read_many(points)
        values: dict[str, EngineeringValue] = {}
        invalid: dict[str, str] = {}
        for name, point in points.items():
            try:
                values[name] = decode(point, raw_by_name[name])
            except HeatPumpInvalidDataError as err:
                invalid[name] = str(err)
        if invalid:
            _LOGGER.warning(
                "%s returned invalid data: %s",
                self._transport.host,
                "; ".join(invalid.values()),
            )
        return Measurements(
            electric_power_w=_number(values.get("electric_power_w")),
            hp_thermal_w=_number(values.get("hp_thermal_w")),
            boiler_thermal_w=_number(values.get("boiler_thermal_w")),
            boiler_active=_flag(values.get("boiler_active")),
            flow_temp_c=_number(values.get("flow_temp_c")),
            return_temp_c=_number(values.get("return_temp_c")),
            outdoor_temp_c=_number(values.get("outdoor_temp_c")),
            indoor_temp_c=_number(values.get("indoor_temp_c")),
            operating_state=_enum(points, values, "operating_state", OperatingState),
            fault_code=_integer(values.get("fault_code")),
            limit_in_force_w=_number(values.get("limit_in_force_w")),
            limit_source=_enum(points, values, "limit_source", LimitSource),
            mode=_mode(points, values),
            electric_energy_kwh=_number(values.get("electric_energy_kwh")),
            hp_heat_energy_kwh=_number(values.get("hp_heat_energy_kwh")),
            boiler_heat_energy_kwh=_number(values.get("boiler_heat_energy_kwh")),
            invalid=invalid,
        )

    # -- control -----------------------------------------------------------

    async def set_power_limit(
        self, max_power_w: float | None, *, validity_s: float | None = None
    ) -> LimitResult:
        """Limit the heat pump's electric power; ``None`` releases the limit.

        The safety floor is absolute: a request below it becomes gas-only
        where the device supports it, otherwise the floor (the result says
        which). With ``validity_s`` the limit ends by itself after that many
        seconds; on devices with a native watchdog the device drops it too.
        """
        if validity_s is not None and validity_s <= 0:
            raise ValueError("validity must be positive")
        plan = plan_limit(max_power_w, self.capabilities)
        if plan.action is LimitAction.RELEASED:
            await self._release()
        elif plan.action is LimitAction.GAS_ONLY:
            await self._write_limit_registers(None, validity_s)
            await self._write_mode(OperatingMode.GAS_ONLY)
        else:
            if plan.max_power_w is None:
                raise HeatPumpUnsupportedError("no limit value to write")
            await self._write_mode(OperatingMode.NORMAL, only_if_supported=True)
            await self._write_limit_registers(plan.max_power_w, validity_s)
        self._limit = plan
        self._limit_until = (
            time.monotonic() + validity_s if validity_s and plan.limited else None
        )
        await self._restart_keepalive()
        return plan

    async def release_limit(self) -> LimitResult:
        """Lift any limit or gas-only request this client put in force."""
        return await self.set_power_limit(None)

    async def set_mode(self, mode: OperatingMode) -> None:
        """Request an operating mode (normal, gas-only, off) without a power value."""
        if mode not in self.profile.modes:
            raise HeatPumpUnsupportedError(
                f"profile {self.profile.id} cannot switch to {mode.value}"
            )
        await self._write_mode(mode)

    async def set_room_setpoint(self, celsius: float) -> None:
        """Write the room temperature setpoint, where the profile supports it."""
        point = self.profile.room_setpoint
        if point is None or not self.capabilities.supports_room_setpoint:
            raise HeatPumpUnsupportedError(
                f"profile {self.profile.id} has no room setpoint"
            )
        await self._transport.write(point.table, point.address, encode(point, celsius))

    async def refresh_limit(self) -> None:
        """Feed the device watchdog for the limit in force (no-op when unlimited)."""
        if not self._limit.limited:
            return
        control = self.profile.power_limit
        if control is not None and control.heartbeat is not None:
            await self._apply(control.heartbeat)
        elif self._limit.action is LimitAction.GAS_ONLY:
            await self._write_mode(OperatingMode.GAS_ONLY)
        elif self._limit.max_power_w is not None:
            await self._write_limit_registers(
                self._limit.max_power_w, self.limit_remaining_s
            )

    # -- internals ---------------------------------------------------------

    async def _request_watchdog_period(self) -> None:
        control = self.profile.power_limit
        wanted = self._watchdog_request
        if wanted is None or control is None or control.watchdog_period is None:
            return
        point = control.watchdog_period
        await self._transport.write(point.table, point.address, encode(point, wanted))
        self._capabilities = replace(self.capabilities, watchdog_s=wanted)

    async def _release(self) -> None:
        await self._write_mode(OperatingMode.NORMAL, only_if_supported=True)
        control = self.profile.power_limit
        if control is None:
            return
        for write in control.release:
            await self._apply(write)
        if control.unlimited_raw is not None:
            point = control.point
            await self._transport.write(
                point.table, point.address, encode_raw(point, control.unlimited_raw)
            )

    async def _write_limit_registers(
        self, max_power_w: int | None, validity_s: float | None
    ) -> None:
        control = self.profile.power_limit
        if control is None:
            if max_power_w is None:
                return
            raise HeatPumpUnsupportedError(
                f"profile {self.profile.id} cannot limit electric power"
            )
        if max_power_w is None:
            # Gas-only: clear a power value left from before, the mode does the work.
            for write in control.release:
                await self._apply(write)
            if control.unlimited_raw is not None:
                await self._transport.write(
                    control.point.table,
                    control.point.address,
                    encode_raw(control.point, control.unlimited_raw),
                )
            return
        for write in control.enable:
            await self._apply(write)
        if control.validity is not None:
            seconds = 0 if validity_s is None else min(round(validity_s), 65535)
            await self._transport.write(
                control.validity.table,
                control.validity.address,
                encode(control.validity, seconds),
            )
        await self._transport.write(
            control.point.table,
            control.point.address,
            encode(control.point, max_power_w),
        )

    async def _write_mode(
        self, mode: OperatingMode, only_if_supported: bool = False
    ) -> None:
        writes = self.profile.modes.get(mode)
        if writes is None:
            if only_if_supported:
                return
            raise HeatPumpUnsupportedError(
                f"profile {self.profile.id} cannot switch to {mode.value}"
            )
        for write in writes:
            await self._apply(write)

    async def _apply(self, write: RegisterWrite) -> None:
        await self._transport.write(write.table, write.address, [write.value])

    async def _restart_keepalive(self) -> None:
        await self._stop_keepalive()
        if self._limit.limited and (
            self.capabilities.native_watchdog or self._limit_until is not None
        ):
            self._keepalive = asyncio.create_task(
                self._keep_alive(), name=f"dacs-limit-keepalive-{self._transport.host}"
            )

    async def _stop_keepalive(self) -> None:
        task, self._keepalive = self._keepalive, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _keep_alive(self) -> None:
        """Feed the watchdog while the limit is valid; release it when it ends."""
        caps = self.capabilities
        period = (
            (caps.watchdog_s or 60) / _REFRESHES_PER_WATCHDOG
            if caps.native_watchdog
            else None
        )
        while True:
            remaining = self.limit_remaining_s
            if remaining is not None and remaining <= 0:
                break
            sleep_for = (
                min(x for x in (period, remaining) if x is not None)
                if (period is not None or remaining is not None)
                else None
            )
            if sleep_for is None:
                return
            await asyncio.sleep(sleep_for)
            remaining = self.limit_remaining_s
            if remaining is not None and remaining <= 0:
                break
            try:
                await self.refresh_limit()
            except Exception:
                _LOGGER.warning(
                    "could not refresh the limit on %s",
                    self._transport.host,
                    exc_info=True,
                )
        _LOGGER.info(
            "limit on %s reached the end of its validity; releasing",
            self._transport.host,
        )
        self._limit = plan_limit(None, caps)
        self._limit_until = None
        try:
            await self._release()
        except Exception:
            _LOGGER.warning(
                "could not release the expired limit on %s; the device watchdog will",
                self._transport.host,
                exc_info=True,
            )

    async def _read_many(
        self, points: Mapping[str, RegisterPoint]
    ) -> dict[str, list[int]]:
        """Read points in contiguous runs: one request per run instead of per point."""
        by_table: dict[Any, list[tuple[str, RegisterPoint]]] = {}
        for name, point in points.items():
            by_table.setdefault(point.table, []).append((name, point))
        result: dict[str, list[int]] = {}
        for table, entries in by_table.items():
            entries.sort(key=lambda e: e[1].address)
            run: list[tuple[str, RegisterPoint]] = []
            for entry in entries:
                if run and (
                    entry[1].address > _run_end(run) + self.profile.read_gap_max
                    or entry[1].address + entry[1].count - run[0][1].address > 120
                ):
                    result.update(await self._read_run(table, run))
                    run = []
                run.append(entry)
            if run:
                result.update(await self._read_run(table, run))
        return result

    async def _read_run(
        self, table: Any, run: list[tuple[str, RegisterPoint]]
    ) -> dict[str, list[int]]:
        start = run[0][1].address
        words = await self._transport.read(table, start, _run_end(run) - start)
        return {
            name: words[point.address - start : point.address - start + point.count]
            for name, point in run
        }

    async def _read_identity(self) -> DeviceIdentity:
        profile = self.profile
        values: dict[str, str | None] = {}
        for name in ("manufacturer", "model", "serial", "firmware"):
            spec = profile.identity.get(name)
            if spec is None or isinstance(spec, str):
                values[name] = spec
            else:
                value = await self.read_point(spec)
                values[name] = str(value) if value not in (None, "") else None
        return DeviceIdentity(
            profile_id=profile.id,
            profile_version=profile.version,
            manufacturer=values["manufacturer"] or profile.name,
            model=values["model"] or profile.name,
            serial=values["serial"],
            firmware=values["firmware"],
        )

    async def _read_capabilities(self) -> Capabilities:
        values: dict[str, Any] = {}
        for name, spec in self.profile.capabilities.items():
            values[name] = (
                await self.read_point(spec) if isinstance(spec, RegisterPoint) else spec
            )
        values.update(self._overrides)
        try:
            return Capabilities.from_values(values)
        except (KeyError, TypeError, ValueError) as err:
            raise HeatPumpInvalidDataError(
                f"{self._transport.host}: inconsistent capabilities: {err}"
            ) from err


def _run_end(run: list[tuple[str, RegisterPoint]]) -> int:
    return max(p.address + p.count for _, p in run)


def _number(value: EngineeringValue) -> float | None:
    if value is None or isinstance(value, (str, bool)):
        return None
    return float(value)


def _integer(value: EngineeringValue) -> int | None:
    return None if value is None or isinstance(value, str) else int(value)


def _flag(value: EngineeringValue) -> bool | None:
    return None if value is None else bool(value)


def _enum[E: (OperatingState, LimitSource)](
    points: Mapping[str, RegisterPoint],
    values: Mapping[str, EngineeringValue],
    name: str,
    kind: type[E],
) -> E | None:
    raw = values.get(name)
    if raw is None or name not in points or not isinstance(raw, int):
        return None
    label = points[name].names_by_raw.get(raw)
    try:
        return kind[label.upper()] if label else None
    except KeyError:
        return None


def _mode(
    points: Mapping[str, RegisterPoint], values: Mapping[str, EngineeringValue]
) -> OperatingMode | None:
    raw = values.get("mode")
    if raw is None or not isinstance(raw, int):
        return None
    label = points["mode"].names_by_raw.get(raw)
    return OperatingMode(label) if label else None
