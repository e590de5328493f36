"""Driver attribution of the LightGBM forecaster: exact decomposition, sensible groups."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import models.forecast.lgbm  # noqa: F401
from features.forecast_features import Panel
from features.units import pollutants
from models.forecast.base import create_forecaster
from models.forecast.drivers import GROUPS, driver_group, summarise_drivers
from pipelines.config import load_variables

AIR = pollutants(load_variables())


def test_feature_names_map_to_groups():
    assert set(AIR) == {"pm25", "pm10", "so2", "no2", "co", "o3"}
    assert driver_group("pm25_lag0", "pm25", AIR) == "local"
    assert driver_group("no2_mean24", "pm25", AIR) == "local"
    assert driver_group("co_max24", "pm25", AIR) == "local"
    assert driver_group("air_temperature_mean24", "pm25", AIR) == "meteorology"
    assert driver_group("wind_u_lag0", "pm25", AIR) == "meteorology"
    assert driver_group("pm25_others_mean24", "pm25", AIR) == "regional"
    assert driver_group("pm25_minus_others", "pm25", AIR) == "regional"
    assert driver_group("hour_sin", "pm25", AIR) == "calendar"
    # the pollutant list is the one passed in (the registry's), not a list of its own
    assert driver_group("no2_mean24", "pm25", ("pm25",)) == "meteorology"


def _panel(T=24 * 160, S=3, seed=2):
    rng = np.random.default_rng(seed)
    times = pd.date_range("2015-01-01", periods=T, freq="h")
    hum = 50 + 30 * np.sin(np.arange(T) / 5.0)[None].repeat(S, 0) + rng.normal(0, 3, (S, T))
    y = np.zeros((S, T))
    a = np.zeros(S)
    for i in range(T):
        a = 0.95 * a + rng.normal(0, 5, S)
        y[:, i] = 40 + 0.8 * hum[:, i] + a  # humid hours are polluted: meteorology matters
    return Panel(
        [f"S{i}" for i in range(S)],
        times,
        {"pm25": np.maximum(y, 1), "relative_humidity": hum},
        np.zeros(S),
        np.zeros(S),
        "UTC",
    )


@pytest.mark.parametrize("anchor", ["climatology", "recent"])
def test_groups_sum_to_the_forecast_minus_climatology(anchor):
    p = _panel()
    m = create_forecaster(
        "lightgbm",
        "pm25",
        features={"covariates": ["relative_humidity"], "neighbours": True},
        issue_stride=2,
        max_lead=24,
        lgbm={"n_estimators": 100},
        anchor=anchor,
    ).fit(p, p.times[24 * 140])
    assert m.anchor_ == anchor
    issue = np.arange(24 * 142, 24 * 158, 12)
    leads = np.arange(1, 25)
    fc = m.predict(p, issue, leads)
    d = m.drivers(p, issue, leads, pollutants=AIR)
    assert d.shape == (3, len(issue), 24, len(GROUPS))
    rows, names = m._rows(p, issue, leads)
    recon = rows[..., names.index("climatology")] + d.sum(-1)
    assert np.allclose(recon[fc.mean > 0], fc.mean[fc.mean > 0], atol=1e-6)
    summary = summarise_drivers(d[:, :, 12:])
    shares = {g["driver"]: g["share"] for g in summary}
    assert abs(sum(shares.values()) - 1) < 1e-2
    assert shares["meteorology"] > 0.05  # humidity drives this synthetic pollution


def test_a_station_mask_explains_only_those_stations_and_gives_their_full_values():
    p = _panel()
    m = create_forecaster(
        "lightgbm", "pm25", issue_stride=4, max_lead=12, lgbm={"n_estimators": 30}
    ).fit(p, p.times[24 * 140])
    issue, leads = np.array([24 * 150]), np.arange(1, 13)
    full = m.drivers(p, issue, leads, pollutants=AIR)
    mask = np.array([True, False, True])
    part = m.drivers(p, issue, leads, pollutants=AIR, stations=mask)
    assert np.array_equal(part[mask], full[mask])
    assert np.isnan(part[~mask]).all()
    none = m.drivers(p, issue, leads, pollutants=AIR, stations=np.zeros(3, bool))
    assert none.shape == full.shape and np.isnan(none).all()


def test_explained_stations_by_mode_and_threshold():
    from pipelines.forecast.jobs import explained_stations

    frame = pd.DataFrame(
        {
            "station": ["b", "b", "a", "a", "c", "c"],
            "lead": [1, 2] * 3,
            "mean": [10.0, 20.0, 100.0, 140.0, 5.0, np.nan],
            "q0.1": [5.0, 10.0, 80.0, 100.0, 1.0, np.nan],
            "q0.9": [15.0, 30.0, 120.0, 160.0, 9.0, np.nan],
        }
    )
    mask, scope = explained_stations(frame, "pm25", "at_risk", {"pm25": 150.0})
    assert mask.tolist() == [False, True, False]  # frame order b, a, c; only a reaches 150 (q0.9)
    assert scope.startswith("at_risk: 1 of 3 stations") and "q0.9" in scope
    assert explained_stations(frame, "pm25", "all", {"pm25": 150.0})[0] is None
    mask, scope = explained_stations(frame, "o3", "at_risk", {"pm25": 150.0})
    assert mask is None and "no threshold" in scope  # no threshold: every station
    mask, scope = explained_stations(frame, "pm25", "none", {})
    assert not mask.any() and scope == "none"
