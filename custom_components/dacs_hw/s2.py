"""The home controller's S2 end for an S2 heat pump entry (it dials in; we are its CEM)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.const import CONF_HOST, CONF_PORT, CONF_TOKEN

from dacs.devices.s2 import S2Control, S2HeatPump

from .const import CONF_S2_CONTROL


def s2_heat_pump(device: Mapping[str, Any], *, connect_timeout: float) -> S2HeatPump:
    """The S2 end of the home controller for a configured S2 device."""
    return S2HeatPump(
        device[CONF_HOST],
        device[CONF_PORT],
        token=device.get(CONF_TOKEN),
        control=S2Control(device.get(CONF_S2_CONTROL, S2Control.PEBC)),
        connect_timeout=connect_timeout,
    )
