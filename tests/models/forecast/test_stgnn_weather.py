"""The PyTorch station-graph forecaster with a weather-forecast (NWP) feed.

The target is driven by a "ventilation" anomaly that the model can only know through the runs of
a synthetic feed (issued every 12 h, usable 3 h later): with the feed it must beat itself without
it, refuse to forecast without the feed, never read runs issued after the issue time, and leave
models without a feed exactly as they were.
"""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

import models.forecast.stgnn  # noqa: F401 - registers stgnn
from features.forecast_features import (
    MissingWeatherForecast,
    Panel,
    targets,
    with_weather_forecast,
)
from features.nwp_features import NWPRuns
from models.forecast import metrics
from models.forecast.base import create_forecaster

FEED = "synthetic-nwp"
PARAMS = {
    "covariates": [],
    "window": 24,
    "hidden": 16,
    "neighbours": 2,
    "epochs": 12,
    "patience": 12,
    "batch_size": 8,
    "learning_rate": 3e-3,
    "issue_stride": 6,
    "seed": 1,
    "max_lead": 24,
    "threads": 1,
}
DAYS, S = 60, 3
TRAIN_END = 24 * 45  # column of the end of training
TEST_ISSUES = np.arange(24 * 46 + 3, 24 * 58, 6)
LEADS = np.arange(1, 25)
RUN_EVERY, LATENCY, PERIODS = 12, 3.0, 48
FIRST_RUN = 24  # hours after the panel's start: early training issue times have no visible run


def _world(seed: int = 5) -> tuple[Panel, NWPRuns]:
    """A panel whose pm25 follows a ventilation anomaly, and a feed that forecasts it well."""
    rng = np.random.default_rng(seed)
    T = 24 * DAYS
    times = pd.date_range("2016-03-01", periods=T, freq="h")
    w = np.zeros(T)  # regional ventilation anomaly (weather), e-folding ~12 h
    for i in range(1, T):
        w[i] = 0.92 * w[i - 1] + rng.normal(0, 0.2)
    w = 0.5 * w / w.std()
    local = 0.1 * rng.normal(size=(S, 1))  # small station offsets
    truth = w[None, :] + local  # S x T
    y = np.maximum(50 - 40 * truth + rng.normal(0, 2, (S, T)), 1.0)
    panel = Panel(
        [f"S{i}" for i in range(S)],
        times,
        {"pm25": y},
        39.9 + 0.05 * np.arange(S),
        116.4 + 0.05 * np.arange(S),
        "Asia/Shanghai",
    )
    run_cols = np.arange(FIRST_RUN, T, RUN_EVERY)
    valid = run_cols[:, None] + np.arange(PERIODS)[None, :]  # R x P
    vent = np.full((len(run_cols), S, PERIODS), np.nan, np.float32)
    inside = valid < T
    for r in range(len(run_cols)):
        k = np.flatnonzero(inside[r])
        err = rng.normal(0, 0.03, (S, len(k))) * np.sqrt(1 + k / 24)[None, :]
        vent[r][:, k] = 3000 * (1 + truth[:, valid[r, k]] + err)
    runs = NWPRuns(
        feed=FEED,
        stations=list(panel.stations),
        run_times=times[run_cols],
        periods=np.arange(PERIODS),
        values={"ventilation": vent},
        latency_hours=LATENCY,
        source="test",
        synthetic=True,
    )
    return panel, runs


@pytest.fixture(scope="module")
def world():
    torch.set_num_threads(1)
    panel, runs = _world()
    with_feed = with_weather_forecast(panel, runs)
    end = panel.times[TRAIN_END]
    wx = create_forecaster("stgnn", "pm25", **PARAMS).fit(with_feed, end)
    plain = create_forecaster("stgnn", "pm25", **PARAMS).fit(panel, end)
    return panel, runs, with_feed, wx, plain


def test_feed_is_recorded_and_scaled_on_training(world):
    panel, runs, with_feed, wx, plain = world
    assert wx.weather_feed_ == FEED
    assert wx.weather_variables_ == sorted(with_feed.nwp.values)
    assert wx.weather_synthetic_ is True
    F = len(wx.weather_names_)
    assert wx.weather_center_.shape == wx.weather_scale_.shape == (F,)
    assert np.all(np.isfinite(wx.weather_center_)) and np.all(wx.weather_scale_ > 0)
    assert wx.net_.n_lead_channels == 3 + F + 1
    assert plain.weather_feed_ is None and plain.weather_variables_ == []
    assert plain.net_.n_lead_channels == 3


