"""Forecast features leak nothing: not from the future, not across stations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.forecast_features import FeatureSpec, Panel, issue_features, lead_rows, targets


def _panel(seed=0, S=3, T=400):
    rng = np.random.default_rng(seed)
    times = pd.date_range("2016-01-01", periods=T, freq="h")
    vals = {v: rng.gamma(2, 30, (S, T)) for v in ("pm25", "pm10", "air_pressure", "precipitation")}
    vals["pm25"][0, 100:110] = np.nan
    return Panel(
        [f"S{i}" for i in range(S)], times, vals, np.zeros(S), np.zeros(S), "Asia/Shanghai"
    )


SPEC = FeatureSpec(
    target="pm25",
    covariates=["pm10", "air_pressure"],
    tendencies=["air_pressure"],
    sums_24h=["precipitation"],
)


def test_future_values_do_not_change_features():
    p = _panel()
    issue = np.array([150, 200, 250])
    before, names = issue_features(p, SPEC, issue)
    for i, t in enumerate(issue):
        q = _panel()
        for v in q.values:
            q.values[v][:, t + 1 :] = 1e6  # rewrite everything after the issue time
        after, _ = issue_features(q, SPEC, issue)
        np.testing.assert_array_equal(before[:, i], after[:, i])
    assert "pm25_lag0" in names and "pm25_mean72" in names


def test_other_stations_only_enter_through_neighbour_features():
    p, q = _panel(), _panel()
    q.values["pm25"][1] += 500.0  # station 1 changes
    q.values["pm10"][1] += 500.0
    issue = np.arange(80, 390, 7)
    a, names = issue_features(p, SPEC, issue)
    b, _ = issue_features(q, SPEC, issue)
    own = [i for i, n in enumerate(names) if "others" not in n]
    np.testing.assert_array_equal(a[0][:, own], b[0][:, own])  # station 0's own features unchanged
    np.testing.assert_array_equal(a[2][:, own], b[2][:, own])
    assert not np.allclose(
        a[0][:, names.index("pm25_others_lag0")], b[0][:, names.index("pm25_others_lag0")]
    )


def test_rolling_windows_stop_at_the_issue_time():
    p = _panel()
    feats, names = issue_features(p, SPEC, np.array([300]))
    y = p.values["pm25"][2]
    assert feats[2, 0, names.index("pm25_mean6")] == pytest.approx(np.mean(y[295:301]))
    assert feats[2, 0, names.index("pm25_lag24")] == y[276]
    assert (
        feats[2, 0, names.index("air_pressure_tend24")]
        == p.values["air_pressure"][2, 300] - p.values["air_pressure"][2, 276]
    )


def test_targets_and_lead_rows_align():
    p = _panel()
    issue = np.array([100, 390])
    leads = np.array([1, 5, 20])
    y = targets(p, "pm25", issue, leads)
    assert y[1, 0, 1] == p.values["pm25"][1, 105]
    assert np.isnan(y[1, 1, 2])  # beyond the end of the data
    feats, names = issue_features(p, SPEC, issue)
    rows, all_names = lead_rows(feats, names, p, issue, leads, climatology=np.zeros((3, 24, 12)))
    assert rows.shape == (3, 2, 3, len(all_names))
    assert rows[0, 0, :, all_names.index("lead")].tolist() == [1, 5, 20]
    # calendar of the TARGET time: issue 100 h after 2016-01-01 00 UTC + 1 h = 13:00 Beijing time
    hour = np.arctan2(
        rows[0, 0, 0, all_names.index("hour_sin")], rows[0, 0, 0, all_names.index("hour_cos")]
    )
    assert round((hour / (2 * np.pi) * 24) % 24) == 13
