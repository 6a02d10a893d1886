"""The sensors: measurements, the limit in force, flexibility events and earnings."""

from __future__ import annotations

from datetime import UTC, datetime

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.sensor import (
    ATTR_LAST_RESET,
    ATTR_STATE_CLASS,
    SensorStateClass,
)
from homeassistant.const import STATE_UNKNOWN, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    snapshot_platform,
)
from syrupy.assertion import SnapshotAssertion

from custom_components.dacs_hw.const import DOMAIN
from dacs.protocol import Statement, encode
from tests.home.conftest import AggregatorProbe

from .conftest import HOME, SERIAL, setup_entry, wait_for


# The monthly totals' last_reset is the start of the running month.
@pytest.mark.freeze_time("2026-12-07 12:00:00+00:00", tick=True)
@pytest.mark.parametrize("init_integration", [Platform.SENSOR], indirect=True)
@pytest.mark.usefixtures("entity_registry_enabled_by_default", "init_integration")
async def test_entities(
    hass: HomeAssistant,
    snapshot: SnapshotAssertion,
    entity_registry: er.EntityRegistry,
    device_registry: dr.DeviceRegistry,
    mock_config_entry: MockConfigEntry,
) -> None:
    """Every sensor of a linked DACS-profile heat pump, on one device."""
    await snapshot_platform(hass, entity_registry, snapshot, mock_config_entry.entry_id)
    device = device_registry.async_get_device_by_identifier(
        (DOMAIN, SERIAL), mock_config_entry.entry_id
    )
    assert device is not None
    for entry in er.async_entries_for_config_entry(
        entity_registry, mock_config_entry.entry_id
    ):
        assert entry.device_id == device.id


@pytest.mark.usefixtures("init_integration")
async def test_noisy_sensors_disabled_by_default(
    hass: HomeAssistant, entity_registry: er.EntityRegistry
) -> None:
    """Return temperature and the heat energy counters start disabled."""
    for entity_id in (
        "sensor.hybrid_heat_pump_return_temperature",
        "sensor.hybrid_heat_pump_heat_pump_heat_energy",
        "sensor.hybrid_heat_pump_boiler_heat_energy",
    ):
        entry = entity_registry.async_get(entity_id)
        assert entry is not None
        assert entry.disabled_by is er.RegistryEntryDisabler.INTEGRATION
        assert hass.states.get(entity_id) is None


@pytest.mark.parametrize("linked", [False])
@pytest.mark.usefixtures("init_integration")
async def test_without_an_aggregator(hass: HomeAssistant) -> None:
    """Without a broker link: monitoring and the limit, no flexibility sensors."""
    assert hass.states.get("sensor.hybrid_heat_pump_electric_power") is not None
    assert hass.states.get("sensor.hybrid_heat_pump_power_limit_source") is not None
    for key in (
        "flexibility_event",
        "flexibility_event_ends",
        "next_flexibility_event",
        "participation_paused_until",
        "flexibility_delivered_this_month",
        "earnings_this_month",
        "gas_compensation_this_month",
    ):
        assert hass.states.get(f"sensor.hybrid_heat_pump_{key}") is None


@pytest.mark.parametrize(("profile", "linked"), [("nibe_s", False)])
@pytest.mark.usefixtures("init_integration")
async def test_only_what_the_profile_measures(hass: HomeAssistant) -> None:
    """A NIBE measures no heat output: no heat output, COP or boiler share sensors."""
    assert hass.states.get("sensor.hybrid_heat_pump_electric_power").state == "760.0"
    for key in ("heat_pump_heat_output", "coefficient_of_performance", "boiler_share"):
        assert hass.states.get(f"sensor.hybrid_heat_pump_{key}") is None
    # The operating state still tells that the heat pump heats.
    assert hass.states.get("sensor.hybrid_heat_pump_heat_source").state == "heat_pump"


