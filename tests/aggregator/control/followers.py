"""Telemetry of a simulated home that follows its limit exactly (shared by the loop tests)."""

from __future__ import annotations

from datetime import datetime

from dacs.protocol import LimitSource, Participation, Telemetry


def followed_telemetry(
    home_id: str,
    *,
    seq: int,
    ts: datetime,
    power_w: float,
    limit_w: float | None,
    comfort_override: bool = False,
) -> Telemetry:
    """What a home at ``power_w`` under ``limit_w`` (None: no limit) reports."""
    return Telemetry(
        home_id=home_id,
        seq=seq,
        boot_id="b",
        ts=ts,
        electric_power_w=power_w,
        thermal_power_w=None,
        boiler_active=None,
        boiler_thermal_w=None,
        indoor_temp_c=20.0,
        outdoor_temp_c=0.0,
        flow_temp_c=None,
        electric_energy_kwh=None,
        limit_w=limit_w,
        limit_source=LimitSource.AGGREGATOR
        if limit_w is not None
        else LimitSource.NONE,
        command_id=None,
        participation=Participation.ON,
        comfort_override=comfort_override,
        device_fault=None,
    )
