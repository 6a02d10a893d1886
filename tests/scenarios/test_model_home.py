"""A home of the street's model reads like a home stepped on its own."""

from __future__ import annotations

from datetime import UTC, datetime
import math

import pytest

from dacs.devices.models import OperatingMode
from dacs.testbed.scenarios.model_home import ModelHome
from dacs.testbed.sim.hybrid import HybridHome, make_neighbourhood_configs
from dacs.testbed.sim.neighbourhood_model import NeighbourhoodModel
from dacs.testbed.sim.weather import WeatherSeries

START = datetime(2025, 1, 20, 16, tzinfo=UTC)
WEATHER = WeatherSeries.default(wrap=True)


def test_both_homes_report_the_same_readings_step_by_step() -> None:
    configs = make_neighbourhood_configs(3, 7)
    model = NeighbourhoodModel(configs, WEATHER, START)
    views = [ModelHome(model, i, c) for i, c in enumerate(configs)]
    alone = [HybridHome(c, WEATHER, START) for c in configs]
    for view, home in zip(views, alone, strict=True):
        assert view.last_step is None
        assert home.last_step is None
        assert view.hp_electric_w == view.hp_thermal_w == view.boiler_thermal_w == 0
        assert home.hp_electric_w == home.hp_thermal_w == home.boiler_thermal_w == 0
        assert math.isnan(view.outdoor_temp_c)  # the street has not stepped yet
        assert view.config is home.config
    # A limit on one, gas only on another: the readings must follow either way.
    for home in (views[0], alone[0]):
        home.electric_limit_w = 600.0  # above its 420 W floor
    for home in (views[1], alone[1]):
        home.mode = OperatingMode.GAS_ONLY
    for _ in range(30):
        step = model.step(60.0)
        for view, home in zip(views, alone, strict=True):
            view.took(step)
            home.step(60.0)
    for view, home in zip(views, alone, strict=True):
        assert view.outdoor_temp_c == pytest.approx(home.outdoor_temp_c)
        assert view.indoor_temp_c == pytest.approx(home.indoor_temp_c, abs=1e-6)
        for reading in ("hp_electric_w", "hp_thermal_w", "boiler_thermal_w"):
            assert getattr(view, reading) == pytest.approx(
                getattr(home, reading), rel=1e-6, abs=1e-6
            ), reading
        last, own = view.last_step, home.last_step
        assert last is not None
        assert own is not None
        assert last.flow_temp_c == pytest.approx(own.flow_temp_c)
    assert 0 < views[0].hp_electric_w <= 600.0
    assert views[1].hp_electric_w == 0 < views[1].boiler_thermal_w


def test_a_home_of_the_street_cannot_step_alone() -> None:
    configs = make_neighbourhood_configs(2, 7)
    view = ModelHome(NeighbourhoodModel(configs, WEATHER, START), 1, configs[1])
    with pytest.raises(RuntimeError, match="step the model"):
        view.step(60.0)
