"""Forecasters and verification metrics on synthetic data with a known answer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import models.forecast.baselines  # noqa: F401 - registers the forecasters
import models.forecast.lgbm  # noqa: F401
from features.forecast_features import Panel, targets
from models.forecast import metrics
from models.forecast.base import FORECASTERS, Forecast, create_forecaster


def _panel(T=24 * 200, S=3, seed=1):
    rng = np.random.default_rng(seed)
    times = pd.date_range("2015-01-01", periods=T, freq="h")
    t = np.arange(T)
    # AR(1) anomalies around a diurnal cycle: predictable at short leads, climatological at long
    y = np.zeros((S, T))
    a = np.zeros(S)
    for i in range(T):
        a = 0.97 * a + rng.normal(0, 8, S)
        y[:, i] = 60 + 20 * np.sin(2 * np.pi * t[i] / 24) + a
    y = np.maximum(y, 1)
    return Panel(
        [f"S{i}" for i in range(S)],
        times,
        {"pm25": y, "pm10": 1.5 * y},
        np.zeros(S),
        np.zeros(S),
        "UTC",
    )


def test_registry():
    assert {"persistence", "climatology", "lightgbm"} <= set(FORECASTERS)
    with pytest.raises(KeyError):
        create_forecaster("crystal_ball", "pm25")


@pytest.fixture(scope="module")
def fitted():
    p = _panel()
    train_end = p.times[24 * 150]
    issue = np.arange(24 * 152, 24 * 196, 6)
    leads = np.arange(1, 73)
    obs = targets(p, "pm25", issue, leads)
    out = {}
    for name, params in [
        ("persistence", {}),
        ("climatology", {}),
        (
            "lightgbm",
            {
                "features": {"covariates": ["pm10"]},
                "issue_stride": 2,
                "lgbm": {"n_estimators": 200},
            },
        ),
    ]:
        m = create_forecaster(name, "pm25", **params).fit(p, train_end)
        out[name] = m.predict(p, issue, leads)
    return out, obs


def test_skill_pattern(fitted):
    fc, obs = fitted
    r = {k: metrics.rmse(f.mean, obs) for k, f in fc.items()}
    assert r["persistence"][0] < r["climatology"][0]  # persistence wins at 1 h
    assert r["climatology"][71] < r["persistence"][71]  # climatology wins at 72 h
    best = np.minimum(r["persistence"], r["climatology"])
    assert np.all(r["lightgbm"][:24] <= best[:24] * 1.02)  # the model is at least as good early on
    assert r["lightgbm"][11] < 0.95 * best[11]  # and clearly better in the middle


def test_quantiles_are_ordered_and_cover(fitted):
    fc, obs = fitted
    for f in fc.values():
        assert np.all(np.diff(f.quantiles, axis=-1) >= 0)
        cov = metrics.coverage(f.quantile(0.1), f.quantile(0.9), obs)
        assert 0.6 < np.nanmean(cov) < 0.95


def test_metric_definitions():
    pred = np.array([[[80.0, 80.0, 10.0, 10.0]]]).transpose(0, 2, 1)  # S=1, N=4, L=1
    obs = np.array([[[90.0, 10.0, 90.0, 10.0]]]).transpose(0, 2, 1)
    s = metrics.categorical_scores(pred, obs, 75)
    assert s["pod"][0] == 0.5 and s["far"][0] == 0.5 and s["csi"][0] == pytest.approx(1 / 3)
    assert metrics.rmse(pred, obs)[0] == pytest.approx(np.sqrt((100 + 4900 + 6400 + 0) / 4))
    assert metrics.pinball(np.array([[[10.0]]]), np.array([[[20.0]]]), 0.9)[0] == pytest.approx(9.0)


def test_exceedance_probability_from_quantiles():
    q = np.array([[[[50.0, 75.0, 100.0]]]])
    f = Forecast(mean=q[..., 1], quantiles=q, levels=(0.1, 0.5, 0.9))
    assert f.exceedance_probability(75.0)[0, 0, 0] == pytest.approx(0.5)
    assert f.exceedance_probability(100.0)[0, 0, 0] == pytest.approx(0.1)
    assert f.exceedance_probability(1000.0)[0, 0, 0] == 0.0
    assert f.exceedance_probability(0.0)[0, 0, 0] == 1.0


def test_every_configured_model_runs_through_the_backtest():
    """Each configs/models/*.yml (as shipped) fits and predicts the configured horizon."""
    from models.forecast.backtest import run_backtest
    from pipelines.forecast.jobs import model_configs

    p = _panel(T=24 * 120)
    names = ["persistence", "climatology", "mlforecast_default"]
    res = run_backtest(
        p,
        "pm25",
        model_configs(names),
        p.times[24 * 100],
        p.times[24 * 101],
        p.times[24 * 119],
        issue_stride=24,
        max_lead=96,
    )
    assert set(res.table["model"]) == set(names)
    assert res.table.groupby("model")["lead"].max().eq(96).all()
    assert np.isfinite(res.table["rmse"]).all()
