"""D+1..D+3 outlook of a forecast and the driver values of a lead window."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from models.forecast.outlook import daily_outlook, driver_window


def _quantiles(values: np.ndarray) -> xr.DataArray:
    """Station x lead x quantile with P50 = values and P90 = values + 10."""
    q = np.stack([values - 10, values, values + 10], axis=-1)
    return xr.DataArray(
        q,
        dims=("station", "lead_time", "quantile"),
        coords={"lead_time": np.arange(1, values.shape[1] + 1), "quantile": [0.1, 0.5, 0.9]},
    )


def test_daily_outlook_per_24_h_window():
    # station A: 10, 20, 30 per day; station B: 50, 60, 70; day 3's B has one hour at 94
    a = np.repeat([10.0, 20.0, 30.0], 24)
    b = np.repeat([50.0, 60.0, 70.0], 24)
    b[-1] = 94.0  # day 3's mean for B is 71
    out = daily_outlook(_quantiles(np.stack([a, b])))
    assert list(out) == ["D+1", "D+2", "D+3"]
    assert out["D+1"] == {"p50_mean": 30.0, "p90_station_max": 60.0}
    assert out["D+2"] == {"p50_mean": 40.0, "p90_station_max": 70.0}
    assert out["D+3"]["p50_mean"] == pytest.approx(50.5)
    assert out["D+3"]["p90_station_max"] == pytest.approx(81.0)  # the station mean, not the hour


def test_daily_outlook_ignores_leads_past_the_last_day():
    a = np.concatenate([np.full(72, 5.0), np.full(24, 500.0)])  # a 96-h forecast
    out = daily_outlook(_quantiles(a[None, :]))
    assert set(out) == {"D+1", "D+2", "D+3"} and out["D+3"]["p50_mean"] == 5.0


def test_driver_window_selects_stations_and_leads():
    drivers = np.arange(3 * 1 * 6 * 5, dtype=float).reshape(3, 1, 6, 5)
    leads = np.arange(1, 7)
    vals, n = driver_window(drivers, ["A", "B", "C"], leads, ["C", "X", "A"], first=2, last=3)
    assert n == 2 and vals.shape == (2, 2, 5)
    np.testing.assert_array_equal(vals[0], drivers[2, 0, 1:3])
    np.testing.assert_array_equal(vals[1], drivers[0, 0, 1:3])
    every, n_all = driver_window(drivers, ["A", "B", "C"], leads, first=1, last=6)
    assert n_all == 3 and every.shape == (3, 6, 5)