@pytest.mark.usefixtures("init_integration")
async def test_statement_of_this_month(
    hass: HomeAssistant, probe: AggregatorProbe
) -> None:
    """The aggregator's statement shows as this month's flexibility, earnings and gas."""
    delivered = "sensor.hybrid_heat_pump_flexibility_delivered_this_month"
    earnings = "sensor.hybrid_heat_pump_earnings_this_month"
    gas = "sensor.hybrid_heat_pump_gas_compensation_this_month"
    assert hass.states.get(delivered).state == STATE_UNKNOWN
    now = datetime.now(UTC).replace(microsecond=0)
    month = dt_util.as_local(now).strftime("%Y-%m")
    statement = Statement(
        home_id=HOME,
        issued_at=now,
        period=month,
        delivered_kwh=3.5,
        earnings_eur=0.88,
        gas_compensation_eur=1.64,
        events=2,
    )
    await probe.client.publish(
        f"dacs/v1/{HOME}/statement", encode(statement), qos=1, retain=True
    )
    await wait_for(lambda: hass.states.get(delivered).state == "3.5")
    assert hass.states.get(earnings).state == "0.88"
    assert hass.states.get(gas).state == "1.64"

    # Last month's final statement says nothing about this month yet.
    last = Statement(
        home_id=HOME,
        issued_at=now,
        period="2001-01",
        delivered_kwh=9.0,
        earnings_eur=2.0,
        events=4,
        final=True,
    )
    await probe.client.publish(
        f"dacs/v1/{HOME}/statement", encode(last), qos=1, retain=True
    )
    await wait_for(lambda: hass.states.get(delivered).state == "0.0")
    assert hass.states.get(earnings).state == "0.0"
    assert hass.states.get(gas).state == "0.0"


MONTHLY = (
    "sensor.hybrid_heat_pump_flexibility_delivered_this_month",
    "sensor.hybrid_heat_pump_earnings_this_month",
    "sensor.hybrid_heat_pump_gas_compensation_this_month",
)


@pytest.mark.parametrize(
    ("now", "month_start"),
    [
        ("2026-12-07 12:00:00+00:00", "2026-12-01T00:00:00-08:00"),
        # Already January in UTC, still December at home (US/Pacific in tests).
        ("2027-01-01 07:30:00+00:00", "2026-12-01T00:00:00-08:00"),
        ("2027-01-01 08:30:00+00:00", "2027-01-01T00:00:00-08:00"),
    ],
)
async def test_monthly_totals_start_with_the_local_month(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    now: str,
    month_start: str,
) -> None:
    """Statistics see each monthly total as a total that began at the local month's start."""
    freezer.move_to(now)
    mock_config_entry.add_to_hass(hass)
    await setup_entry(hass, mock_config_entry)
    for entity_id in MONTHLY:
        attributes = hass.states.get(entity_id).attributes
        assert attributes[ATTR_STATE_CLASS] == SensorStateClass.TOTAL
        assert attributes[ATTR_LAST_RESET] == month_start
    limit = hass.states.get("sensor.hybrid_heat_pump_power_limit_in_force")
    assert limit.attributes[ATTR_STATE_CLASS] == SensorStateClass.MEASUREMENT
    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)


@pytest.mark.usefixtures("init_integration")
async def test_every_measurement_has_a_display_precision(
    hass: HomeAssistant, entity_registry: er.EntityRegistry
) -> None:
    """Numbers with a state class show rounded; the COP itself has two decimals."""
    measuring = [
        entry
        for entry in entity_registry.entities.values()
        if entry.platform == DOMAIN
        and entry.domain == "sensor"
        and (entry.capabilities or {}).get(ATTR_STATE_CLASS) is not None
    ]
    assert len(measuring) > 10
    for entry in measuring:
        assert entry.options["sensor"]["suggested_display_precision"] is not None, (
            entry.entity_id
        )
    cop = hass.states.get("sensor.hybrid_heat_pump_coefficient_of_performance")
    assert cop.state == f"{float(cop.state):.2f}".rstrip("0").rstrip(".")
