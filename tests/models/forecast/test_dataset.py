"""The one forecast-dataset layout: builder, frames of the deployed models, layout check."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from models.forecast.base import Forecast
from models.forecast.dataset import (
    forecast_attrs,
    forecast_dataset,
    forecasts_from_frames,
    layout_problem,
    missing_parts,
    targets_of,
)
from models.forecast.drivers import GROUPS

LEVELS = (0.1, 0.5, 0.9)
REG = {
    "pm25": {
        "units": "ug m-3",
        "long_name": "PM2.5",
        "standard_name": "mass_concentration_of_pm2p5",
    },
    "o3": {"units": "ug m-3", "long_name": "ozone"},
}


def _forecast(S=2, N=1, L=4, value=10.0) -> Forecast:
    mean = np.full((S, N, L), value) + np.arange(L)
    return Forecast(mean, mean[..., None] * np.array([0.5, 1.0, 2.0]), LEVELS)


def test_builder_layout_attributes_and_dtype():
    fc = {"pm25": _forecast(), "o3": _forecast(value=50.0)}
    drivers = {"pm25": np.ones((2, 1, 4, len(GROUPS)))}
    prov = {t: {"model_uri": f"models:/n-{t}/1", "mlflow_run_id": f"r-{t}"} for t in fc}
    attrs = forecast_attrs(
        "net",
        issue=pd.Timestamp("2017-01-01 00:00"),
        cutoff=pd.Timestamp("2016-12-31 23:00"),
        provenance=prov,
        created="2017-01-01T00:05:00+00:00",
        history="qingyuan test forecast",
    )
    ds = forecast_dataset(
        fc,
        ["A", "B"],
        issue_times=[pd.Timestamp("2017-01-01")],
        leads=np.arange(1, 5),
        lat=[39.9, 40.0],
        lon=[116.3, 116.4],
        station_names=["Aa", "Bb"],
        variables=REG,
        provenance=prov,
        drivers=drivers,
        recent={"pm25": np.array([True, False])},
        attrs=attrs,
        dtype="float32",
    )
    assert list(ds.data_vars) == [
        "pm25_mean",
        "pm25_quantile",
        "pm25_drivers",
        "pm25_input_recent",
        "o3_mean",
        "o3_quantile",
        "o3_input_recent",
    ]
    assert ds["pm25_quantile"].dims == ("station", "issue_time", "lead_time", "quantile")
    assert ds["pm25_mean"].dtype == np.float32 and ds["lead_time"].dtype == np.int32
    assert ds["quantile"].values.tolist() == list(LEVELS)
    assert ds["driver"].values.tolist() == list(GROUPS)
    assert ds["pm25_input_recent"].values.tolist() == [1, 0]
    assert ds["o3_input_recent"].values.tolist() == [1, 1]  # absent from ``recent``: recent
    a = ds["pm25_mean"].attrs
    assert a["units"] == "ug m-3" and a["long_name"] == "forecast PM2.5"
    assert a["standard_name"] == "mass_concentration_of_pm2p5" and a["cell_methods"] == "time: mean"
    assert a["coordinates"] == "time lat lon station_name" and a["model_uri"] == "models:/n-pm25/1"
    assert "standard_name" not in ds["o3_quantile"].attrs
    assert ds["pm25_drivers"].attrs["drivers"] == ",".join(GROUPS)
    assert ds["station_name"].values.tolist() == ["Aa", "Bb"]
    assert ds.attrs["issue_time"] == "2017-01-01T00:00:00Z"
    assert json.loads(ds.attrs["mlflow_run_ids"]) == {"pm25": "r-pm25", "o3": "r-o3"}
    assert layout_problem(ds) is None and targets_of(ds) == ["pm25", "o3"]
    assert layout_problem(ds, variables=["pm25_drivers"]) is None


def test_minimal_dataset_keeps_the_values():
    fc = _forecast(N=3)
    issues = pd.date_range("2017-01-01", periods=3, freq="6h")
    ds = forecast_dataset({"pm25": fc}, ["A", "B"], issue_times=issues, leads=[1, 2, 3, 4])
    assert pd.DatetimeIndex(ds["issue_time"].values).equals(issues)
    assert ds["pm25_mean"].dtype == np.float64
    np.testing.assert_array_equal(ds["pm25_quantile"].values, fc.quantiles)
    assert "lat" not in ds.coords and "coordinates" not in ds["pm25_mean"].attrs
    assert "pm25_input_recent" not in ds and "driver" not in ds.coords
    assert layout_problem(ds) is None


def test_frames_of_the_deployed_models():
    rows = [
        {"station": s, "lead": h, "mean": 10 * i + h, "q0.1": h, "q0.5": 2 * h, "q0.9": 3 * h}
        for i, s in enumerate(["B", "A"])
        for h in (2, 1, 3)
    ]
    first = pd.DataFrame(rows)
    other = first[~((first["station"] == "A") & (first["lead"] == 3))]  # one row missing
    fcs, stations, leads = forecasts_from_frames({"pm25": first, "o3": other})
    assert stations == ["B", "A"] and leads.tolist() == [1, 2, 3]
    assert fcs["pm25"].mean.shape == (2, 1, 3) and fcs["pm25"].levels == (0.1, 0.5, 0.9)
    assert fcs["pm25"].mean[1, 0].tolist() == [11, 12, 13]
    assert fcs["pm25"].quantiles[0, 0, 2].tolist() == [3, 6, 9]
    assert np.isnan(fcs["o3"].mean[1, 0, 2]) and fcs["o3"].mean[1, 0, 1] == 12


@pytest.mark.parametrize(
    ("drop", "problem"),
    [
        ("quantile", "lacks ['quantile']"),
        ("pm25_quantile", "holds no pollutant forecast (no <pollutant>_quantile variable)"),
    ],
)
def test_layout_problems(drop, problem):
    ds = forecast_dataset(
        {"pm25": _forecast()}, ["A", "B"], issue_times=["2017-01-01"], leads=[1, 2, 3, 4]
    )
    ds = ds.drop_vars(drop)
    assert layout_problem(ds) == problem


def test_layout_of_the_variables_a_reader_needs():
    ds = forecast_dataset(
        {"pm25": _forecast()}, ["A", "B"], issue_times=["2017-01-01"], leads=[1, 2, 3, 4]
    )
    assert missing_parts(ds, variables=["pm25_drivers"]) == ["pm25_drivers"]
    assert layout_problem(ds, variables=["pm25_drivers"]) == "lacks ['pm25_drivers']"
    # a reader of the means needs no quantile coordinate
    means = ds.drop_vars(["pm25_quantile", "quantile"])
    assert layout_problem(means, variables=["pm25_mean"]) is None
    assert (
        layout_problem(means.drop_vars("lead_time"), variables=["pm25_mean"])
        == "lacks ['lead_time']"
    )
