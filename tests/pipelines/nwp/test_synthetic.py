"""Synthetic NWP feed: deterministic GRIB2 + CF netCDF from a station store, read by the adapters."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from qy_helpers import write_network

from pipelines.config import load_network, load_variables
from pipelines.ingest import ingest
from pipelines.nwp.synthetic import (
    FIELDS,
    GRIB_CENTRE,
    GRIB_GENERATING_PROCESS,
    SOURCE,
    SyntheticSpec,
    ensure_synthetic_feed,
    issue_times,
    observed_weather,
    observed_weather_from_store,
    synthetic_grid,
)
from pipelines.store import StationStore

eccodes = pytest.importorskip("eccodes")

NET = """
name: metnet
title: met test network
kind: air
time_zone: Asia/Shanghai
time_label: interval_end
frequency: 1h
sources:
  - adapter: column_table
    files: ["data/met.csv"]
    time_column: time
    station_column: site
    columns:
      TEMP: {variable: air_temperature, units: degC}
      PRES: {variable: air_pressure, units: hPa}
      DEWP: {variable: dew_point_temperature, units: degC}
      RAIN: {variable: precipitation, units: mm}
      wd: {variable: wind_from_direction, units: degree, value_map: compass16}
      WSPM: {variable: wind_speed, units: m s-1}
stations:
  - {id: A, name: Station A, lat: 39.90, lon: 116.40}
  - {id: B, name: Station B, lat: 40.35, lon: 116.40}
  - {id: C, name: Station C, lat: 39.90, lon: 116.99}
