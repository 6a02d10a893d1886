"""Turning library errors into errors Home Assistant shows to people."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from functools import wraps
from typing import Any

from homeassistant.exceptions import HomeAssistantError, ServiceValidationError

from dacs.devices import (
    HeatPumpConnectionError,
    HeatPumpError,
    HeatPumpUnsupportedError,
)

from .const import DOMAIN


@asynccontextmanager
async def translated_errors() -> AsyncIterator[None]:
    """Raise the library's errors as translated Home Assistant errors.

    A ValueError is the library refusing a setting (outside its range, or a
    pause that would end in the past): the person asked for something
    invalid. The device errors are problems reaching or using the heat pump.
    """
    try:
        yield
    except ValueError as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="invalid_setting",
            translation_placeholders={"error": str(err)},
        ) from err
    except HeatPumpUnsupportedError as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="unsupported",
            translation_placeholders={"error": str(err)},
        ) from err
    except HeatPumpConnectionError as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="communication_error",
            translation_placeholders={"error": str(err)},
        ) from err
    except HeatPumpError as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="device_error",
            translation_placeholders={"error": str(err)},
        ) from err


def dacs_exception_handler[**P](
    func: Callable[P, Coroutine[Any, Any, None]],
) -> Callable[P, Coroutine[Any, Any, None]]:
    """Decorate an entity's action so library errors reach people translated."""

    @wraps(func)
    async def handler(*args: P.args, **kwargs: P.kwargs) -> None:
        async with translated_errors():
            await func(*args, **kwargs)

    return handler
