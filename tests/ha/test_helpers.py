"""Library errors become translated Home Assistant errors."""

from __future__ import annotations

from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
import pytest

from custom_components.dacs_hw.const import DOMAIN
from custom_components.dacs_hw.helpers import translated_errors
from dacs.devices import (
    HeatPumpConnectionError,
    HeatPumpDeviceError,
    HeatPumpTimeoutError,
    HeatPumpUnsupportedError,
)


@pytest.mark.parametrize(
    ("error", "kind", "translation_key"),
    [
        (
            ValueError("a pause must end in the future"),
            ServiceValidationError,
            "invalid_setting",
        ),
        (
            HeatPumpUnsupportedError("no room setpoint"),
            HomeAssistantError,
            "unsupported",
        ),
        (HeatPumpTimeoutError("no answer"), HomeAssistantError, "communication_error"),
        (HeatPumpConnectionError("refused"), HomeAssistantError, "communication_error"),
        (HeatPumpDeviceError("illegal value", 3), HomeAssistantError, "device_error"),
    ],
)
async def test_translated_errors(
    error: Exception, kind: type[HomeAssistantError], translation_key: str
) -> None:
    """Each library error maps to one translated message with its detail."""
    with pytest.raises(kind) as raised:
        async with translated_errors():
            raise error
    assert type(raised.value) is kind
    assert raised.value.translation_domain == DOMAIN
    assert raised.value.translation_key == translation_key
    assert raised.value.translation_placeholders == {"error": str(error)}
    assert raised.value.__cause__ is error
