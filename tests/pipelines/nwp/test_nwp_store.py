"""NWP feeds end to end: a real GRIB2 (eccodes), a CF netCDF and a CSV point table -> store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from pipelines.config import load_network
from pipelines.errors import SourceError
from pipelines.nwp.store import (
    ingest_nwp,
    list_runs,
    runs_visible_at,
    valid_time_features,
)

eccodes = pytest.importorskip("eccodes")

NOW = pd.Timestamp("2017-01-01")
LAT = np.array([41.0, 40.5, 40.0, 39.5, 39.0])  # north to south, as GRIB scans
LON = np.array([115.5, 116.0, 116.5, 117.0])
STATIONS = [("A", 39.8673, 116.366), ("B", 40.2865, 116.170), ("C", 40.3937, 116.644)]


def field(kind: str, step: int, issue_h: int = 0) -> np.ndarray:
    """Linear in lat/lon, so bilinear interpolation is exact."""
    la, lo = np.meshgrid(LAT, LON, indexing="ij")
    base = {
        "2t": 270.0,
        "2d": 260.0,
        "10u": 1.0,
        "10v": -1.0,
        "sp": 100000.0,
        "blh": 500.0,
        "msl": 1e5,
    }
    if kind == "tp":
        return 0.5 * step * (1 + 0.1 * (la - 39))  # accumulated kg m-2
    return base[kind] + 0.1 * step + issue_h + 2.0 * (la - 39) - 1.5 * (lo - 116)


def analytic(kind: str, lat: float, lon: float, step: int, issue_h: int = 0) -> float:
    base = {"2t": 270.0, "2d": 260.0, "10u": 1.0, "10v": -1.0, "sp": 100000.0, "blh": 500.0}
    return base[kind] + 0.1 * step + issue_h + 2.0 * (lat - 39) - 1.5 * (lon - 116)


def write_grib(
    path: Path,
    issue: pd.Timestamp,
    steps=range(0, 7),
    *,
    short_names=None,
    lat=LAT,
    issue_h: int = 0,
) -> None:
    names = short_names or ["2t", "2d", "10u", "10v", "sp", "tp", "blh"]
    with open(path, "wb") as fh:
        for sn in names:
            for step in steps:
                h = eccodes.codes_grib_new_from_samples("regular_ll_sfc_grib2")
                if sn == "tp":
                    eccodes.codes_set(h, "productDefinitionTemplateNumber", 8)
                eccodes.codes_set_key_vals(
                    h,
                    {
                        "Ni": LON.size,
                        "Nj": lat.size,
                        "latitudeOfFirstGridPointInDegrees": float(lat[0]),
                        "latitudeOfLastGridPointInDegrees": float(lat[-1]),
                        "longitudeOfFirstGridPointInDegrees": float(LON[0]),
                        "longitudeOfLastGridPointInDegrees": float(LON[-1]),
                        "iDirectionIncrementInDegrees": 0.5,
                        "jDirectionIncrementInDegrees": 0.5,
                    },
                )
                eccodes.codes_set(h, "dataDate", int(f"{issue:%Y%m%d}"))
                eccodes.codes_set(h, "dataTime", int(f"{issue:%H%M}"))
                if sn == "tp":
                    eccodes.codes_set(h, "paramId", 228228)  # tp in kg m-2
                else:
                    eccodes.codes_set(h, "shortName", sn)
                if sn == "tp":
                    eccodes.codes_set(h, "startStep", 0)
                    eccodes.codes_set(h, "endStep", step)
                else:
                    eccodes.codes_set(h, "step", step)
                vals = field(sn, step, issue_h)
                if lat is not LAT:
                    vals = np.zeros((lat.size, LON.size))
                eccodes.codes_set_values(h, vals.ravel())
                eccodes.codes_write(h, fh)
                eccodes.codes_release(h)


def write_network(tmp: Path, feeds: str) -> Path:
    st = "\n".join(f"  - {{id: {i}, lat: {a}, lon: {o}}}" for i, a, o in STATIONS)
    text = f"""name: testnet
