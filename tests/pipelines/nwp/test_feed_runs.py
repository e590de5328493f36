"""The stored feed as a cube: hourly periods from coarser steps, incremental ingest, nothing lost."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from pipelines.config import load_network
from pipelines.nwp.store import _hourly, ingest_nwp, load_feed_runs

LAT = np.array([39.5, 40.0, 40.5])
LON = np.array([116.0, 116.5, 117.0])
NOW = pd.Timestamp("2030-01-01")


def _network(tmp: Path, files: str = "nwp/*.nc", step: str = "") -> Path:
    text = f"""name: cubenet
kind: air
time_zone: Asia/Shanghai
time_label: interval_end
frequency: 1h
sources: []
weather_forecasts:
  - {{name: cf, format: netcdf, files: ["{files}"], latency_hours: 2{step}}}
forecast_weather: {{feed: cf, fallback: refuse}}
stations:
  - {{id: A, lat: 39.9, lon: 116.4}}
  - {{id: B, lat: 40.2, lon: 116.7}}
"""
    p = tmp / "cubenet.yml"
    p.write_text(text)
    return p


def _cf_file(path: Path, issue: str, steps, variables: dict[str, tuple[str, str, float]]) -> None:
    steps = np.asarray(steps)
    data = {}
    for name, (std, units, value) in variables.items():
        arr = np.full((1, steps.size, LAT.size, LON.size), value) + steps[None, :, None, None]
        data[name] = (("time", "step", "latitude", "longitude"), arr,
                      {"standard_name": std, "units": units})  # fmt: skip
    ds = xr.Dataset(
        data,
        coords={
            "time": ("time", [np.datetime64(issue)], {"standard_name": "forecast_reference_time"}),
            "step": ("step", steps, {"units": "hours", "standard_name": "forecast_period"}),
            "latitude": LAT,
            "longitude": LON,
        },
    )
    ds.to_netcdf(path)


def test_three_hourly_steps_become_hourly_periods(tmp_path):
    (tmp_path / "nwp").mkdir()
    _cf_file(tmp_path / "nwp" / "a.nc", "2016-12-15T00:00", [0, 3, 6],
             {"t2m": ("air_temperature", "K", 273.15)})  # fmt: skip
    net = load_network(str(_network(tmp_path)))
    ingest_nwp(net, tmp_path / "store", now=NOW)
    runs = load_feed_runs(tmp_path / "store" / "cubenet", net, net.weather_feed())
    t = runs.values["air_temperature"][0, 0]
    np.testing.assert_allclose(t, np.arange(7.0), atol=1e-4)  # linear between the steps
    assert runs.feed == "cf" and not runs.synthetic and runs.latency_hours == 2


def test_hourly_precipitation_spreads_each_step_amount():
    out = _hourly(np.array([[np.nan, 3.0, 6.0]]), np.array([0.0, 3.0, 6.0]), "precipitation", 7)
    np.testing.assert_allclose(out[0, 1:], [1, 1, 1, 2, 2, 2])
    assert np.isnan(out[0, 0])


def test_a_first_step_after_0_h_spreads_its_rain_from_0_h():
    out = _hourly(np.array([[3.0, 6.0, 9.0]]), np.array([3.0, 6.0, 9.0]), "precipitation", 10)
    np.testing.assert_allclose(out[0, 1:], [1, 1, 1, 2, 2, 2, 3, 3, 3])
    assert np.isnan(out[0, 0])


def test_issue_time_reads_only_the_newest_visible_run(tmp_path):
    (tmp_path / "nwp").mkdir()
    for i, issue in enumerate(["2016-12-15T00:00", "2016-12-15T12:00"]):
        _cf_file(tmp_path / "nwp" / f"{i}.nc", issue, [0, 1, 2],
                 {"t2m": ("air_temperature", "K", 273.15 + 100 * i)})  # fmt: skip
    net = load_network(str(_network(tmp_path)))
    ingest_nwp(net, tmp_path / "store", now=NOW)
    store = tmp_path / "store" / "cubenet"
    feed = net.weather_feed()
    r = load_feed_runs(store, net, feed, issue_time="2016-12-15 13:59")
    assert list(r.run_times) == [pd.Timestamp("2016-12-15 00:00")]
    r = load_feed_runs(store, net, feed, issue_time="2016-12-15 14:00")
    assert list(r.run_times) == [pd.Timestamp("2016-12-15 12:00")]
    assert load_feed_runs(store, net, feed, issue_time="2016-12-15 01:00") is None


def test_only_new_or_changed_files_are_read_and_a_part_keeps_the_rest(tmp_path):
    (tmp_path / "nwp").mkdir()
    issue = "2016-12-15T00:00"
    _cf_file(tmp_path / "nwp" / "t.nc", issue, [0, 1], {"t2m": ("air_temperature", "K", 273.15)})
    _cf_file(tmp_path / "nwp" / "p.nc", issue, [0, 1],
             {"sp": ("surface_air_pressure", "Pa", 100000.0)})  # fmt: skip
    net = load_network(str(_network(tmp_path)))
    first = ingest_nwp(net, tmp_path / "store", now=NOW)
    assert len(first["cf"]) == 1
    assert ingest_nwp(net, tmp_path / "store", now=NOW)["cf"] == []  # nothing new: nothing read
    # a corrected temperature file arrives alone: the stored pressure must survive
    _cf_file(tmp_path / "nwp" / "t.nc", issue, [0, 1], {"t2m": ("air_temperature", "K", 283.15)})
    os.utime(tmp_path / "nwp" / "t.nc", (1e9 + 5, 1e9 + 5))
    again = ingest_nwp(net, tmp_path / "store", now=NOW)
    (path,) = again["cf"]
    with xr.open_dataset(path) as ds:
        assert ds["air_temperature"].values[0, 0] == pytest.approx(10.0, abs=1e-4)
        assert ds["air_pressure"].values[0, 0] == pytest.approx(1000.0, abs=1e-3)
        assert set(ds.attrs["source_files"].split()) == {"t.nc", "p.nc"}
