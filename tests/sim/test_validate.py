"""The validation command: runs on a small size and prints a sourced table."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np

from dacs.testbed.sim.climate import NORMAL_TEMPERATURE_C, NormalYear
from dacs.testbed.sim.validate import (
    ValidationRow,
    ValidationSize,
    format_table,
    validate,
)


def test_a_small_validation_gives_every_figure_with_its_source() -> None:
    rows = validate(
        ValidationSize(
            homes=16, year_days=6, winter_days=3, rebound_days=2, step_s=300.0
        )
    )
    assert len(rows) >= 5
    names = " ".join(r.figure for r in rows)
    for needed in (
        "gas saving",
        "heat pump electricity",
        "upward",
        "downward",
        "household electricity",
    ):
        assert needed in names
    for row in rows:
        assert math.isfinite(row.ours), row
        assert row.source
    saving = next(r for r in rows if r.figure.startswith("gas saving"))
    assert -1.0 < saving.ours < 0.0  # a hybrid burns less gas than a gas-only home
    table = format_table(rows)
    assert table.splitlines()[0].startswith("| figure | published | ours")
    assert len(table.splitlines()) == len(rows) + 2


def test_difference_and_the_twenty_percent_band() -> None:
    row = ValidationRow(figure="x", published=100.0, ours=119.0, unit="kWh", source="s")
    assert row.difference == np.float64(0.19) or abs(row.difference - 0.19) < 1e-12
    assert row.within
    assert not ValidationRow(
        figure="x", published=100.0, ours=79.0, unit="kWh", source="s"
    ).within


def test_the_normal_year_follows_the_monthly_normals() -> None:
    year = NormalYear()
    july = np.arange(
        1_751_328_000.0, 1_751_328_000.0 + 31 * 86_400, 3600.0
    )  # July 2025
    temps, radiation = year.at_epoch_seconds(july)
    # A month keeps the winter's anomalies (a cold or mild spell), the year its level.
    assert abs(temps.mean() - NORMAL_TEMPERATURE_C[6]) < 3.0
    assert radiation.mean() > 100
    assert np.all(radiation >= 0)
    whole = np.arange(1_735_689_600.0, 1_735_689_600.0 + 365 * 86_400, 3600.0)  # 2025
    temps, _ = year.at_epoch_seconds(whole)
    assert abs(temps.mean() - np.mean(NORMAL_TEMPERATURE_C)) < 0.5


def test_the_command_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "dacs.testbed.sim.validate", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--homes" in out.stdout