kind: air
time_zone: Asia/Shanghai
time_label: interval_end
frequency: 1h
sources: []
weather_forecasts:
{feeds}
stations:
{st}
"""
    p = tmp / "testnet.yml"
    p.write_text(text)
    return p


GRIB_FEED = (
    """  - {name: ecm, format: grib2, files: ["nwp/*.grib2"], latency_hours: 6, step_hours: 1}"""
)


def test_bundled_beijing_feed_is_the_marked_synthetic_one():
    net = load_network("beijing")
    feed = net.weather_feed()
    assert feed.name == "synthetic-nwp" and feed.synthetic is not None and feed.files == []
    assert net.forecast_weather.fallback in ("refuse", "no_weather")


def test_grib_to_store_exact_and_idempotent(tmp_path):
    (tmp_path / "nwp").mkdir()
    issue = pd.Timestamp("2016-12-15 12:00")
    write_grib(tmp_path / "nwp" / "run.grib2", issue)
    net = load_network(str(write_network(tmp_path, GRIB_FEED)))
    out = ingest_nwp(net, tmp_path / "store", now=NOW)
    (path,) = out["ecm"]
    assert path.name == "ecm_20161215T1200Z.nc"
    first = path.read_bytes()
    with xr.open_dataset(path) as ds:
        assert ds["air_temperature"].dims == ("station", "lead_time")
        assert ds["air_temperature"].attrs["units"] == "degC"
        assert ds["forecast_period"].attrs["standard_name"] == "forecast_period"
        assert pd.Timestamp(ds["forecast_reference_time"].values) == issue
        assert ds.attrs["nwp_issue_time"] == "2016-12-15T12:00:00Z"
        for k, (_, la, lo) in enumerate(STATIONS):
            for step in (0, 3, 6):
                want = analytic("2t", la, lo, step) - 273.15
                assert ds["air_temperature"].values[k, step] == pytest.approx(want, abs=1e-3)
            assert ds["air_pressure"].values[k, 0] == pytest.approx(
                analytic("sp", la, lo, 0) / 100, abs=1e-2
            )
            pr = ds["precipitation"].values[k]
            assert np.isnan(pr[0])
            assert pr[1] == pytest.approx(0.5 * (1 + 0.1 * (la - 39)), abs=1e-3)
        assert "boundary_layer_height" in ds and "eastward_wind" in ds
    ingest_nwp(net, tmp_path / "store", now=NOW)
    assert path.read_bytes() == first


def test_netcdf_and_points_to_store(tmp_path):
    (tmp_path / "nwp").mkdir()
    issues = pd.DatetimeIndex(["2016-12-15 00:00", "2016-12-15 12:00"])
    steps = np.arange(0, 5)
    la, lo = np.meshgrid(LAT, LON, indexing="ij")
    t2 = 270.0 + 2.0 * (la - 39) - 1.5 * (lo - 116)
    arr = np.broadcast_to(t2, (2, steps.size, *t2.shape)).copy()
    ds = xr.Dataset(
        {
            "t2m": (
                ("time", "step", "latitude", "longitude"),
                arr,
                {"standard_name": "air_temperature", "units": "K"},
            ),
            "tp": (
                ("time", "step", "latitude", "longitude"),
                np.broadcast_to(steps[None, :, None, None] * 1e-3, arr.shape).copy(),
                {"standard_name": "precipitation_amount", "units": "m"},
            ),
        },
        coords={
            "time": ("time", issues.values, {"standard_name": "forecast_reference_time"}),
            "step": ("step", steps, {"units": "hours", "standard_name": "forecast_period"}),
            "latitude": LAT,
            "longitude": LON,
            "height": ((), 2.0, {"units": "m"}),
        },
    )
    ds.to_netcdf(tmp_path / "nwp" / "cf.nc")
    rows = []
    for sid, *_ in STATIONS:
        for h in range(3):
            rows.append(
                {
                    "station": sid,
                    "issue_time": "2016-12-15T00:00Z",
                    "valid_time": f"2016-12-15T{h:02d}:00Z",
                    "wind_speed": 3.6 * (h + 1),
                }
            )
    pd.DataFrame(rows).to_csv(tmp_path / "nwp" / "pts.csv", index=False)
    feeds = """  - {name: cf, format: netcdf, files: ["nwp/cf.nc"], latency_hours: 3}
  - name: pts
    format: points
    files: ["nwp/pts.csv"]
    columns: {wind_speed: km h-1}"""
    net = load_network(str(write_network(tmp_path, feeds)))
    out = ingest_nwp(net, tmp_path / "store", now=NOW)
    assert len(out["cf"]) == 2 and len(out["pts"]) == 1
    store = tmp_path / "store" / "testnet"
    run = runs_visible_at(store, "cf", "2016-12-15 14:00", 3)
    assert pd.Timestamp(run["forecast_reference_time"].values) == issues[0]
    for k, (_, a, o) in enumerate(STATIONS):
        assert run["air_temperature"].values[k, 2] == pytest.approx(
            270 + 2 * (a - 39) - 1.5 * (o - 116) - 273.15, abs=1e-3
        )
    np.testing.assert_allclose(run["precipitation"].values[0, 1:], 1.0, atol=1e-4)
    pts = runs_visible_at(store, "pts", "2016-12-15 00:00", 0)
    np.testing.assert_allclose(pts["wind_speed"].values[1], [1.0, 2.0, 3.0], atol=1e-5)


def test_leak_safety_later_runs_do_not_matter(tmp_path):
    (tmp_path / "nwp").mkdir()
    for h in (0, 6, 12, 18):
        issue = pd.Timestamp("2016-12-15") + pd.Timedelta(hours=h)
        write_grib(
            tmp_path / "nwp" / f"r{h:02d}.grib2",
            issue,
            steps=range(0, 13),
            short_names=["2t"],
            issue_h=0,
        )
    net = load_network(str(write_network(tmp_path, GRIB_FEED)))
    ingest_nwp(net, tmp_path / "store", now=NOW)
    store = tmp_path / "store" / "testnet"
    assert len(list_runs(store, "ecm")) == 4
    T = pd.Timestamp("2016-12-15 13:00")  # latency 6 h: run 06 visible, 12 not
    base = valid_time_features(store, "ecm", T, [1, 3, 6, 12], latency_hours=6)
    assert base.run_issue_time == pd.Timestamp("2016-12-15 06:00")
    # lead 1 at T = 14:00 -> period 8 h of run 06; lead 12 -> period 19 h: beyond the run
    assert base.data["air_temperature"].values[0, 0] == pytest.approx(
        analytic("2t", *STATIONS[0][1:], 8) - 273.15, abs=1e-3
    )
    assert np.isnan(base.data["air_temperature"].values[:, 3]).all()
    assert "no forecast period 19" in base.missing[12]
    for h in (12, 18):  # perturb every run issued after T - latency
        issue = pd.Timestamp("2016-12-15") + pd.Timedelta(hours=h)
        write_grib(
            tmp_path / "nwp" / f"r{h:02d}.grib2",
            issue,
            steps=range(0, 13),
            short_names=["2t"],
            issue_h=50,
        )
    ingest_nwp(net, tmp_path / "store", now=NOW)
    again = valid_time_features(store, "ecm", T, [1, 3, 6, 12], latency_hours=6)
    xr.testing.assert_identical(base.data, again.data)
    assert again.missing == base.missing
    none = valid_time_features(
        store,
        "ecm",
        "2016-12-15 05:00",
        [1],
        latency_hours=6,
        variables=["air_temperature"],
        stations=["A"],
    )
    assert none.run_issue_time is None and "no run" in none.missing[1]


@pytest.mark.parametrize("case", ["unknown", "grid", "steps", "future", "units"])
def test_bad_input_names_file_and_keeps_store(tmp_path, case):
    (tmp_path / "nwp").mkdir()
    good = pd.Timestamp("2016-12-15 00:00")
    write_grib(tmp_path / "nwp" / "a_good.grib2", good, steps=range(3), short_names=["2t"])
    net = load_network(str(write_network(tmp_path, GRIB_FEED)))
    ingest_nwp(net, tmp_path / "store", now=NOW)
    stored = {p: p.read_bytes() for p in (tmp_path / "store").rglob("*.nc")}
    bad = tmp_path / "nwp" / "b_bad.grib2"
    issue = pd.Timestamp("2016-12-16 00:00")
    if case == "unknown":
        write_grib(bad, issue, steps=range(3), short_names=["2t", "msl"])
        match = "unknown variable 'msl'"
    elif case == "grid":
        write_grib(bad, issue, steps=range(3), short_names=["2t"], lat=np.array([45.0, 44.5]))
        match = "does not cover station"
    elif case == "steps":
        write_grib(bad, issue, steps=[0, 1, 3], short_names=["2t"])
        match = "missing step"
    elif case == "future":
        write_grib(bad, pd.Timestamp("2017-02-01"), steps=range(3), short_names=["2t"])
        match = "in the future"
    else:
        (tmp_path / "nwp" / "b_bad.grib2").write_bytes(b"")
        feeds = """  - {name: ecm, format: netcdf, files: ["nwp/c.nc"]}"""
        xr.Dataset(
            {
                "t": (
                    ("time", "step", "latitude", "longitude"),
                    np.zeros((1, 1, 2, 2)),
                    {"standard_name": "air_temperature", "units": "m s-1"},
                )
            },
            coords={
                "time": [issue],
                "step": [0],
                "latitude": [39.0, 41.0],
                "longitude": [115.0, 117.0],
            },
        ).to_netcdf(tmp_path / "nwp" / "c.nc")
        net = load_network(str(write_network(tmp_path, feeds)))
        bad = tmp_path / "nwp" / "c.nc"
        match = "do not convert"
    with pytest.raises(SourceError, match=match) as err:
        ingest_nwp(net, tmp_path / "store", now=NOW)
    assert Path(err.value.file).name == bad.name
    assert {p: p.read_bytes() for p in (tmp_path / "store").rglob("*.nc")} == stored


def test_points_json_nearest(tmp_path):
    import json

    (tmp_path / "nwp").mkdir()
    recs = [
        {
            "station": "54511",
            "lat": 39.8,
            "lon": 116.47,
            "issue_time": "2016-12-15T00:00Z",
            "valid_time": "2016-12-15T01:00Z",
            "air_temperature": 271.15,
        },
        {
            "station": "54406",
            "lat": 40.4,
            "lon": 116.3,
            "issue_time": "2016-12-15T00:00Z",
            "valid_time": "2016-12-15T01:00Z",
            "air_temperature": 265.15,
        },
    ]
    (tmp_path / "nwp" / "p.json").write_text(json.dumps({"forecasts": recs}))
    feeds = (
        """  - {name: pj, format: points, files: ["nwp/p.json"], columns: {air_temperature: K}}"""
    )
    net = load_network(str(write_network(tmp_path, feeds)))
    ingest_nwp(net, tmp_path / "store", now=NOW)
    run = runs_visible_at(tmp_path / "store" / "testnet", "pj", "2016-12-15", 0)
    np.testing.assert_allclose(run["air_temperature"].values[:, 0], [-2.0, -8.0, -8.0], atol=1e-4)
    assert run.attrs["interpolation"] == "nearest"


def test_feed_config_errors(tmp_path):
    from pipelines.errors import ConfigError

    bad = """  - {name: p, format: points, files: ["x.csv"], columns: {air_temperature: m s-1}}"""
    with pytest.raises(ConfigError, match="weather_forecasts.0.columns.air_temperature"):
        load_network(str(write_network(tmp_path, bad)))
    bad = """  - {name: p, format: gribby, files: ["x"]}"""
    with pytest.raises(ConfigError, match="weather_forecasts.0.format"):
        load_network(str(write_network(tmp_path, bad)))


@pytest.mark.parametrize("case", ["duplicate", "not_a_number", "empty"])
def test_point_table_bad_rows_are_named(tmp_path, case):
    from pipelines.nwp.points import read_points

    (tmp_path / "nwp").mkdir()
    rows = [
        f"{sid},2016-12-15T00:00Z,2016-12-15T{h:02d}:00Z,{h + 1}"
        for sid, *_ in STATIONS
        for h in range(2)
    ]
    if case == "duplicate":
        rows.append(rows[0].rsplit(",", 1)[0] + ",9")
    if case == "not_a_number":
        rows[1] = rows[1].rsplit(",", 1)[0] + ",calm"
    text = "station,issue_time,valid_time,wind_speed\n" + "\n".join(rows) + "\n"
    path = tmp_path / "nwp" / "pts.csv"
    path.write_text("" if case == "empty" else text)
    feeds = """  - name: pts
    format: points
    files: ["nwp/pts.csv"]
    columns: {wind_speed: m s-1}"""
    net = load_network(str(write_network(tmp_path, feeds)))
    with pytest.raises(SourceError) as err:
        read_points(path, network=net, feed=net.weather_forecasts[0], now=NOW)
    msg = str(err.value)
    assert str(path) in msg
    if case == "duplicate":
        assert "given twice" in msg and f":{len(rows) + 1}" in msg
    elif case == "not_a_number":
        assert "'calm' is not a number" in msg and ":3" in msg and "wind_speed" in msg
    else:
        assert "not a readable point table" in msg
    assert not (tmp_path / "store").exists()
