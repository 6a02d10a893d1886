"""Weather: the packaged KNMI series, interpolation, wrapping and bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import math
from pathlib import Path

from hypothesis import given, settings, strategies as st
import numpy as np
import pytest

from dacs.testbed.sim.weather import ConstantWeather, WeatherSample, WeatherSeries

START = datetime(2024, 12, 1, tzinfo=UTC)
END = datetime(2025, 3, 1, tzinfo=UTC)
HEADER = "timestamp_utc,temperature_c,global_radiation_wm2,wind_speed_ms"


@pytest.fixture(scope="module")
def knmi() -> WeatherSeries:
    return WeatherSeries.default()


@pytest.fixture(scope="module")
def knmi_wrapped() -> WeatherSeries:
    return WeatherSeries.default(wrap=True)


def _write(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "weather.csv"
    path.write_text("\n".join(("# test data", HEADER, *rows)) + "\n", encoding="utf-8")
    return path


def test_packaged_file_covers_the_winter(knmi: WeatherSeries) -> None:
    assert len(knmi) == 2160
    assert knmi.start == START
    assert knmi.end == END
    assert not knmi.wrap


def test_packaged_file_keeps_the_knmi_credit() -> None:
    text = (
        Path(__file__).parents[2]
        / "src/dacs/testbed/sim/data/knmi_de_bilt_2024_2025_hourly.csv"
    ).read_text(encoding="utf-8")
    assert text.splitlines()[0] == (
        "# BRON: KONINKLIJK NEDERLANDS METEOROLOGISCH INSTITUUT (KNMI)"
    )


def test_raw_rows_are_the_file_values(knmi: WeatherSeries) -> None:
    times, temps, radiation = knmi.as_arrays()
    assert times[0] == START.timestamp()
    assert temps[0] == 5.7
    assert radiation[0] == 0.0
    assert np.all(np.diff(times) == 3600.0)
    # Monthly means and extremes stated in the data README.
    assert temps.min() == -5.1
    assert temps.max() == 17.9


def test_temperature_is_placed_at_the_end_of_its_hour(knmi: WeatherSeries) -> None:
    # Row 00:00Z (5.7 °C) was observed at 01:00Z, row 01:00Z (5.6 °C) at 02:00Z.
    assert knmi.at(START + timedelta(hours=1)).outdoor_temp_c == 5.7
    assert knmi.at(START + timedelta(hours=2)).outdoor_temp_c == 5.6
    assert knmi.at(START + timedelta(hours=1.5)).outdoor_temp_c == pytest.approx(5.65)
    # Before the first snapshot the first value holds.
    assert knmi.at(START).outdoor_temp_c == 5.7
    assert knmi.at(END).outdoor_temp_c == 2.8


def test_radiation_mean_sits_mid_hour_and_daily_energy_is_kept(
    knmi: WeatherSeries,
) -> None:
    times, _, radiation = knmi.as_arrays()
    noon = int(np.argmax(radiation))
    middle = datetime.fromtimestamp(times[noon] + 1800, tz=UTC)
    assert knmi.at(middle).global_radiation_wm2 == pytest.approx(radiation[noon])
    day = noon // 24 * 24
    minutes = times[day] + 60.0 * np.arange(24 * 60 + 1)
    _, sampled = knmi.at_epoch_seconds(minutes)
    energy = float(np.sum((sampled[1:] + sampled[:-1]) / 2) * 60.0)
    assert energy == pytest.approx(
        float(radiation[day : day + 24].sum()) * 3600, rel=1e-6
    )


def test_outside_the_series_is_an_error_without_wrap(knmi: WeatherSeries) -> None:
    with pytest.raises(ValueError, match="wrap=True"):
        knmi.at(START - timedelta(seconds=1))
    with pytest.raises(ValueError, match="outside"):
        knmi.at(END + timedelta(hours=1))
    with pytest.raises(ValueError, match="outside"):
        knmi.at_epoch_seconds(np.array([END.timestamp() + 1.0]))


def test_naive_datetimes_are_rejected(knmi: WeatherSeries) -> None:
    with pytest.raises(ValueError, match="timezone"):
        knmi.at(datetime(2025, 1, 1, 12))  # noqa: DTZ001
    with pytest.raises(ValueError, match="timezone"):
        ConstantWeather(5.0).at(datetime(2025, 1, 1, 12))  # noqa: DTZ001


def test_other_time_zones_mean_the_same_instant(knmi: WeatherSeries) -> None:
    from zoneinfo import ZoneInfo

    local = datetime(2025, 1, 15, 13, 0, tzinfo=ZoneInfo("Europe/Amsterdam"))
    assert knmi.at(local) == knmi.at(datetime(2025, 1, 15, 12, 0, tzinfo=UTC))


def test_wrap_cycles_any_date_onto_the_series(knmi_wrapped: WeatherSeries) -> None:
    period = END - START
    when = datetime(2025, 1, 20, 7, 23, tzinfo=UTC)
    assert knmi_wrapped.at(when + period) == knmi_wrapped.at(when)
    assert knmi_wrapped.at(when - 3 * period) == knmi_wrapped.at(when)
    # Any year works, and the seam joins the last hour to the first.
    assert math.isfinite(
        knmi_wrapped.at(datetime(2031, 7, 1, tzinfo=UTC)).outdoor_temp_c
    )
    assert knmi_wrapped.at(END) == knmi_wrapped.at(START)
    assert knmi_wrapped.at(START).outdoor_temp_c == 2.8
    halfway = knmi_wrapped.at(START + timedelta(minutes=30)).outdoor_temp_c
    assert halfway == pytest.approx((2.8 + 5.7) / 2)


@settings(max_examples=50, deadline=None)
@given(offset_s=st.floats(min_value=-1e8, max_value=1e8, allow_nan=False))
def test_vector_and_scalar_lookups_agree(offset_s: float) -> None:
    series = WeatherSeries.default(wrap=True)
    when = START + timedelta(seconds=offset_s)
    temps, radiation = series.at_epoch_seconds(np.array([when.timestamp()]))
    sample = series.at(when)
    assert temps[0] == pytest.approx(sample.outdoor_temp_c, abs=1e-9)
    assert radiation[0] == pytest.approx(sample.global_radiation_wm2, abs=1e-9)
    assert -6.0 < sample.outdoor_temp_c < 18.0
    assert sample.global_radiation_wm2 >= 0.0


def test_from_csv_reads_a_file(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "2025-01-01T00:00:00Z,1.0,0.0,2.0",
        "2025-01-01T01:00:00Z,3.0,100.0,2.0",
    )
    series = WeatherSeries.from_csv(path)
    assert series.start == datetime(2025, 1, 1, tzinfo=UTC)
    assert series.end == datetime(2025, 1, 1, 2, tzinfo=UTC)
    # T observed at 01:00 and 02:00; Q means centred on 00:30 and 01:30.
    assert series.at(datetime(2025, 1, 1, 1, 0, tzinfo=UTC)) == WeatherSample(1.0, 50.0)
    assert series.at(datetime(2025, 1, 1, 1, 30, tzinfo=UTC)) == WeatherSample(
        2.0, 100.0
    )


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            ("2025-01-01T00:00:00Z,1.0,0.0,2.0", "2025-01-01T01:00:00Z,x,0.0,2.0"),
            "row 3",
        ),
        (("2025-01-01T00:00:00Z,nan,0.0,2.0",), "non-finite"),
        (("2025-01-01T00:00:00Z,1.0,-1.0,2.0",), "radiation"),
        (
            ("2025-01-01T01:00:00Z,1.0,0.0,2.0", "2025-01-01T00:00:00Z,1.0,0.0,2.0"),
            "increasing",
        ),
        ((), "non-empty"),
    ],
)
def test_from_csv_rejects_bad_rows(
    tmp_path: Path, rows: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        WeatherSeries.from_csv(_write(tmp_path, *rows))


def test_from_csv_rejects_a_missing_column(tmp_path: Path) -> None:
    path = tmp_path / "weather.csv"
    path.write_text("timestamp_utc,temperature_c\n2025-01-01T00:00:00Z,1.0\n")
    with pytest.raises(ValueError, match="global_radiation_wm2"):
        WeatherSeries.from_csv(path)


def test_constant_weather() -> None:
    weather = ConstantWeather(-4.0, 120.0)
    assert weather.at(START) == WeatherSample(-4.0, 120.0)
    temps, radiation = weather.at_epoch_seconds(np.zeros(3))
    assert temps.tolist() == [-4.0] * 3
    assert radiation.tolist() == [120.0] * 3
    with pytest.raises(ValueError, match="finite"):
        ConstantWeather(math.nan)
    with pytest.raises(ValueError, match="radiation"):
        ConstantWeather(5.0, -1.0)