def test_feed_trains_predicts_and_beats_no_feed(world):
    panel, runs, with_feed, wx, plain = world
    fc = wx.predict(with_feed, TEST_ISSUES, LEADS)
    assert fc.mean.shape == (S, len(TEST_ISSUES), len(LEADS))
    assert np.all(np.isfinite(fc.mean)) and np.all(np.isfinite(fc.quantiles))
    assert np.all(np.diff(fc.quantiles, axis=-1) >= 0)
    obs = targets(panel, "pm25", TEST_ISSUES, LEADS)
    r_wx = metrics.rmse(fc.mean, obs)
    r_plain = metrics.rmse(plain.predict(panel, TEST_ISSUES, LEADS).mean, obs)
    assert np.mean(r_wx) < 0.5 * np.mean(r_plain)  # ~0.2 over world and model seeds
    assert np.mean(r_wx[12:]) < 0.5 * np.mean(r_plain[12:])  # forecast weather helps long leads


def test_predicting_without_the_feed_is_refused(world):
    panel, runs, with_feed, wx, plain = world
    with pytest.raises(MissingWeatherForecast, match=FEED):
        wx.predict(panel, TEST_ISSUES[:2], LEADS)
    other = with_weather_forecast(panel, replace(runs, feed="another-feed"))
    with pytest.raises(MissingWeatherForecast, match=FEED):
        wx.predict(other, TEST_ISSUES[:2], LEADS)
    # before the first run is visible (FIRST_RUN + latency)
    with pytest.raises(MissingWeatherForecast, match="no run"):
        wx.predict(with_feed, np.array([FIRST_RUN + 1]), LEADS)


def test_runs_issued_after_the_issue_time_are_never_read(world):
    panel, runs, with_feed, wx, plain = world
    # issue time exactly when a run becomes usable: that run is the one used
    issue_col = FIRST_RUN + 40 * RUN_EVERY + int(LATENCY)
    issue = np.array([issue_col])
    before = wx.predict(with_feed, issue, LEADS)
    usable = runs.run_times + pd.Timedelta(hours=LATENCY)
    later = np.asarray(usable > panel.times[issue_col])
    assert later.any() and (~later).any()
    changed = {k: v.copy() for k, v in runs.values.items()}
    for v in changed.values():
        v[later] = 1e4
    after = wx.predict(with_weather_forecast(panel, replace(runs, values=changed)), issue, LEADS)
    np.testing.assert_array_equal(before.mean, after.mean)
    np.testing.assert_array_equal(before.quantiles, after.quantiles)
    # the visible run is read (the check above is not vacuous)
    newest = np.flatnonzero(~later)[-1]
    seen = {k: v.copy() for k, v in runs.values.items()}
    for v in seen.values():
        v[newest] *= 1.5
    moved = wx.predict(with_weather_forecast(panel, replace(runs, values=seen)), issue, LEADS)
    assert not np.allclose(before.mean, moved.mean)


def test_model_without_feed_is_unchanged(world):
    panel, runs, with_feed, wx, plain = world
    ref = plain.predict(panel, TEST_ISSUES, LEADS)
    # a feed attached to the panel is ignored by a model trained without one
    on_feed = plain.predict(with_feed, TEST_ISSUES, LEADS)
    np.testing.assert_array_equal(ref.mean, on_feed.mean)
    np.testing.assert_array_equal(ref.quantiles, on_feed.quantiles)
    # switching the feed off trains exactly the model trained on a panel without a feed
    off = create_forecaster("stgnn", "pm25", **{**PARAMS, "weather_forecast": False}).fit(
        with_feed, panel.times[TRAIN_END]
    )
    assert off.weather_feed_ is None
    np.testing.assert_array_equal(ref.mean, off.predict(panel, TEST_ISSUES, LEADS).mean)
    assert off.history_ == plain.history_
    # a model pickled before the weather-forecast change (no such attributes) still predicts
    old = copy.deepcopy(plain)
    for a in ("weather_feed_", "weather_variables_", "weather_synthetic_"):
        delattr(old, a)
    del old.net_.n_lead_channels
    np.testing.assert_array_equal(ref.mean, old.predict(panel, TEST_ISSUES, LEADS).mean)
