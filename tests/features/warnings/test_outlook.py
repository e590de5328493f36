"""An area's stations, area-mean forecasts and driver values (pure, synthetic data)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from features.warnings.outlook import (
    area_mean_forecast,
    area_station_ids,
    episode_driver_values,
    station_index,
    window_starts,
)
from features.warnings.rules import Decision
from models.forecast.drivers import GROUPS

ISSUE = pd.Timestamp("2016-12-14 16:00")  # 15 Dec 00:00 Beijing time


def _forecast(pm25_by_station: list[list[float]]) -> xr.Dataset:
    """PM2.5 constant within each 24-h window; one row of daily values per station."""
    mean = np.array([np.repeat(r, 24) for r in pm25_by_station], float)[:, None, :]
    S, _, L = mean.shape
    drivers = np.zeros((S, 1, L, len(GROUPS)))
    drivers[..., GROUPS.index("local")] = np.arange(1, L + 1)  # contribution = lead hour
    return xr.Dataset(
        {
            "pm25_mean": (("station", "issue_time", "lead_time"), mean),
            "pm25_quantile": (
                ("station", "issue_time", "lead_time", "quantile"),
                np.stack([0.8 * mean, mean, 1.2 * mean], axis=-1),
            ),
            "pm25_drivers": (("station", "issue_time", "lead_time", "driver"), drivers),
        },
        coords={
            "station": [f"s{i}" for i in range(S)],
            "issue_time": [ISSUE.to_datetime64()],
            "lead_time": np.arange(1, L + 1),
            "quantile": [0.1, 0.5, 0.9],
            "driver": list(GROUPS),
        },
    )


def test_station_index_and_area_ids():
    assert list(station_index(["a", "b", "c"], "all")) == [0, 1, 2]
    assert list(station_index(["a", "b", "c"], ["c", "x", "a"])) == [2, 0]

    class _S:
        def __init__(self, i):
            self.id = i

    class _Net:
        stations = [_S("a"), _S("b")]

    class _Area:
        stations = "all"

    assert area_station_ids(_Area(), _Net()) == ["a", "b"]
    _Area.stations = ["b"]
    assert area_station_ids(_Area(), _Net()) == ["b"]


def test_area_mean_forecast_averages_the_chosen_stations():
    ds = _forecast([[60, 100, 60, 60], [60, 300, 60, 60], [999, 999, 999, 999]])
    ds["pm25_mean"][1, 0, 30] = np.nan  # a station without a value is ignored
    means = area_mean_forecast(ds, np.array([0, 1]))
    assert set(means) == {"pm25"}
    mean, q = means["pm25"]
    assert mean.shape == (1, 1, 96) and q.shape == (1, 1, 96, 3)
    assert mean[0, 0, 30] == 100.0 and mean[0, 0, 31] == 200.0
    assert q[0, 0, 31].tolist() == pytest.approx([160.0, 200.0, 240.0])
    assert window_starts(ISSUE, 2) == [ISSUE, ISSUE + pd.Timedelta(hours=24)]


def _decision(start_h: float | None, end_h: float | None, primary: str = "pm25") -> Decision:
    start = ISSUE + pd.Timedelta(hours=start_h) if start_h is not None else None
    end = ISSUE + pd.Timedelta(hours=end_h) if end_h is not None else None
    return Decision(
        "yellow" if start else None, start, end, 0.9, (0, 0), primary, 0.0, None, False, [], []
    )


def test_driver_values_over_the_episode_or_the_first_hours():
    ds = _forecast([[60, 200, 200, 60], [60, 200, 200, 60]])
    var, period, vals = episode_driver_values(ds, np.array([1]), _decision(24, 72), ISSUE)
    assert (var, period, vals.shape) == ("pm25_drivers", "episode", (1, 48, len(GROUPS)))
    assert vals[0, :, GROUPS.index("local")].tolist() == list(range(25, 73))  # leads 25..72
    var, period, vals = episode_driver_values(ds, np.array([0, 1]), _decision(None, None), ISSUE)
    assert period == "first 72 h" and vals.shape == (2, 72, len(GROUPS))
    _, period, vals = episode_driver_values(
        ds, np.array([0]), _decision(None, None), ISSUE, default_hours=12
    )
    assert period == "first 12 h" and vals.shape[1] == 12
    # no O3 attribution in the file: the PM2.5 drivers are shown
    assert episode_driver_values(ds, np.array([0]), _decision(24, 48, "o3"), ISSUE)[0] == (
        "pm25_drivers"
    )
    assert episode_driver_values(ds, np.array([], int), _decision(24, 72), ISSUE) is None
    no_drivers = ds.drop_vars("pm25_drivers")
    assert episode_driver_values(no_drivers, np.array([0]), _decision(24, 72), ISSUE) is None
