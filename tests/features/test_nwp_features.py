"""Weather-forecast features: visibility, valid-time indexing, leak safety, derived variables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.forecast_features import (
    MissingWeatherForecast,
    Panel,
    weather_forecast_rows,
    with_weather_forecast,
)
from features.nwp_features import NWPRuns, derive, feature_names, valid_time_features, visible_runs


def _runs(n_runs=6, stations=("A", "B"), periods=60, latency=5.0, seed=0) -> NWPRuns:
    rng = np.random.default_rng(seed)
    times = pd.date_range("2020-01-01", periods=n_runs, freq="12h")
    shape = (n_runs, len(stations), periods)
    # value = run index * 1000 + period: the test can read back which run and period was taken
    code = (np.arange(n_runs)[:, None, None] * 1000 + np.arange(periods)[None, None, :]).astype(
        "float32"
    )
    values = {
        "air_pressure": np.broadcast_to(code, shape).copy(),
        "air_temperature": rng.normal(5, 3, shape).astype("float32"),
        "dew_point_temperature": rng.normal(-2, 3, shape).astype("float32"),
        "eastward_wind": rng.normal(0, 2, shape).astype("float32"),
        "northward_wind": rng.normal(0, 2, shape).astype("float32"),
        "boundary_layer_height": rng.uniform(100, 1500, shape).astype("float32"),
        "precipitation": rng.exponential(0.1, shape).astype("float32"),
    }
    return NWPRuns("test-feed", list(stations), times, np.arange(periods), values, latency)


def test_visible_runs_respects_latency():
    times = pd.date_range("2020-01-01", periods=3, freq="12h")
    issue = pd.DatetimeIndex(["2020-01-01 04:00", "2020-01-01 05:00", "2020-01-01 16:59",
                              "2020-01-01 17:00", "2020-01-03"])  # fmt: skip
    assert visible_runs(times, issue, 5).tolist() == [-1, 0, 0, 1, 2]


def test_valid_time_features_take_the_valid_period_of_the_newest_visible_run():
    runs = _runs()
    issue = pd.DatetimeIndex(["2020-01-01 06:00", "2020-01-01 18:00"])
    feats, names, run_idx = valid_time_features(runs, issue, np.array([1, 24]))
    assert run_idx.tolist() == [0, 1]
    p = feats[..., names.index("nwp_air_pressure")]
    # issue 06:00 sees run 00:00 -> lead 1 is period 7, lead 24 period 30
    assert p[0, 0].tolist() == [7.0, 30.0]
    # issue 18:00 sees run 12:00 (index 1) -> period 7 and 30 of run 1
    assert p[1, 1].tolist() == [1007.0, 1030.0]
    change = feats[..., names.index("nwp_air_pressure_change")]
    assert change[0, 0].tolist() == [1.0, 24.0]  # p(valid) - p(issue): period 7 - period 6 ...
    assert feats[0, 0, :, names.index("nwp_age")].tolist() == [7.0, 30.0]
    assert names == feature_names(list(runs.values))


def test_beyond_the_run_and_before_any_run_is_nan():
    runs = _runs(periods=30)
    issue = pd.DatetimeIndex(["2020-01-01 02:00", "2020-01-01 06:00"])
    feats, names, run_idx = valid_time_features(runs, issue, np.array([1, 23, 24]))
    assert run_idx.tolist() == [-1, 0]
    assert np.isnan(feats[:, 0]).all()
    p = feats[0, 1, :, names.index("nwp_air_pressure")]
    assert p[:2].tolist() == [7.0, 29.0] and np.isnan(p[2])  # period 30 is past the run


def test_later_runs_never_change_the_features():
    """Leak test: perturb every run not yet visible at the issue time; nothing may change."""
    runs = derive(_runs())
    issue = pd.DatetimeIndex(["2020-01-02 05:00"])  # visible: runs at 00:00 on 2 Jan and before
    leads = np.arange(1, 49)
    before, _, r = valid_time_features(runs, issue, leads)
    later = runs.run_times + pd.Timedelta(hours=runs.latency_hours) > issue[0]
    assert later.sum() >= 1 and r[0] == np.flatnonzero(~later)[-1]
    noisy = {k: a.copy() for k, a in runs.values.items()}
    for a in noisy.values():
        a[later] = np.float32(9.9e6)
    after, _, _ = valid_time_features(
        NWPRuns(runs.feed, runs.stations, runs.run_times, runs.periods, noisy, runs.latency_hours),
        issue,
        leads,
    )
    np.testing.assert_array_equal(before, after)


def test_derive_adds_stagnation_features_within_one_run():
    runs = derive(_runs())
    for v in ("wind_speed", "relative_humidity", "ventilation", "pressure_tend24", "calm24",
              "wind_speed_mean24", "relative_humidity_mean24", "ventilation_mean24",
              "precipitation_sum24"):  # fmt: skip
        assert v in runs.values, v
    ws = np.hypot(runs.values["eastward_wind"], runs.values["northward_wind"])
    np.testing.assert_allclose(runs.values["wind_speed"], ws, rtol=1e-6)
    np.testing.assert_allclose(
        runs.values["ventilation"], ws * runs.values["boundary_layer_height"], rtol=1e-5
    )
    tend = runs.values["pressure_tend24"]
    assert np.isnan(tend[:, :, :24]).all()  # never reaches into another run
    np.testing.assert_allclose(tend[:, :, 24:], 24.0)  # code pressure rises 1 per period
    calm = runs.values["calm24"]
    assert np.isnan(calm[:, :, :5]).all() and np.isfinite(calm[:, :, 5:]).all()
    assert (calm[np.isfinite(calm)] >= 0).all() and (calm[np.isfinite(calm)] <= 24).all()


def _panel(stations=("B", "A")) -> Panel:
    times = pd.date_range("2020-01-01", periods=120, freq="h")
    vals = {"pm25": np.ones((len(stations), len(times)))}
    return Panel(list(stations), times, vals, np.zeros(2), np.zeros(2))


def test_attached_feed_is_aligned_to_the_panel_stations():
    panel = with_weather_forecast(_panel(), _runs())
    assert panel.nwp.stations == ["B", "A"]
    raw = _runs()
    np.testing.assert_array_equal(
        panel.nwp.values["air_temperature"][:, 0], raw.values["air_temperature"][:, 1]
    )


def test_a_model_refuses_without_its_feed_naming_feed_and_issue_time():
    panel = _panel()
    idx = np.array([30])
    with pytest.raises(MissingWeatherForecast, match=r"test-feed.*2020-01-02T06:00Z"):
        weather_forecast_rows(panel, idx, np.arange(1, 5), feed="test-feed", variables=[])
    early = with_weather_forecast(panel, _runs())
    with pytest.raises(MissingWeatherForecast, match=r"no run .*visible.*2020-01-01T02:00Z"):
        weather_forecast_rows(
            early, np.array([2]), np.arange(1, 5), feed="test-feed", variables=["air_pressure"]
        )
    with pytest.raises(MissingWeatherForecast, match="lacks"):
        weather_forecast_rows(
            early, idx, np.arange(1, 5), feed="test-feed", variables=["relative_humidity_x"]
        )


def test_runs_must_be_ascending_and_hourly():
    r = _runs()
    with pytest.raises(ValueError, match="ascending"):
        NWPRuns("f", r.stations, r.run_times[::-1], r.periods, r.values)
    with pytest.raises(ValueError, match="hourly"):
        NWPRuns("f", r.stations, r.run_times, r.periods * 3, r.values)
