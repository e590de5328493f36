"""The PyTorch station-graph forecaster: geometry, determinism, no leakage, sane forecasts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import models.forecast.stgnn  # noqa: F401 - registers stgnn
from features.forecast_features import Panel, targets
from models.forecast import metrics
from models.forecast.base import create_forecaster
from models.forecast.stgnn import station_graph

PARAMS = {
    "covariates": ["pm10", "wind_u", "wind_v"],
    "window": 24,
    "hidden": 16,
    "epochs": 2,
    "patience": 3,
    "batch_size": 32,
    "issue_stride": 6,
    "seed": 3,
    "max_lead": 24,
}


def _panel(T=24 * 70, S=4, seed=2) -> Panel:
    rng = np.random.default_rng(seed)
    times = pd.date_range("2015-01-01", periods=T, freq="h")
    y = np.zeros((S, T))
    a = np.zeros(S)
    for i in range(T):
        a = 0.95 * a + rng.normal(0, 8, S)
        y[:, i] = 60 + 15 * np.sin(2 * np.pi * i / 24) + a
    y = np.maximum(y, 1)
    u = np.tile(rng.normal(0, 2, T), (S, 1))
    v = np.tile(rng.normal(0, 2, T), (S, 1))
    lat = 39.9 + 0.05 * np.arange(S)
    lon = 116.4 + 0.05 * np.arange(S)
    return Panel(
        [f"S{i}" for i in range(S)],
        times,
        {"pm25": y, "pm10": 1.4 * y, "wind_u": u, "wind_v": v},
        lat,
        lon,
        "Asia/Shanghai",
    )


def test_station_graph_geometry():
    # three stations on an east-west line, 1 degree of longitude apart at the equator
    nbr, geom = station_graph(np.zeros(3), np.array([0.0, 1.0, 2.0]), k=2)
    assert nbr.shape == (3, 2)
    assert list(nbr[0]) == [1, 2]  # nearest first
    d, ex, ey = geom[0, 0]
    assert d == pytest.approx(111.19, rel=1e-3)  # km
    assert (ex, ey) == pytest.approx((-1.0, 0.0))  # from station 1 (east) to station 0: westward
    assert np.allclose(np.hypot(geom[..., 1], geom[..., 2]), 1.0)


@pytest.fixture(scope="module")
def fitted():
    p = _panel()
    train_end = p.times[24 * 50]
    model = create_forecaster("stgnn", "pm25", **PARAMS).fit(p, train_end)
    return p, model


def test_forecast_shape_order_and_skill(fitted):
    p, model = fitted
    issue = np.arange(24 * 52, 24 * 68, 6)
    leads = np.arange(1, 25)
    fc = model.predict(p, issue, leads)
    assert fc.mean.shape == (4, len(issue), 24)
    assert fc.quantiles.shape == (4, len(issue), 24, 3)
    assert np.all(np.diff(fc.quantiles, axis=-1) >= 0)
    assert np.all(fc.mean >= 0)
    obs = targets(p, "pm25", issue, leads)
    clim = create_forecaster("climatology", "pm25").fit(p, p.times[24 * 50])
    r_model = metrics.rmse(fc.mean, obs)
    r_clim = metrics.rmse(clim.predict(p, issue, leads).mean, obs)
    assert r_model[0] < 0.8 * r_clim[0]  # it learned persistence of the anomaly at short leads
    assert model.epochs_ >= 1 and np.isfinite(model.best_val_loss_)


def test_training_is_deterministic(fitted):
    p, model = fitted
    again = create_forecaster("stgnn", "pm25", **PARAMS).fit(p, p.times[24 * 50])
    issue = np.array([24 * 60])
    a = model.predict(p, issue, np.arange(1, 25))
    b = again.predict(p, issue, np.arange(1, 25))
    np.testing.assert_allclose(a.mean, b.mean, rtol=1e-5)


def test_no_future_leak(fitted):
    p, model = fitted
    issue = np.array([24 * 60 + 5])
    leads = np.arange(1, 25)
    before = model.predict(p, issue, leads)
    changed = Panel(
        p.stations,
        p.times,
        {k: v.copy() for k, v in p.values.items()},
        p.lat,
        p.lon,
        p.time_zone,
    )
    for v in changed.values.values():
        v[:, issue[0] + 1 :] = 1e4  # everything after the issue time
    after = model.predict(changed, issue, leads)
    np.testing.assert_allclose(before.mean, after.mean)
    np.testing.assert_allclose(before.quantiles, after.quantiles)


def test_other_station_set_is_refused(fitted):
    p, model = fitted
    other = Panel(p.stations[::-1], p.times, p.values, p.lat, p.lon, p.time_zone)
    with pytest.raises(ValueError, match="trained on stations"):
        model.predict(other, np.array([24 * 60]), np.arange(1, 5))


def test_pickle_round_trip_gives_the_same_forecast(fitted, tmp_path):
    import joblib

    p, model = fitted
    joblib.dump(model, tmp_path / "m.joblib")
    back = joblib.load(tmp_path / "m.joblib")
    issue = np.array([24 * 60])
    np.testing.assert_array_equal(
        model.predict(p, issue, np.arange(1, 25)).mean,
        back.predict(p, issue, np.arange(1, 25)).mean,
    )