"""
COMPASS = "N NNE NE ENE E ESE SE SSE S SSW SW WSW W WNW NW NNW".split()
ISSUES = pd.DatetimeIndex(["2016-12-02 00:00", "2016-12-02 12:00"])
SPEC = SyntheticSpec(max_step_h=6)
#: SHA-256 of the two GRIB2 runs (2016120200 then 2016120212), eccodes 2.50 / numpy 2 (PCG64).
#: A change means the feed is no longer identical to the one of this environment: if only the
#: eccodes packing changed, GRIB_VALUES_SHA256 (decoded values rounded) still holds.
GRIB_SHA256 = "119c004fa3b9d1af386efbb2095d7b6bf055cada43ae9ff21c57c6cf61b8c063"
#: SHA-256 of the decoded GRIB2 values rounded to 2 decimals, with shortName and step.
GRIB_VALUES_SHA256 = "ed830b1e8124f5035da17805870beab2b0893606bf79c52af96a0a021d44264d"


def _csv(path) -> None:
    rows = []
    times = pd.date_range("2016-12-01 09:00", periods=24 * 4, freq="h")  # local time
    for j, s in enumerate("ABC"):
        for i, t in enumerate(times):
            temp = -2.0 + 5.0 * np.sin(2 * np.pi * (i - 6) / 24) + 0.3 * j
            pres = 1020.0 - 0.1 * i + j
            rain = 0.8 if 30 <= i < 34 else 0.0
            wd = "CV" if i % 17 == 0 else COMPASS[(i + 3 * j) % 16]
            ws = 0.3 if wd == "CV" else 1.0 + (i % 5) * 0.6
            rows.append(
                f"{t:%Y-%m-%d %H:%M},{s},{temp:.1f},{pres:.1f},{temp - 6:.1f},{rain:.1f},{wd},{ws:.1f}"
            )
    path.write_text("time,site,TEMP,PRES,DEWP,RAIN,wd,WSPM\n" + "\n".join(rows) + "\n")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("synth")
    (tmp / "data").mkdir()
    _csv(tmp / "data" / "met.csv")
    net_path = write_network(tmp, NET, name="metnet")
    ingest(str(net_path), tmp / "store", now=pd.Timestamp("2017-01-01", tz="UTC"))
    net = load_network(str(net_path))
    return StationStore(tmp / "store", net, load_variables()["variables"])


def _generate(store, folder):
    obs = observed_weather_from_store(store)
    return ensure_synthetic_feed(obs, folder, issues=ISSUES, spec=SPEC)


def _decoded_sha(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while (g := eccodes.codes_grib_new_from_file(fh)) is not None:
            try:
                h.update(
                    f"{eccodes.codes_get(g, 'shortName')}|{eccodes.codes_get(g, 'stepRange')}|".encode()
                )
                h.update(np.round(eccodes.codes_get_values(g), 2).astype("<f8").tobytes())
            finally:
                eccodes.codes_release(g)
    return h.hexdigest()


def test_files_are_deterministic_and_hashed(store, tmp_path):
    a = _generate(store, tmp_path / "a")
    b = _generate(store, tmp_path / "b")
    assert list(a) == list(ISSUES)
    for t in ISSUES:
        for fmt in ("grib2", "netcdf"):
            assert a[t][fmt].read_bytes() == b[t][fmt].read_bytes(), (t, fmt)
    raw = hashlib.sha256(b"".join(a[t]["grib2"].read_bytes() for t in ISSUES)).hexdigest()
    values = hashlib.sha256(
        "".join(_decoded_sha(a[t]["grib2"]) for t in ISSUES).encode()
    ).hexdigest()
    assert values == GRIB_VALUES_SHA256, "the decoded synthetic feed changed (errors or truth)"
    assert raw == GRIB_SHA256, "same values, different GRIB2 bytes: the eccodes encoding changed"


def test_grib_metadata_marks_the_feed_synthetic(store, tmp_path):
    run = _generate(store, tmp_path)[ISSUES[1]]["grib2"]
    seen = []
    with open(run, "rb") as fh:
        while (g := eccodes.codes_grib_new_from_file(fh)) is not None:
            try:
                assert eccodes.codes_get(g, "edition") == 2
                assert eccodes.codes_get(g, "centre", ktype=int) == GRIB_CENTRE
                assert (
                    eccodes.codes_get(g, "generatingProcessIdentifier") == GRIB_GENERATING_PROCESS
                )
                assert eccodes.codes_get(g, "dataDate") == 20161202
                assert eccodes.codes_get(g, "dataTime") == 1200
                assert eccodes.codes_get(g, "gridType") == "regular_ll"
                seen.append((eccodes.codes_get(g, "shortName"), eccodes.codes_get(g, "endStep")))
            finally:
                eccodes.codes_release(g)
    shorts = [s for _, s, _ in FIELDS]
    assert sorted(seen) == sorted((s, k) for s in shorts for k in range(SPEC.max_step_h + 1))


def test_netcdf_is_cf_and_marked(store, tmp_path):
    run = _generate(store, tmp_path)[ISSUES[0]]["netcdf"]
    with xr.open_dataset(run) as ds:
        assert ds.attrs["source"] == SOURCE
        assert "history" not in ds.attrs and "date_created" not in ds.attrs
        assert ds["time"].attrs["standard_name"] == "forecast_reference_time"
        assert ds["step"].attrs["standard_name"] == "forecast_period"
        assert ds["step"].attrs["units"] == "hours"
        assert pd.Timestamp(ds["time"].values[0]) == ISSUES[0]
        assert float(ds["air_temperature"]["height"]) == 2.0
        for _, _, std in FIELDS:
            assert ds[std].attrs["standard_name"] == std
            assert ds[std].dims == ("time", "step", "latitude", "longitude")
        tp = ds["precipitation_amount"].values[0]
        assert np.all(np.diff(tp, axis=0) >= -1e-6)  # accumulated from the run start
        assert np.all(tp[0] == 0)


def test_adapters_read_the_feed_and_agree(store, tmp_path):
    from pipelines.nwp.cf_netcdf import read_cf_netcdf
    from pipelines.nwp.grib import read_grib

    paths = _generate(store, tmp_path)[ISSUES[0]]
    g = read_grib(paths["grib2"], step_hours=1)[0]
    n = read_cf_netcdf(paths["netcdf"], step_hours=1)[0]
    assert g.issue_time == n.issue_time == ISSUES[0]
    np.testing.assert_array_equal(g.steps, np.arange(SPEC.max_step_h + 1))
    np.testing.assert_allclose(g.lat, n.lat)
    for var in g.fields:
        tol = 1.0 if var == "boundary_layer_height" else 0.02
        np.testing.assert_allclose(g.fields[var], n.fields[var], atol=tol, err_msg=var)
    # the grid covers the network with the margin
    obs = observed_weather_from_store(store)
    glat, glon = synthetic_grid(obs.lat, obs.lon, spec=SPEC)
    assert (
        glat[0] <= obs.lat.min() - SPEC.margin_deg and glat[-1] >= obs.lat.max() + SPEC.margin_deg
    )
    assert (
        glon[0] <= obs.lon.min() - SPEC.margin_deg and glon[-1] >= obs.lon.max() + SPEC.margin_deg
    )


def test_forecast_is_near_the_truth(store, tmp_path):
    """Step 0 at the grid node nearest station A is within a few analysis-error sizes."""
    obs = observed_weather_from_store(store)
    paths = _generate(store, tmp_path)[ISSUES[0]]
    with xr.open_dataset(paths["netcdf"]) as ds:
        t2m = ds["air_temperature"].sel(latitude=39.9, longitude=116.4, method="nearest").values[0]
    k = obs.times.get_loc(ISSUES[0])
    truth = obs.values["air_temperature"][0, k] + 273.15
    assert abs(t2m[0] - truth) < 5.0


def test_cache_is_reused_and_guarded(store, tmp_path):
    first = _generate(store, tmp_path)
    stamp = {t: p["grib2"].stat().st_mtime_ns for t, p in first.items()}
    again = _generate(store, tmp_path)
    assert {t: p["grib2"].stat().st_mtime_ns for t, p in again.items()} == stamp
    manifest = json.loads((tmp_path / "synthetic.json").read_text())
    assert manifest["source"] == SOURCE and manifest["spec"]["seed"] == SPEC.seed
    obs = observed_weather_from_store(store)
    with pytest.raises(ValueError, match="other settings"):
        ensure_synthetic_feed(
            obs, tmp_path, issues=ISSUES, spec=SyntheticSpec(seed=1, max_step_h=6)
        )


def test_issue_times():
    got = issue_times("2016-12-01 05:00", "2016-12-02 12:00")
    assert list(got) == list(
        pd.DatetimeIndex(["2016-12-01 12:00", "2016-12-02 00:00", "2016-12-02 12:00"])
    )


def test_bad_store_is_named(store):
    ds = store.open()
    with pytest.raises(ValueError, match="dew_point_temperature"):
        observed_weather(ds.drop_vars("dew_point_temperature"), valid_statuses=["N"])
    with pytest.raises(ValueError, match="hourly"):
        observed_weather(ds.isel(time=slice(None, None, 3)), valid_statuses=["N"])
